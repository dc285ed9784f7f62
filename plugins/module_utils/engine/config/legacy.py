# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-0.13 MetalLB ConfigMap → the CRs MetalLB's ``configmaptocrs`` produces.

Same names (peer<i>, bgpadvertisement<n>, l2advertisement<n>, communities), same order
(peers, pools, BGP advertisements, L2 advertisements, BFD profiles, communities) and the
same name sanitising, so ``metal-lb convert`` output diffs cleanly against MetalLB's.
"""

from __future__ import annotations

import re
from typing import Any

from .fields import parse_duration

_VALID = re.compile(r"^[a-z][-a-z0-9]{0,61}[a-z0-9]{1}$")


class LegacyConfigError(ValueError):
    """The ConfigMap cannot be converted; the message names the field."""


def go_duration(seconds: int) -> str:
    """Go's time.Duration.String() for whole seconds (90 → "1m30s")."""
    if seconds == 0:
        return "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return "%dh%dm%ds" % (hours, minutes, secs)
    if minutes:
        return "%dm%ds" % (minutes, secs)
    return "%ds" % secs


def k8s_name(name: Any, kind: str) -> str:
    name = str(name)
    if _VALID.match(name):
        return name
    lowered = name[:63].lower().replace("_", "-")
    match = re.search("[a-z]", lowered)
    if not match:
        raise LegacyConfigError("failed to make %s K8S compatible: %s" % (kind, name))
    return lowered[match.start():]


def _meta(name: str, namespace: str) -> dict:
    return {"name": name, "namespace": namespace}


def _whole_seconds(text: str, what: str) -> int:
    try:
        return int(parse_duration(text))
    except ValueError as exc:
        raise LegacyConfigError('invalid %s "%s": %s' % (what, text, exc)) from exc


def _peer(raw: dict, index: int, namespace: str) -> dict:
    hold_text = raw.get("hold-time") or ""
    hold = 90 if hold_text == "" else _whole_seconds(hold_text, "hold time")
    if hold != 0 and hold < 3:
        raise LegacyConfigError('invalid hold time "%s": must be 0 or >=3s' % hold_text)
    spec: dict = {"myASN": raw.get("my-asn", 0), "peerASN": raw.get("peer-asn", 0),
                  "peerAddress": raw.get("peer-address", "")}
    for key, field in (("source-address", "sourceAddress"), ("peer-port", "peerPort"),
                       ("router-id", "routerID"), ("password", "password"), ("ebgp-multihop", "ebgpMultiHop")):
        if raw.get(key):
            spec[field] = raw[key]
    spec["holdTime"] = go_duration(hold)
    if raw.get("keepalive-time"):
        spec["keepaliveTime"] = go_duration(_whole_seconds(raw["keepalive-time"], "keepalive time"))
    if raw.get("bfd-profile"):
        spec["bfdProfile"] = k8s_name(raw["bfd-profile"], "BFDProfile")
    selectors = []
    for sel in raw.get("node-selectors") or []:
        out: dict = {}
        if sel.get("match-labels"):
            out["matchLabels"] = dict(sel["match-labels"])
        if sel.get("match-expressions"):
            out["matchExpressions"] = [{"key": e.get("key"), "operator": e.get("operator"),
                                        "values": list(e.get("values") or [])} for e in sel["match-expressions"]]
        selectors.append(out)
    if selectors:
        spec["nodeSelectors"] = selectors
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": _meta("peer%d" % index, namespace),
            "spec": spec}


def convert_configmap(source: Any, namespace: str = "metallb-system") -> list[dict]:
    """``source``: the ConfigMap object, its ``config`` text, or the parsed config dict.

    Raises only LegacyConfigError: a value of the wrong type anywhere is a message, not a traceback.
    """
    try:
        return _convert(source, namespace)
    except LegacyConfigError:
        raise
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        raise LegacyConfigError("data.config: invalid legacy configuration: %s" % exc) from exc


def _convert(source: Any, namespace: str) -> list[dict]:
    config = _config_dict(source)
    pools = config.get("address-pools") or []
    out: list[dict] = []
    for index, raw in enumerate(config.get("peers") or [], 1):
        out.append(_peer(raw, index, namespace))
    for raw in pools:
        spec: dict = {"addresses": list(raw.get("addresses") or [])}
        if raw.get("auto-assign") is not None:
            spec["autoAssign"] = bool(raw["auto-assign"])
        if raw.get("avoid-buggy-ips"):
            spec["avoidBuggyIPs"] = True
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                    "metadata": _meta(k8s_name(raw.get("name", ""), "IpAddressPool"), namespace), "spec": spec})
    counter = 1
    for raw in pools:
        name = k8s_name(raw.get("name", ""), "IpAddressPool")
        ads = raw.get("bgp-advertisements") or []
        for ad in ads:
            spec = {"ipAddressPools": [name]}
            for key, field in (("aggregation-length", "aggregationLength"),
                               ("aggregation-length-v6", "aggregationLengthV6"), ("localpref", "localPref")):
                if ad.get(key) is not None:
                    spec[field] = ad[key]
            if ad.get("communities"):
                spec["communities"] = list(ad["communities"])
            out.append({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
                        "metadata": _meta("bgpadvertisement%d" % counter, namespace), "spec": spec})
            counter += 1
        if not ads and raw.get("protocol") == "bgp":
            out.append({"apiVersion": "metallb.io/v1beta1", "kind": "BGPAdvertisement",
                        "metadata": _meta("bgpadvertisement%d" % counter, namespace),
                        "spec": {"ipAddressPools": [name]}})
            counter += 1
    counter = 1
    for raw in pools:
        if raw.get("protocol") == "layer2":
            out.append({"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement",
                        "metadata": _meta("l2advertisement%d" % counter, namespace),
                        "spec": {"ipAddressPools": [k8s_name(raw.get("name", ""), "IpAddressPool")]}})
            counter += 1
    for raw in config.get("bfd-profiles") or []:
        spec = {}
        for key, field in (("receive-interval", "receiveInterval"), ("transmit-interval", "transmitInterval"),
                           ("detect-multiplier", "detectMultiplier"), ("echo-interval", "echoInterval"),
                           ("minimum-ttl", "minimumTtl")):
            if raw.get(key) is not None:
                spec[field] = raw[key]
        spec["echoMode"] = bool(raw.get("echo-mode", False))
        spec["passiveMode"] = bool(raw.get("passive-mode", False))
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": "BFDProfile",
                    "metadata": _meta(k8s_name(raw.get("name", ""), "BFDProfile"), namespace), "spec": spec})
    communities = config.get("bgp-communities") or {}
    if communities:
        out.append({"apiVersion": "metallb.io/v1beta1", "kind": "Community",
                    "metadata": _meta("communities", namespace),
                    "spec": {"communities": [{"name": k, "value": str(communities[k])} for k in sorted(communities)]}})
    return out


def _config_dict(source: Any) -> dict:
    if isinstance(source, dict) and source.get("kind") == "ConfigMap":
        source = (source.get("data") or {}).get("config")
        if source is None:
            raise LegacyConfigError('ConfigMap has no "config" key in data')
    if isinstance(source, str):
        from ..manifests import load_objects

        docs = load_objects(source, "ConfigMap data.config") if source.strip() else [{}]
        source = docs[0] if docs else {}
    if not isinstance(source, dict):
        raise LegacyConfigError("data.config: must be a YAML mapping")
    for key in ("peers", "address-pools", "bfd-profiles"):
        value = source.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, dict) for v in value)):
            raise LegacyConfigError("data.config.%s: must be a list of mappings" % key)
    if source.get("bgp-communities") is not None and not isinstance(source["bgp-communities"], dict):
        raise LegacyConfigError("data.config.bgp-communities: must be a mapping")
    return source
