# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""MetalLB's validating webhooks: an AdmissionReview in, the decision out.

The rules are the configuration parser's (``config.parse``): the webhook only chooses which
objects the parser sees, as MetalLB does. For a create or update it lists the existing objects of
the kind (and what the kind refers to), puts the candidate in place of its stored version, and
parses that set. Delete is allowed, except a BFDProfile a BGPPeer uses. Reading the cluster is
the caller's ``lister`` (one list call per kind, through the API: a watch cache could still miss
an object created a moment earlier, and two overlapping pools applied together would both pass).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from ...engine.config.modes import DEFAULT_BGP_TYPE
from ...engine.config.parse import parse_config

# path → kind; MetalLB's paths (one webhook per kind, at the version it registers).
PATHS = {
    "/validate-metallb-io-v1beta1-ipaddresspool": "IPAddressPool",
    "/validate-metallb-io-v1beta1-l2advertisement": "L2Advertisement",
    "/validate-metallb-io-v1beta1-bgpadvertisement": "BGPAdvertisement",
    "/validate-metallb-io-v1beta1-community": "Community",
    "/validate-metallb-io-v1beta1-bfdprofile": "BFDProfile",
    "/validate-metallb-io-v1beta2-bgppeer": "BGPPeer",
}
# What the parser needs beside the kind itself to judge one object of the kind (MetalLB's lists).
CONTEXT = {
    "IPAddressPool": (),
    "L2Advertisement": ("IPAddressPool",),
    "BGPAdvertisement": ("IPAddressPool", "Node"),
    "BGPPeer": ("Node",),
    "Community": (),
}
DISABLE_MP_WARNING = "disable mp is deprecated and has no effect since it's the default behavior now"

# ``lister(kind, namespace)`` → the stored objects of ``kind`` (Nodes: cluster-wide), as dicts.
Lister = Callable[[str, str], list]


class ListError(Exception):
    """The existing objects could not be read (the request is refused with this message)."""


@dataclass
class Decision:
    allowed: bool
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    code: int = 200


def _name(obj: dict) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _without_transient_fields(obj: dict) -> dict:
    """MetalLB strips what may name an object created later (BFD profile, password Secret, community
    aliases), so objects can be created in any order; the daemons still report them if they stay missing."""
    obj = copy.deepcopy(obj)
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return obj
    if obj.get("kind") == "BGPPeer":
        spec.pop("bfdProfile", None)
        spec.pop("passwordSecret", None)
    elif obj.get("kind") == "BGPAdvertisement" and isinstance(spec.get("communities"), list):
        spec["communities"] = [c for c in spec["communities"] if not isinstance(c, str) or ":" in c]
    return obj


def with_candidate(existing: list, candidate: dict) -> list:
    """The stored objects with ``candidate`` in place of its stored version (or added)."""
    name = _name(candidate)
    out = [obj for obj in existing if _name(obj) != name]
    out.append(candidate)
    return out


def decide(request: dict, lister: Lister, *, namespace: str, any_namespace: bool = False,
           bgp_type: str = DEFAULT_BGP_TYPE) -> Decision:
    """The decision for one AdmissionReview ``request``.

    ``namespace`` is the configuration namespace: objects must be created there (MetalLB's check). With
    ``any_namespace`` an object is instead judged with the objects of its own namespace (test clusters
    where every test keeps its configuration in a namespace of its own).
    """
    kind = str((request.get("kind") or {}).get("kind") or "")
    operation = str(request.get("operation") or "")
    obj_ns = str(request.get("namespace") or "")
    where = obj_ns if any_namespace else namespace
    if operation == "DELETE":
        return _decide_delete(kind, request.get("oldObject") or {}, lister, where)
    obj = request.get("object")
    if not isinstance(obj, dict):
        return Decision(False, "no object in the admission request", code=400)
    obj = dict(obj, kind=kind or obj.get("kind"))
    if kind == "BGPPeer" and operation == "CREATE" and (obj.get("spec") or {}).get("disableMP") is True:
        return Decision(True, warnings=[DISABLE_MP_WARNING])  # MetalLB: nothing else is checked then
    if operation == "CREATE" and not any_namespace and obj_ns != namespace:
        return Decision(False, "resource must be created in %s namespace" % namespace, code=403)
    if kind == "BFDProfile" or kind not in CONTEXT:
        return Decision(True)
    try:
        objects = with_candidate(list(lister(kind, where)), obj)
        for other in CONTEXT[kind]:
            objects.extend(lister(other, where))
    except ListError as exc:
        return Decision(False, str(exc), code=500)
    objects = [_without_transient_fields(dict(o, metadata=dict(o.get("metadata") or {}, namespace=where)))
               if o.get("kind") != "Node" else o for o in objects]
    result = parse_config(objects, namespace=where, bgp_type=bgp_type)
    if result.errors:
        return Decision(False, "; ".join(str(e) for e in result.errors), code=403)
    name = _name(obj)
    warnings = [str(e) for e in result.unresolved if e.kind == kind and e.name == name]
    return Decision(True, warnings=warnings)


def _decide_delete(kind: str, old: dict, lister: Lister, where: str) -> Decision:
    if kind != "BFDProfile":
        return Decision(True)
    name = _name(old)
    try:
        peers = lister("BGPPeer", where)
    except ListError as exc:
        return Decision(False, str(exc), code=500)
    for peer in sorted(peers, key=_name):
        if (peer.get("spec") or {}).get("bfdProfile") == name:
            return Decision(False, "failed to delete BFDProfile %s, used by BGPPeer %s" % (name, _name(peer)),
                            code=403)
    return Decision(True)


def review_response(review: dict, decision: Decision) -> dict:
    """The AdmissionReview (v1) answer for ``decision``."""
    uid = str((review.get("request") or {}).get("uid") or "")
    response: dict = {"uid": uid, "allowed": decision.allowed}
    if not decision.allowed:
        response["status"] = {"code": decision.code, "message": decision.message,
                              "reason": "Forbidden" if decision.code == 403 else "",
                              "status": "Failure"}
    if decision.warnings:
        response["warnings"] = list(decision.warnings)
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}


def handle_review(path: str, review: dict, lister: Lister, *, namespace: str, any_namespace: bool = False,
                  bgp_type: str = DEFAULT_BGP_TYPE) -> dict:
    """Route one AdmissionReview posted to ``path`` (unknown paths and kinds are refused)."""
    request = review.get("request") if isinstance(review, dict) else None
    if not isinstance(request, dict):
        return review_response({}, Decision(False, "not an AdmissionReview", code=400))
    kind = PATHS.get(path)
    got = str((request.get("kind") or {}).get("kind") or "")
    if kind is None or kind != got:
        return review_response(review, Decision(False, "%s does not validate %s" % (path, got or "this"),
                                                code=400))
    return review_response(review, decide(request, lister, namespace=namespace, any_namespace=any_namespace,
                                          bgp_type=bgp_type))
