# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Read what the preflight checks decide from, as plain dicts (read-only).

A read the credentials may not do (403) or an API the cluster does not serve (404) is recorded in
``unreadable`` and the check goes on with what it could read, so a narrow credential still gets
every answer it can.
"""

from __future__ import annotations

import json

from ...engine.preflight.other_load_balancers import CILIUM_POOL_CRD, K3S_SVC_LABEL, OPENELB_CRD

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - callers check HAS_KUBERNETES
    k8s_client = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0


class _Reader:
    def __init__(self) -> None:
        self.unreadable: list[str] = []

    def __call__(self, what: str, call, *args, missing=None, **kwargs):
        try:
            resp = call(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            if exc.status == 404:
                return missing
            if exc.status in (401, 403):
                self.unreadable.append("%s (%s %s)" % (what, exc.status, exc.reason))
                return missing
            raise
        return json.loads(resp.data)


def _items(answer) -> list[dict]:
    return list((answer or {}).get("items") or [])


def _storage_version(crd: dict) -> str | None:
    for version in (crd.get("spec") or {}).get("versions") or ():
        if version.get("storage"):
            return version.get("name")
    return None


def read_facts(api_client) -> tuple[dict, list[str]]:
    """(facts for the preflight engine, reads that were refused)."""
    core = k8s_client.CoreV1Api(api_client)
    apps = k8s_client.AppsV1Api(api_client)
    ext = k8s_client.ApiextensionsV1Api(api_client)
    custom = k8s_client.CustomObjectsApi(api_client)
    admission = k8s_client.AdmissionregistrationV1Api(api_client)
    read = _Reader()
    facts: dict = {
        "version": read("the API server version", k8s_client.VersionApi(api_client).get_code, missing={}),
        "daemonsets": _items(read("DaemonSets", apps.list_daemon_set_for_all_namespaces)),
        "deployments": _items(read("Deployments", apps.list_deployment_for_all_namespaces)),
        "pods": _items(read("Pods in kube-system", core.list_namespaced_pod, "kube-system"))
        + _items(read("Pods labelled %s" % K3S_SVC_LABEL, core.list_pod_for_all_namespaces,
                      label_selector=K3S_SVC_LABEL)),
        "nodes": _items(read("Nodes", core.list_node)),
        "namespaces": sorted(ns["metadata"]["name"] for ns in _items(read("Namespaces", core.list_namespace))),
        "webhooks": [{"metadata": {"name": w["metadata"]["name"], "labels": w["metadata"].get("labels") or {}}}
                     for w in _items(read("ValidatingWebhookConfigurations",
                                          admission.list_validating_webhook_configuration))],
        "crds": [],
        "cilium_pools": [],
    }
    for name in (CILIUM_POOL_CRD, OPENELB_CRD):
        crd = read("CustomResourceDefinition %s" % name, ext.read_custom_resource_definition, name)
        if crd:
            facts["crds"].append(name)
            if name == CILIUM_POOL_CRD and _storage_version(crd):
                facts["cilium_pools"] = _items(read("CiliumLoadBalancerIPPools", custom.list_cluster_custom_object,
                                                    "cilium.io", _storage_version(crd), "ciliumloadbalancerippools"))
    service_cidrs: list[dict] = []
    for version in ("v1", "v1beta1"):
        answer = read("ServiceCIDRs", custom.list_cluster_custom_object, "networking.k8s.io", version,
                      "servicecidrs")
        if answer is not None:
            service_cidrs = _items(answer)
            break
    facts["service_cidr_objects"] = service_cidrs
    facts["kubeadm_config"] = read("ConfigMap kube-system/kubeadm-config", core.read_namespaced_config_map,
                                   "kubeadm-config", "kube-system")
    return facts, read.unreadable
