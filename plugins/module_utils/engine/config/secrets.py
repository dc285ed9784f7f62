# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""BGP session passwords: found wherever they can be in the input, so every output can hide them.

A BGPPeer carries its password in ``spec.password`` or in a ``kubernetes.io/basic-auth`` Secret;
MetalLB's legacy ConfigMap in ``peers[].password``.
Modules add them to Ansible's ``no_log_values`` (masked in results, diffs and ``-vvv`` output), and
what metal.lb writes or shows of an object itself (its ``last-applied`` annotation, diffs) holds
``MASK`` instead of the value.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Iterable

from .legacy import LegacyConfigError, convert_configmap

MASK = "********"
PEER_KIND = "BGPPeer"


def _password_values(secret: dict) -> Iterable[str]:
    data = secret.get("data")
    if isinstance(data, dict) and isinstance(data.get("password"), str):
        try:
            yield base64.b64decode(data["password"], validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            pass
        yield data["password"]  # as stored, base64: a secret too
    string_data = secret.get("stringData")
    if isinstance(string_data, dict) and isinstance(string_data.get("password"), str):
        yield string_data["password"]


def bgp_passwords(objects: Iterable[object]) -> set[str]:
    """Every BGP password in ``objects``: BGPPeer ``spec.password`` and Secrets' ``password`` keys."""
    found: set[str] = set()
    for obj in objects or ():
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind")
        if kind == PEER_KIND:
            spec = obj.get("spec")
            if isinstance(spec, dict) and isinstance(spec.get("password"), str):
                found.add(spec["password"])
        elif kind == "Secret":
            found.update(_password_values(obj))
        elif kind == "ConfigMap" and isinstance(obj.get("data"), dict) and obj["data"].get("config"):
            try:  # MetalLB's legacy ConfigMap: peers[].password, read as the converter reads it
                converted = convert_configmap(obj)
            except (LegacyConfigError, ValueError):
                continue
            found.update(bgp_passwords(converted))
    found.discard("")
    return found


def masked_spec(kind: object, spec: object) -> object:
    """``spec`` as metal.lb may copy or show it: a BGPPeer's password replaced by ``MASK``."""
    if kind != PEER_KIND or not isinstance(spec, dict) or spec.get("password") in (None, ""):
        return spec
    out = copy.copy(spec)
    out["password"] = MASK
    return out
