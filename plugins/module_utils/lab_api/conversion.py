# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Serving one stored object at several versions.

- CRDs with ``conversion.strategy: None`` (and any we have no converter for): only ``apiVersion``
  changes, exactly what the real API does for strategy None.
- ``metallb.io`` BGPPeer: v1beta2 is stored; v1beta1 is converted the way MetalLB's conversion
  webhook (``api/v1beta1/bgppeer_conversion.go``) does it, including the Go JSON encoding
  quirks a client can observe: v1beta1's non-pointer ``holdTime``/``keepaliveTime`` become ``"0s"``
  when unset and every converted duration is re-rendered by Go's ``Duration.String`` (``90s`` →
  ``1m30s``); node selectors are translated; v1beta2-only fields are lost through v1beta1.
- ``events.k8s.io/v1`` Event is a view of the stored core/v1 Event (field renames as in
  k8s ``pkg/apis/events/v1`` conversion).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from . import cel
from .errors import Invalid, invalid
from .resources import Resource


def go_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for unit, size in (("ns", 1), ("µs", 1_000), ("ms", 1_000_000)):
            if u < size * 1000:
                return sign + _frac(u, size) + unit
    hours, rest = divmod(u, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    text = ""
    if hours:
        text += f"{hours}h"
    if hours or minutes:
        text += f"{minutes}m"
    return sign + text + _frac(rest, 1_000_000_000) + "s"


def _frac(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{part:0{digits}d}".rstrip("0")


def _duration(value: Any, path: str, name: str) -> str:
    """A metav1.Duration through Go: parsed, then String()-ed. Unset/empty ⇒ zero ⇒ "0s"."""
    if value in (None, ""):
        return "0s"
    try:
        return go_duration(cel.parse_duration(value).ns)
    except cel.EvalError as exc:
        raise Invalid(
            "metallb.io", "BGPPeer", name, [invalid(path, value, f"conversion failed: {exc}")]
        ) from exc


def _bgppeer_to_v1beta2(obj: dict) -> dict:
    """v1beta1 → v1beta2 (ConvertTo), as the webhook's Go structs would serialise it."""
    spec1 = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name") or ""
    spec2: dict[str, Any] = {"myASN": spec1.get("myASN", 0)}
    for key in (
        "peerASN",
        "peerAddress",
        "sourceAddress",
        "peerPort",
        "routerID",
        "password",
        "bfdProfile",
        "ebgpMultiHop",
    ):
        if spec1.get(key):
            spec2[key] = spec1[key]
    spec2["holdTime"] = _duration(spec1.get("holdTime"), "spec.holdTime", name)
    spec2["keepaliveTime"] = _duration(spec1.get("keepaliveTime"), "spec.keepaliveTime", name)
    selectors = []
    for sel in spec1.get("nodeSelectors") or ():
        labels = (sel or {}).get("matchLabels") or {}
        exprs = (sel or {}).get("matchExpressions") or []
        if not labels and not exprs:
            selectors.append({})
            continue
        out: dict[str, Any] = {}
        if labels:
            out["matchLabels"] = dict(labels)
        if exprs:
            out["matchExpressions"] = []
            for expr in exprs:
                entry = {"key": expr.get("key", ""), "operator": expr.get("operator", "")}
                if expr.get("values"):
                    entry["values"] = list(expr["values"])
                out["matchExpressions"].append(entry)
        selectors.append(out)
    if selectors:
        spec2["nodeSelectors"] = selectors
    spec2["passwordSecret"] = {}  # a non-pointer struct with omitempty: Go always writes it
    return {"metadata": copy.deepcopy(obj.get("metadata") or {}), "spec": spec2, "status": {}}


def _bgppeer_to_v1beta1(obj: dict) -> dict:
    """v1beta2 → v1beta1 (ConvertFrom)."""
    spec2 = obj.get("spec") or {}
    name = (obj.get("metadata") or {}).get("name") or ""
    spec1: dict[str, Any] = {
        "myASN": spec2.get("myASN", 0),
        "peerASN": spec2.get("peerASN", 0),
        "peerAddress": spec2.get("peerAddress", ""),
    }
    for key in ("sourceAddress", "peerPort", "routerID", "password", "bfdProfile", "ebgpMultiHop"):
        if spec2.get(key):
            spec1[key] = spec2[key]
    spec1["holdTime"] = _duration(spec2.get("holdTime"), "spec.holdTime", name)
    spec1["keepaliveTime"] = _duration(spec2.get("keepaliveTime"), "spec.keepaliveTime", name)
    selectors = []
    for sel in spec2.get("nodeSelectors") or ():
        out: dict[str, Any] = {}
        if (sel or {}).get("matchLabels"):
            out["matchLabels"] = dict(sel["matchLabels"])
        exprs = [
            {
                "key": e.get("key", ""),
                "operator": e.get("operator", ""),
                "values": list(e.get("values") or []),
            }
            for e in (sel or {}).get("matchExpressions") or ()
        ]
        if exprs:
            out["matchExpressions"] = exprs
        selectors.append(out)
    if selectors:
        spec1["nodeSelectors"] = selectors
    return {"metadata": copy.deepcopy(obj.get("metadata") or {}), "spec": spec1, "status": {}}


# (group, kind) → {(from_version, to_version): converter}
_CONVERTERS: dict[tuple[str, str], dict[tuple[str, str], Callable[[dict], dict]]] = {
    ("metallb.io", "BGPPeer"): {
        ("v1beta1", "v1beta2"): _bgppeer_to_v1beta2,
        ("v1beta2", "v1beta1"): _bgppeer_to_v1beta1,
    },
}

# events.k8s.io/v1 name → core/v1 name
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def _rename(obj: dict, table: dict) -> dict:
    return {table.get(k, k): v for k, v in obj.items()}


def has_converter(resource: Resource) -> bool:
    return (resource.group, resource.kind) in _CONVERTERS


def to_storage(resource: Resource, obj: dict, version: str) -> dict:
    """A request body at ``version`` → the stored form (storage version, apiVersion set)."""
    if resource.storage_key == ("", "events"):
        out = _rename(obj, _EVENT_RENAMES)
        out["apiVersion"], out["kind"] = "v1", "Event"
        return out
    target = resource.storage_version
    out = _convert(resource, obj, version, target)
    out["apiVersion"] = resource.api_version(target)
    out["kind"] = resource.kind
    return out


def from_storage(resource: Resource, obj: dict, version: str) -> dict:
    """A stored object → what a client of ``version`` sees."""
    if resource.storage_key == ("", "events"):
        back = {v: k for k, v in _EVENT_RENAMES.items()}
        out = _rename(obj, back)
        out["apiVersion"], out["kind"] = resource.api_version(version), "Event"
        return out
    stored_version = (obj.get("apiVersion") or "").rsplit("/", 1)[-1] or resource.storage_version
    if stored_version == version:
        if obj.get("apiVersion") == resource.api_version(version) and obj.get("kind") == resource.kind:
            return obj
        out = dict(obj)
    else:
        out = _convert(resource, obj, stored_version, version)
    out["apiVersion"] = resource.api_version(version)
    out["kind"] = resource.kind
    return out


def _convert(resource: Resource, obj: dict, source: str, target: str) -> dict:
    if source == target:
        return dict(obj)
    converters = _CONVERTERS.get((resource.group, resource.kind))
    fn: Callable[[dict], dict] | None = converters.get((source, target)) if converters else None
    if fn is None:
        return dict(obj)  # strategy None: only apiVersion changes
    return fn(obj)


def needs_webhook_warning(resource: Resource) -> bool:
    """A CRD that asks for webhook conversion we cannot run (served with strategy None instead)."""
    return resource.conversion == "Webhook" and not has_converter(resource) and len(resource.versions) > 1
