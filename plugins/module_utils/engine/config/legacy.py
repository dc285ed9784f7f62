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

from ..go_quote import go_quote
from .durations import whole_seconds
from .object_meta import type_name as _type_name

_VALID = re.compile(r"^[a-z][-a-z0-9]{0,61}[a-z0-9]{1}$")


class LegacyConfigError(ValueError):
    """The ConfigMap cannot be converted; ``field`` is the path inside the ConfigMap."""

    def __init__(self, message: str, field: str = "data.config") -> None:
        super().__init__("%s: %s" % (field, message) if field else message)
        self.field = field
        self.message = message


# MetalLB's configFile (configmaptocrs/types.go), read as it reads it (yaml.UnmarshalStrict):
# an unknown key is an error, and a value of another type is refused, never coerced. Leaves are
# "string" (go-yaml also reads a YAML integer into a string field), "bool", "uint16", "uint32",
# "int32"; ("list", item) and ("map", "string") are containers; a dict is an object's fields.
_SELECTOR = {"match-labels": ("map", "string"),
             "match-expressions": ("list", {"key": "string", "operator": "string", "values": ("list", "string")})}
_PEER = {"my-asn": "uint32", "peer-asn": "uint32", "peer-address": "string", "source-address": "string",
         "peer-port": "uint16", "hold-time": "string", "keepalive-time": "string", "router-id": "string",
         "node-selectors": ("list", _SELECTOR), "password": "string", "bfd-profile": "string",
         "ebgp-multihop": "bool"}
_ADVERTISEMENT = {"aggregation-length": "int32", "aggregation-length-v6": "int32", "localpref": "uint32",
                  "communities": ("list", "string")}
_POOL = {"protocol": "string", "name": "string", "addresses": ("list", "string"), "avoid-buggy-ips": "bool",
         "auto-assign": "bool", "bgp-advertisements": ("list", _ADVERTISEMENT)}
_BFD = {"name": "string", "receive-interval": "uint32", "transmit-interval": "uint32",
        "detect-multiplier": "uint32", "echo-interval": "uint32", "echo-mode": "bool", "passive-mode": "bool",
        "minimum-ttl": "uint32"}
SCHEMA = {"peers": ("list", _PEER), "bgp-communities": ("map", "string"), "address-pools": ("list", _POOL),
          "bfd-profiles": ("list", _BFD)}
_RANGES = {"uint16": (0, 65535), "uint32": (0, 4294967295), "int32": (-2147483648, 2147483647)}
_PROTOCOLS = ("bgp", "layer2")


def _checked(value: Any, schema: Any, path: str) -> Any:
    """``value`` as MetalLB's types read it (YAML integers in string fields become their text)."""
    if value is None:
        return None
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            raise LegacyConfigError("must be a mapping, got %s" % _type_name(value), path)
        out = {}
        for key, item in value.items():
            if key not in schema:
                raise LegacyConfigError("unknown field %s (MetalLB reads: %s)" % (
                    _quoted(key), ", ".join(schema)), "%s.%s" % (path, key) if isinstance(key, str) else path)
            out[key] = _checked(item, schema[key], "%s.%s" % (path, key))
        return out
    if isinstance(schema, tuple):
        container, item_schema = schema
        if container == "list":
            if not isinstance(value, list):
                raise LegacyConfigError("must be a list, got %s" % _type_name(value), path)
            return [_checked(item, item_schema, "%s[%d]" % (path, i)) for i, item in enumerate(value)]
        if not isinstance(value, dict):
            raise LegacyConfigError("must be a mapping, got %s" % _type_name(value), path)
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LegacyConfigError("keys must be strings, got %s" % _type_name(key), path)
            out[key] = _checked(item, item_schema, "%s.%s" % (path, key))
        return out
    if schema == "string":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise LegacyConfigError("must be a string, got %s" % _type_name(value), path)
        return value
    if schema == "bool":
        if not isinstance(value, bool):
            raise LegacyConfigError("must be true or false, got %s%s" % (
                _type_name(value), " %s (unquote it)" % _quoted(value) if isinstance(value, str) else ""), path)
        return value
    low, high = _RANGES[schema]
    if isinstance(value, bool) or not isinstance(value, int):
        raise LegacyConfigError("must be an integer, got %s" % _type_name(value), path)
    if not low <= value <= high:
        raise LegacyConfigError("must be between %d and %d (%s)" % (low, high, schema), path)
    return value


def _quoted(value: Any) -> str:
    return go_quote(value if isinstance(value, str) else _type_name(value))


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


def _whole_seconds(text: str, what: str, path: str) -> int:
    try:
        return whole_seconds(text)
    except ValueError as exc:
        raise LegacyConfigError("invalid %s %s: %s" % (what, _quoted(text), exc), path) from exc


def _peer(raw: dict, index: int, namespace: str) -> dict:
    path = "data.config.peers[%d]" % (index - 1)
    hold_text = raw.get("hold-time") or ""
    hold = 90 if hold_text == "" else _whole_seconds(hold_text, "hold time", path + ".hold-time")
    if hold != 0 and hold < 3:
        raise LegacyConfigError('invalid hold time %s: must be 0 or >=3s' % _quoted(hold_text), path + ".hold-time")
    spec: dict = {"myASN": raw.get("my-asn", 0), "peerASN": raw.get("peer-asn", 0),
                  "peerAddress": raw.get("peer-address", "")}
    for key, field in (("source-address", "sourceAddress"), ("peer-port", "peerPort"),
                       ("router-id", "routerID"), ("password", "password"), ("ebgp-multihop", "ebgpMultiHop")):
        if raw.get(key):
            spec[field] = raw[key]
    spec["holdTime"] = go_duration(hold)
    if raw.get("keepalive-time"):
        spec["keepaliveTime"] = go_duration(_whole_seconds(raw["keepalive-time"], "keepalive time",
                                                           path + ".keepalive-time"))
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
    except Exception as exc:  # noqa: BLE001 - input no check foresaw: still one message, never a traceback
        raise LegacyConfigError("invalid legacy configuration: %s: %s" % (type(exc).__name__, exc)) from exc


def _convert(source: Any, namespace: str) -> list[dict]:
    config = _config_dict(source)
    pools = config.get("address-pools") or []
    out: list[dict] = []
    for index, raw in enumerate(config.get("peers") or [], 1):
        out.append(_peer(raw, index, namespace))
    for index, raw in enumerate(pools):
        if raw.get("protocol") not in _PROTOCOLS:
            raise LegacyConfigError("unknown protocol %s (MetalLB reads bgp or layer2)"
                                    % _quoted(raw.get("protocol") or ""), "data.config.address-pools[%d].protocol"
                                    % index)
        spec: dict = {"addresses": list(raw.get("addresses") or [])}
        if raw.get("auto-assign") is not None:
            spec["autoAssign"] = raw["auto-assign"]
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
        data = source.get("data")
        source = data.get("config") if isinstance(data, dict) else None
        if source is None:
            raise LegacyConfigError('ConfigMap has no "config" key in data', "data")
    if isinstance(source, str):
        from ..manifests import ManifestError, load_documents

        try:
            docs = [d for d in load_documents(source, "data.config") if d is not None]
        except ManifestError as exc:
            raise LegacyConfigError(str(exc).partition(": ")[2] or str(exc)) from None
        if len(docs) > 1:
            raise LegacyConfigError("holds %d YAML documents; MetalLB reads exactly one" % len(docs))
        source = docs[0] if docs else {}
    if not isinstance(source, dict):
        raise LegacyConfigError("must be a YAML mapping, got %s" % _type_name(source))
    return _checked(source, SCHEMA, "data.config")
