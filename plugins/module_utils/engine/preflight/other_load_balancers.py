# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Other LoadBalancer implementations in a cluster, found from the objects they install.

Two implementations handling the same Services fight over ``status.loadBalancer.ingress`` and
answer ARP for the same addresses. Each signal below is an object that exists only when that
implementation is installed or active; none is guessed from names of things metal.lb itself
creates (metal.lb reads MetalLB's ``metallb.io`` objects, so those CRDs are never a signal).

Signals (``facts`` keys in brackets):
- K3s ServiceLB: a DaemonSet named ``svclb-*`` or labelled ``svccontroller.k3s.cattle.io/svcname``
  [daemonsets], or a pod with that label [pods]. A K3s node (annotation ``k3s.io/node-args``) whose
  arguments do not disable servicelb is only a note: ServiceLB acts on the next LoadBalancer Service.
- MetalLB: a Deployment or DaemonSet labelled ``app=metallb`` (its manifests) or
  ``app.kubernetes.io/name=metallb`` (its Helm chart) [deployments, daemonsets], or the webhook
  configuration ``metallb-webhook-configuration`` [webhooks].
- kube-vip in services mode: a DaemonSet, or a static pod, running a ``kube-vip`` image with the
  environment variable ``svc_enable=true`` [daemonsets, pods]; the kube-vip cloud provider: a
  Deployment running a ``kube-vip-cloud-provider`` image [deployments]. kube-vip for the control
  plane only (``svc_enable`` not true) is a note, not a conflict.
- Cilium LB-IPAM: any CiliumLoadBalancerIPPool that is not ``spec.disabled`` [cilium_pools]; the CRD
  ``ciliumloadbalancerippools.cilium.io`` without pools is a note (LB-IPAM acts once a pool exists).
- OpenELB: the CRD ``eips.network.kubesphere.io`` [crds], the namespace ``openelb-system``
  [namespaces], or a Deployment or DaemonSet named ``openelb-*`` [deployments, daemonsets].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

K3S_SVC_LABEL = "svccontroller.k3s.cattle.io/svcname"
K3S_NODE_ARGS = "k3s.io/node-args"
METALLB_LABELS = (("app", "metallb"), ("app.kubernetes.io/name", "metallb"))
METALLB_WEBHOOK = "metallb-webhook-configuration"
PART_OF, OURS = "app.kubernetes.io/part-of", "metal-lb"  # the label on everything manifests/ installs
CILIUM_POOL_CRD = "ciliumloadbalancerippools.cilium.io"
OPENELB_CRD = "eips.network.kubesphere.io"
OPENELB_NAMESPACE = "openelb-system"
CONFLICT_HINT = ("Or give the Services each implementation handles distinct spec.loadBalancerClass values and "
                 "set allow_other_load_balancers: true.")

GUIDANCE = {
    "K3s ServiceLB": "Start every K3s server with --disable=servicelb (or 'disable: [servicelb]' in "
                     "/etc/rancher/k3s/config.yaml); K3s then deletes its svclb DaemonSets.",
    "MetalLB": "Uninstall MetalLB's controller and speakers (its Deployment, DaemonSet and webhook "
               "configuration) but keep its metallb.io CRDs and objects: metal.lb reads the same configuration.",
    "kube-vip": "Turn off kube-vip's services mode (svc_enable=false; control-plane mode can stay) and remove "
                "kube-vip-cloud-provider.",
    "Cilium LB-IPAM": "Delete the CiliumLoadBalancerIPPool objects or set their spec.disabled: true.",
    "OpenELB": "Uninstall OpenELB (its openelb-system namespace, workloads and network.kubesphere.io CRDs).",
}


@dataclass(frozen=True)
class Finding:
    implementation: str
    signal: str  # the object found, "Kind namespace/name (why)"

    @property
    def guidance(self) -> str:
        return GUIDANCE[self.implementation]


def _meta(obj: Mapping) -> Mapping:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _where(kind: str, obj: Mapping) -> str:
    meta = _meta(obj)
    name = "%s/%s" % (meta["namespace"], meta.get("name")) if meta.get("namespace") else str(meta.get("name"))
    return "%s %s" % (kind, name)


def _labels(obj: Mapping) -> Mapping:
    labels = _meta(obj).get("labels")
    return labels if isinstance(labels, Mapping) else {}


def _pod_spec(obj: Mapping) -> Mapping:
    """The pod spec of a pod, or the template's of a workload."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    template = spec.get("template")
    if isinstance(template, Mapping) and isinstance(template.get("spec"), Mapping):
        return template["spec"]
    return spec


def _containers(obj: Mapping) -> list[Mapping]:
    spec = _pod_spec(obj)
    found = []
    for key in ("initContainers", "containers"):
        found.extend(c for c in spec.get(key) or () if isinstance(c, Mapping))
    return found


def _image_name(container: Mapping) -> str:
    """``ghcr.io/kube-vip/kube-vip:v0.8.0@sha256:..`` → ``kube-vip`` (the last path element)."""
    image = str(container.get("image") or "").split("@", maxsplit=1)[0]
    last = image.rsplit("/", 1)[-1]
    return last.split(":")[0]


def _env(container: Mapping, name: str) -> str | None:
    for var in container.get("env") or ():
        if isinstance(var, Mapping) and var.get("name") == name:
            return str(var.get("value") or "")
    return None


def _is_static_pod(pod: Mapping) -> bool:
    meta = _meta(pod)
    annotations = meta.get("annotations") if isinstance(meta.get("annotations"), Mapping) else {}
    owners = meta.get("ownerReferences") or ()
    return "kubernetes.io/config.mirror" in annotations or any(
        isinstance(o, Mapping) and o.get("kind") == "Node" for o in owners)


def k3s_servicelb(facts: Mapping) -> tuple[list[Finding], list[str]]:
    findings = []
    for ds in facts.get("daemonsets") or ():
        name = str(_meta(ds).get("name") or "")
        if name.startswith("svclb-") or K3S_SVC_LABEL in _labels(ds):
            findings.append(Finding("K3s ServiceLB",
                                    "%s (ServiceLB's per-Service DaemonSet)" % _where("DaemonSet", ds)))
    if not findings:
        for pod in facts.get("pods") or ():
            if K3S_SVC_LABEL in _labels(pod):
                findings.append(Finding("K3s ServiceLB", "%s (label %s)" % (_where("Pod", pod), K3S_SVC_LABEL)))
                break
    notes = []
    if not findings:
        for node in facts.get("nodes") or ():
            annotations = _meta(node).get("annotations") or {}
            args = str(annotations.get(K3S_NODE_ARGS) or "") if isinstance(annotations, Mapping) else ""
            if args and '"server"' in args and "servicelb" not in args:
                notes.append("Node %s is a K3s server whose arguments do not disable servicelb: K3s ServiceLB "
                             "takes the next LoadBalancer Service unless it is disabled (--disable=servicelb) in "
                             "its configuration file" % _meta(node).get("name"))
                break
    return findings, notes


def metallb(facts: Mapping) -> list[Finding]:
    findings = []
    for kind, key in (("Deployment", "deployments"), ("DaemonSet", "daemonsets")):
        for obj in facts.get(key) or ():
            labels = _labels(obj)
            hit = next(("%s=%s" % (k, v) for k, v in METALLB_LABELS if labels.get(k) == v), None)
            if hit:
                findings.append(Finding("MetalLB", "%s (label %s)" % (_where(kind, obj), hit)))
    for obj in facts.get("webhooks") or ():
        # metal.lb registers its webhooks under MetalLB's name too; its own carry its part-of label
        if (obj.get("metadata") or {}).get("name") == METALLB_WEBHOOK and _labels(obj).get(PART_OF) != OURS:
            findings.append(Finding("MetalLB", "ValidatingWebhookConfiguration %s" % METALLB_WEBHOOK))
    return findings


def kube_vip(facts: Mapping) -> tuple[list[Finding], list[str]]:
    findings, notes = [], []
    candidates = [("DaemonSet", ds) for ds in facts.get("daemonsets") or ()]
    candidates += [("Pod", pod) for pod in facts.get("pods") or () if _is_static_pod(pod)]
    for kind, obj in candidates:
        for container in _containers(obj):
            if _image_name(container) != "kube-vip":
                continue
            if (_env(container, "svc_enable") or "").lower() == "true":
                findings.append(Finding("kube-vip", "%s (image %s, svc_enable=true)"
                                        % (_where(kind, obj), container.get("image"))))
            else:
                notes.append("%s runs kube-vip without services mode (svc_enable is not true): no conflict"
                             % _where(kind, obj))
    for obj in facts.get("deployments") or ():
        if any(_image_name(c) == "kube-vip-cloud-provider" for c in _containers(obj)):
            findings.append(Finding("kube-vip", "%s (kube-vip-cloud-provider assigns LoadBalancer IPs)"
                                    % _where("Deployment", obj)))
    return findings, notes


def cilium_lb_ipam(facts: Mapping) -> tuple[list[Finding], list[str]]:
    findings = []
    for pool in facts.get("cilium_pools") or ():
        spec = pool.get("spec") if isinstance(pool.get("spec"), Mapping) else {}
        if spec.get("disabled") is True:
            continue
        findings.append(Finding("Cilium LB-IPAM", "%s" % _where("CiliumLoadBalancerIPPool", pool)))
    notes = []
    if not findings and CILIUM_POOL_CRD in (facts.get("crds") or ()):
        notes.append("CRD %s exists but no enabled pool: Cilium LB-IPAM assigns LoadBalancer IPs as soon as a "
                     "CiliumLoadBalancerIPPool is created" % CILIUM_POOL_CRD)
    return findings, notes


def openelb(facts: Mapping) -> list[Finding]:
    findings = []
    if OPENELB_CRD in (facts.get("crds") or ()):
        findings.append(Finding("OpenELB", "CustomResourceDefinition %s" % OPENELB_CRD))
    if OPENELB_NAMESPACE in (facts.get("namespaces") or ()):
        findings.append(Finding("OpenELB", "Namespace %s" % OPENELB_NAMESPACE))
    for kind, key in (("Deployment", "deployments"), ("DaemonSet", "daemonsets")):
        for obj in facts.get(key) or ():
            if str(_meta(obj).get("name") or "").startswith("openelb-"):
                findings.append(Finding("OpenELB", _where(kind, obj)))
    return findings


def other_load_balancers(facts: Mapping) -> tuple[list[Finding], list[str]]:
    """Every finding (what conflicts) and notes (what could start conflicting), in a fixed order."""
    findings: list[Finding] = []
    notes: list[str] = []
    for check in (k3s_servicelb, metallb, kube_vip, cilium_lb_ipam, openelb):
        out = check(facts)
        found, more = out if isinstance(out, tuple) else (out, [])
        findings.extend(found)
        notes.extend(more)
    return findings, notes


def describe(findings: Iterable[Finding]) -> str:
    """One message: per implementation, what was found and what to do."""
    by_impl: dict[str, list[str]] = {}
    for finding in findings:
        by_impl.setdefault(finding.implementation, []).append(finding.signal)
    parts = ["%s (%s). %s" % (impl, ", ".join(signals), GUIDANCE[impl]) for impl, signals in by_impl.items()]
    return " ".join(parts) + " " + CONFLICT_HINT if parts else ""
