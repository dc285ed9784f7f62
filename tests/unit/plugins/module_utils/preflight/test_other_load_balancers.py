# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Other load balancer implementations, from the objects each installs (and nothing metal.lb creates)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.preflight.other_load_balancers import (
    CONFLICT_HINT,
    GUIDANCE,
    describe,
    other_load_balancers,
)


def obj(name, namespace=None, labels=None, annotations=None, spec=None, owners=None):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if owners:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "spec": spec or {}}


def workload(name, namespace, image, env=None, labels=None):
    container = {"name": "c", "image": image, "env": [{"name": k, "value": v} for k, v in (env or {}).items()]}
    return obj(name, namespace, labels, spec={"template": {"spec": {"containers": [container]}}})


def static_pod(name, image, env):
    container = {"name": "c", "image": image, "env": [{"name": k, "value": v} for k, v in env.items()]}
    return obj(name, "kube-system", annotations={"kubernetes.io/config.mirror": "x"},
               owners=[{"kind": "Node", "name": "node1"}], spec={"containers": [container]})


def implementations(facts):
    findings, _notes = other_load_balancers(facts)
    return sorted({f.implementation for f in findings})


QUIET = {
    "daemonsets": [workload("kube-proxy", "kube-system", "registry.k8s.io/kube-proxy:v1.31.0",
                            labels={"k8s-app": "kube-proxy"})],
    "deployments": [workload("coredns", "kube-system", "registry.k8s.io/coredns/coredns:v1.11.1")],
    "pods": [], "nodes": [obj("node1")], "namespaces": ["default", "kube-system", "metallb-system"],
    "webhooks": [{"metadata": {"name": "metallb-webhook-configuration",
                               "labels": {"app.kubernetes.io/part-of": "metal-lb"}}}],
    "crds": [], "cilium_pools": [],
}


def test_a_plain_cluster_with_metal_lb_namespace_crds_and_webhooks_finds_nothing():
    """metal.lb's own webhook registration has MetalLB's name: its label tells them apart."""
    assert other_load_balancers(QUIET) == ([], [])


@pytest.mark.parametrize("extra, implementation", [
    ({"daemonsets": [workload("svclb-web-1a2b3c4d", "kube-system", "rancher/klipper-lb:v0.4.9")]},
     "K3s ServiceLB"),
    ({"daemonsets": [workload("lb-web", "kube-system", "rancher/klipper-lb:v0.4.9",
                              labels={"svccontroller.k3s.cattle.io/svcname": "web"})]}, "K3s ServiceLB"),
    ({"pods": [obj("svclb-web-x", "kube-system", {"svccontroller.k3s.cattle.io/svcname": "web"})]},
     "K3s ServiceLB"),
    ({"deployments": [workload("controller", "metallb-system", "quay.io/metallb/controller:v0.14.8",
                               labels={"app": "metallb", "component": "controller"})]}, "MetalLB"),
    ({"daemonsets": [workload("metallb-speaker", "lb", "quay.io/metallb/speaker:v0.14.8",
                              labels={"app.kubernetes.io/name": "metallb"})]}, "MetalLB"),
    ({"webhooks": [{"metadata": {"name": "metallb-webhook-configuration"}}]}, "MetalLB"),
    ({"daemonsets": [workload("kube-vip-ds", "kube-system", "ghcr.io/kube-vip/kube-vip:v0.8.0",
                              {"svc_enable": "true", "cp_enable": "false"})]}, "kube-vip"),
    ({"pods": [static_pod("kube-vip-node1", "ghcr.io/kube-vip/kube-vip:v0.8.0@sha256:ab",
                          {"svc_enable": "true"})]}, "kube-vip"),
    ({"deployments": [workload("kube-vip-cloud-provider", "kube-system",
                               "ghcr.io/kube-vip/kube-vip-cloud-provider:v0.0.10")]}, "kube-vip"),
    ({"cilium_pools": [obj("blue", spec={"blocks": [{"cidr": "198.51.100.0/24"}]})],
      "crds": ["ciliumloadbalancerippools.cilium.io"]}, "Cilium LB-IPAM"),
    ({"crds": ["eips.network.kubesphere.io"]}, "OpenELB"),
    ({"namespaces": ["openelb-system"]}, "OpenELB"),
    ({"deployments": [workload("openelb-controller", "lb", "kubesphere/openelb-controller:v0.6.0")]}, "OpenELB"),
])
def test_each_signal_is_found_with_guidance(extra, implementation):
    facts = {key: list(QUIET[key]) + list(extra.get(key, [])) for key in QUIET}
    findings, _notes = other_load_balancers(facts)
    assert [f.implementation for f in findings] == [implementation]
    message = describe(findings)
    assert message.startswith(implementation) and GUIDANCE[implementation] in message
    assert findings[0].signal in message and message.endswith(CONFLICT_HINT)


@pytest.mark.parametrize("extra, note", [
    ({"daemonsets": [workload("kube-vip-ds", "kube-system", "ghcr.io/kube-vip/kube-vip:v0.8.0",
                              {"cp_enable": "true", "svc_enable": "false"})]}, "without services mode"),
    ({"crds": ["ciliumloadbalancerippools.cilium.io"]}, "as soon as a CiliumLoadBalancerIPPool"),
    ({"cilium_pools": [obj("off", spec={"disabled": True})], "crds": ["ciliumloadbalancerippools.cilium.io"]},
     "no enabled pool"),
    ({"nodes": [obj("k3s-1", annotations={"k3s.io/node-args": '["server","--disable","traefik"]'})]},
     "do not disable servicelb"),
])
def test_what_could_start_competing_is_a_note_not_a_finding(extra, note):
    facts = {key: list(QUIET[key]) + list(extra.get(key, [])) for key in QUIET}
    findings, notes = other_load_balancers(facts)
    assert findings == []
    assert len(notes) == 1 and note in notes[0]


def test_k3s_server_that_disables_servicelb_is_quiet():
    node = obj("k3s-1", annotations={"k3s.io/node-args": '["server","--disable","servicelb,traefik"]'})
    assert other_load_balancers(dict(QUIET, nodes=[node])) == ([], [])


def test_images_named_like_kube_vip_only_match_the_last_path_element():
    facts = dict(QUIET, daemonsets=[workload("x", "ns", "example.test/kube-vip-exporter:1", {"svc_enable": "true"})])
    assert implementations(facts) == []


def test_several_at_once_are_grouped_per_implementation():
    facts = dict(QUIET, webhooks=[{"metadata": {"name": "metallb-webhook-configuration"}}],
                 namespaces=["openelb-system"], crds=["eips.network.kubesphere.io"])
    findings, notes = other_load_balancers(facts)
    assert implementations(facts) == ["MetalLB", "OpenELB"] and notes == []
    text = describe(findings)
    assert "OpenELB (CustomResourceDefinition eips.network.kubesphere.io, Namespace openelb-system)" in text
