# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The part of a Service the daemons read, as an informer transform.

A real API server sends managedFields and kubectl's last-applied annotation with every
Service; caching 10,000 of those whole costs far more than the decisions need. The trimmed
copy is built from this module's constant keys (shared strings, not one per watch event).
Whatever ``service.ServiceFacts`` or the status writer reads must be kept here.
"""

from __future__ import annotations

import sys

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels")
_SPEC = ("type", "loadBalancerClass", "loadBalancerIP", "clusterIP", "clusterIPs", "ipFamilyPolicy",
         "ipFamilies", "externalTrafficPolicy")


def _intern(value):
    return sys.intern(value) if isinstance(value, str) else value


def trim_service(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    out_meta = {key: meta[key] for key in _META if key in meta}
    if "namespace" in out_meta:
        out_meta["namespace"] = _intern(out_meta["namespace"])
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        kept = {sys.intern(k): v for k, v in annotations.items() if k != LAST_APPLIED and isinstance(k, str)}
        if kept:
            out_meta["annotations"] = kept
    out_spec = {key: _intern(spec[key]) if key in ("type", "ipFamilyPolicy", "externalTrafficPolicy") else spec[key]
                for key in _SPEC if key in spec}
    ports = spec.get("ports")
    if isinstance(ports, list):
        out_spec["ports"] = [{"port": p.get("port"), "protocol": _intern(p.get("protocol") or "TCP")}
                             for p in ports if isinstance(p, dict)]
    if spec.get("externalTrafficPolicy") == "Local" and "selector" in spec:
        out_spec["selector"] = spec["selector"]
    out = {"apiVersion": "v1", "kind": "Service", "metadata": out_meta, "spec": out_spec}
    load_balancer = (obj.get("status") or {}).get("loadBalancer")
    if load_balancer:
        out["status"] = {"loadBalancer": load_balancer}
    return out
