# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The BGPPeer v1beta1 ↔ v1beta2 conversion webhook: a ConversionReview in, the converted objects out.

As MetalLB's: the fields both versions have are copied as they are (the node selectors have the same
JSON form in both); the fields only v1beta2 has are dropped when an object is read as v1beta1.
"""

from __future__ import annotations

import copy

GROUP = "metallb.io"
KIND = "BGPPeer"
VERSIONS = ("v1beta1", "v1beta2")
V1BETA1_FIELDS = frozenset((
    "myASN", "peerASN", "peerAddress", "sourceAddress", "peerPort", "holdTime", "keepaliveTime", "routerID",
    "nodeSelectors", "password", "bfdProfile", "ebgpMultiHop",
))


class ConversionError(ValueError):
    """An object this webhook cannot convert (the message names it)."""


def convert(obj: dict, desired_api_version: str) -> dict:
    """``obj`` (a BGPPeer at either version) as ``desired_api_version``."""
    group, _slash, version = desired_api_version.partition("/")
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    what = '%s "%s"' % (obj.get("kind") or KIND, meta.get("name") or "")
    if group != GROUP or version not in VERSIONS:
        raise ConversionError("%s: cannot convert to %s" % (what, desired_api_version))
    source = str(obj.get("apiVersion") or "")
    if obj.get("kind") != KIND or source not in ("%s/%s" % (GROUP, v) for v in VERSIONS):
        raise ConversionError("%s: only %s objects of %s are converted here" % (what, KIND, GROUP))
    out = copy.deepcopy(obj)
    out["apiVersion"] = desired_api_version
    spec = out.get("spec")
    if version == "v1beta1" and isinstance(spec, dict):
        out["spec"] = {k: v for k, v in spec.items() if k in V1BETA1_FIELDS}
    return out


def conversion_response(review: dict) -> dict:
    """The ConversionReview (apiextensions.k8s.io/v1) answer: every object converted, or a failure."""
    request = review.get("request") if isinstance(review, dict) else None
    request = request if isinstance(request, dict) else {}
    response: dict = {"uid": str(request.get("uid") or "")}
    try:
        desired = str(request.get("desiredAPIVersion") or "")
        objects = request.get("objects")
        if not isinstance(objects, list):
            raise ConversionError("no objects in the conversion request")
        response["convertedObjects"] = [convert(obj, desired) for obj in objects]
        response["result"] = {"status": "Success"}
    except (ConversionError, AttributeError, TypeError) as exc:
        response.pop("convertedObjects", None)
        response["result"] = {"status": "Failure", "message": str(exc)}
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview", "response": response}
