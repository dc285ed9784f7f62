# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders for the BGP tests: metallb.io objects, Nodes, Services, EndpointSlices, Secrets."""

from __future__ import annotations

import base64

from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.node_state import node_bgp
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import secrets_by_name
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.engine.election import Balancer

NS = "metallb-system"


def pool(name="default", addresses=("198.51.100.0/26", "2001:db8:1::/120"), labels=None):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": name, "namespace": NS, "labels": labels or {}}, "spec": {"addresses": list(addresses)}}


def bgpad(name="bgp", **spec):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def peer(name="router", **spec):
    spec.setdefault("myASN", 64500)
    spec.setdefault("peerASN", 64501)
    spec.setdefault("peerAddress", "198.51.100.254")
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": name, "namespace": NS}, "spec": spec}


def community(name="aliases", **values):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "Community", "metadata": {"name": name, "namespace": NS},
            "spec": {"communities": [{"name": k, "value": v} for k, v in values.items()]}}


def bfd(name="fast", **spec):
    return {"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile", "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def secret(name="bgp-auth", password="s3cret", type_="kubernetes.io/basic-auth"):
    return {"apiVersion": "v1", "kind": "Secret", "type": type_, "metadata": {"name": name, "namespace": NS},
            "data": {"password": base64.b64encode(password.encode()).decode()}}


def node(name, labels=None, network_unavailable=False):
    obj = {"apiVersion": "v1", "kind": "Node",
           "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}}}
    if network_unavailable:
        obj["status"] = {"conditions": [{"type": "NetworkUnavailable", "status": "True"}]}
    return obj


def service(name="web", ips=("198.51.100.10",), etp="Cluster", labels=None, namespace="default"):
    """A LoadBalancer Service already holding ``ips`` (status), asking for them (annotation)."""
    families = ["IPv6" if ":" in ip else "IPv4" for ip in ips]
    cluster = ["2001:db8:ff::%d" % (i + 1) if f == "IPv6" else "203.0.113.%d" % (100 + i)
               for i, f in enumerate(families)]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels or {},
                         "annotations": {"metallb.io/loadBalancerIPs": ",".join(ips)}},
            "spec": {"type": "LoadBalancer", "externalTrafficPolicy": etp, "clusterIP": cluster[0],
                     "clusterIPs": cluster, "ipFamilies": families,
                     "ipFamilyPolicy": "RequireDualStack" if len(ips) > 1 else "SingleStack",
                     "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def endpoints(service_name="web", nodes=("node1",), ready=True, namespace="default", addresses=True):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": service_name + "-abc", "namespace": namespace,
                         "labels": {"kubernetes.io/service-name": service_name}},
            "endpoints": [{"addresses": ["203.0.113.%d" % (i + 1)] if addresses else [], "nodeName": n,
                           "conditions": {"ready": ready}} for i, n in enumerate(nodes)]}


NODES = ("node1", "node2", "node3")


def config_of(objects):
    parsed = parse_config(objects, bgp_type="frr")
    assert parsed.errors == [], [str(e) for e in parsed.errors]
    return parsed.config


def state(objects, node_name="node1", services=None, extra=()):
    objects = list(objects)
    nodes = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Node"}
    config = config_of(objects)
    services = services if services is not None else [o for o in objects if o["kind"] == "Service"]
    balancers = [Balancer("%s/%s" % (s["metadata"]["namespace"], s["metadata"]["name"]), s,
                          [i["ip"] for i in s["status"]["loadBalancer"]["ingress"]]) for s in services]
    slices = [o for o in objects if o["kind"] == "EndpointSlice"]
    return node_bgp(config, node_name, nodes, balancers, slices, secrets_by_name(objects, "metallb-system"))
