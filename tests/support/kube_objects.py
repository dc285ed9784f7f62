# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of Kubernetes objects as the API returns them (plain dicts), shared by the tests."""

from __future__ import annotations

NS = "metallb-system"
POOL_ANNOTATION = "metallb.io/ip-allocated-from-pool"


def cr(kind: str, name: str, spec: dict | None = None, labels: dict | None = None,
       api: str = "metallb.io/v1beta1", namespace: str = NS) -> dict:
    """A metallb.io object of the configuration namespace."""
    meta: dict = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": api, "kind": kind, "metadata": meta, "spec": spec or {}}


def pool(name: str, *addresses: str, labels: dict | None = None, **spec) -> dict:
    return cr("IPAddressPool", name, dict(spec, addresses=list(addresses)), labels)


def peer(name: str = "r1", api: str = "metallb.io/v1beta2", **spec) -> dict:
    """A BGPPeer; a field given as None is left out."""
    base = {"myASN": 64496, "peerASN": 64497, "peerAddress": "203.0.113.1"}
    base.update(spec)
    return cr("BGPPeer", name, {k: v for k, v in base.items() if v is not None}, api=api)


def secret(name: str, password: str | None = "c2VjcmV0", type_: str = "kubernetes.io/basic-auth",
           namespace: str = NS) -> dict:
    """A Secret as a BGPPeer's passwordSecret names it (``password`` is base64, as in ``data``)."""
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "type": type_}
    if password is not None:
        obj["data"] = {"password": password}
    return obj


def node(name: str, **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def service(name: str, ns: str = "app", created: str | None = None, ingress=(), pool_annotation=None,
            **spec) -> dict:
    """A LoadBalancer Service with a cluster IP; ``ingress`` its status IPs, ``spec`` overrides."""
    meta: dict = {"name": name, "namespace": ns, "annotations": {}}
    if created:
        meta["creationTimestamp"] = created
    if pool_annotation:
        meta["annotations"][POOL_ANNOTATION] = pool_annotation
    body = {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"],
            "ports": [{"port": 80, "protocol": "TCP"}]}
    body.update(spec)
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": body}
    if ingress:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}}
    return obj
