# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes objects the lab writes, as plain dicts (pure; no I/O).

The lab has no controller-manager or kubelet, so the lab itself plays kubelet (Nodes, Pods' readiness) and the
endpoint-slice controller (one EndpointSlice per Service and address family).
"""

from __future__ import annotations

import yaml

METALLB_NS = "metallb-system"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"


def node(name: str, v4: str, v6: str, labels: dict | None = None, network_unavailable: bool = False) -> dict:
    conditions = [
        {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "lab node"},
        {
            "type": "NetworkUnavailable",
            "status": "True" if network_unavailable else "False",
            "reason": "LabRoute",
            "message": "set by the metal.lb lab",
        },
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **(labels or {})},
        },
        "spec": {},
        "status": {
            "addresses": [
                {"type": "InternalIP", "address": v4},
                {"type": "InternalIP", "address": v6},
                {"type": "Hostname", "address": name},
            ],
            "conditions": conditions,
        },
    }


def kube_proxy_configmap(strict_arp: bool) -> dict:
    """``kube-system/kube-proxy`` as kubeadm writes it: ``config.conf`` holds the
    KubeProxyConfiguration (the lab's emulator reads ``mode`` and ``ipvs.strictARP``)."""
    conf = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "ipvs",
        "ipvs": {"strictARP": bool(strict_arp), "scheduler": "rr"},
    }
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "kube-proxy", "namespace": "kube-system", "labels": {"app": "kube-proxy"}},
        "data": {"config.conf": yaml.safe_dump(conf, sort_keys=False)},
    }


def pool(name: str, addresses: list[str], auto_assign: bool = True) -> dict:
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": METALLB_NS},
        "spec": {"addresses": list(addresses), "autoAssign": auto_assign},
    }


def l2_advertisement(
    name: str,
    pools: list[str] | None = None,
    node_selectors: list | None = None,
    interfaces: list[str] | None = None,
) -> dict:
    spec: dict = {}
    if pools:
        spec["ipAddressPools"] = list(pools)
    if node_selectors:
        spec["nodeSelectors"] = node_selectors
    if interfaces:
        spec["interfaces"] = interfaces
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "L2Advertisement",
        "metadata": {"name": name, "namespace": METALLB_NS},
        "spec": spec,
    }


def service(
    name: str,
    namespace: str = "default",
    port: int = 80,
    target_port: int = 8080,
    families: tuple[str, ...] = ("IPv4",),
    etp_local: bool = False,
    annotations: dict | None = None,
    load_balancer_ip: str | None = None,
) -> dict:
    spec: dict = {
        "type": "LoadBalancer",
        "selector": {"app": name},
        "ports": [{"name": "http", "port": port, "targetPort": target_port, "protocol": "TCP"}],
        "externalTrafficPolicy": "Local" if etp_local else "Cluster",
    }
    spec["ipFamilyPolicy"] = "RequireDualStack" if len(families) > 1 else "SingleStack"
    spec["ipFamilies"] = list(families)
    if load_balancer_ip:
        spec["loadBalancerIP"] = load_balancer_ip
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app": name},
            "annotations": dict(annotations or {}),
        },
        "spec": spec,
    }


def endpoint_slice(service_name: str, namespace: str, family: str, pods: list[dict], port: int) -> dict:
    """``pods``: [{"name", "node", "ip", "ready"}] of one family (``IPv4``/``IPv6``)."""
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "%s-%s" % (service_name, family.lower()),
            "namespace": namespace,
            "labels": {
                SERVICE_NAME_LABEL: service_name,
                "endpointslice.kubernetes.io/managed-by": "lab.metal.lb",
            },
        },
        "addressType": family,
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
        "endpoints": [
            {
                "addresses": [p["ip"]],
                "conditions": {"ready": p["ready"], "serving": p["ready"], "terminating": False},
                "nodeName": p["node"],
                "targetRef": {"kind": "Pod", "namespace": namespace, "name": p["name"]},
            }
            for p in pods
        ],
    }
