# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where an object of the kinds metal.lb installs lives in the REST API.

A table rather than API discovery: the kinds are the ones ``manifests/`` and the roles write, and a
table answers without a round trip per API group (a real cluster serves dozens of them).
"""

from __future__ import annotations

from dataclasses import dataclass


class KindError(ValueError):
    """An object the table cannot place (names the object and the field)."""


@dataclass(frozen=True)
class Kind:
    plural: str
    namespaced: bool


# (apiVersion group, kind) -> REST placement; the version comes from the object itself.
KINDS: dict[tuple[str, str], Kind] = {
    ("", "Namespace"): Kind("namespaces", False),
    ("", "ServiceAccount"): Kind("serviceaccounts", True),
    ("", "Service"): Kind("services", True),
    ("", "Endpoints"): Kind("endpoints", True),
    ("", "Secret"): Kind("secrets", True),
    ("", "ConfigMap"): Kind("configmaps", True),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): Kind("customresourcedefinitions", False),
    ("rbac.authorization.k8s.io", "ClusterRole"): Kind("clusterroles", False),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): Kind("clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "Role"): Kind("roles", True),
    ("rbac.authorization.k8s.io", "RoleBinding"): Kind("rolebindings", True),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"):
        Kind("validatingwebhookconfigurations", False),
    ("discovery.k8s.io", "EndpointSlice"): Kind("endpointslices", True),
    ("coordination.k8s.io", "Lease"): Kind("leases", True),
}


def describe(obj: dict) -> str:
    """``Kind/name`` or ``Kind namespace/name`` for messages and results."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = meta.get("name") or "?"
    namespace = meta.get("namespace")
    return "%s %s/%s" % (obj.get("kind") or "?", namespace, name) if namespace else "%s/%s" % (
        obj.get("kind") or "?", name)


def split_api_version(api_version: str) -> tuple[str, str]:
    """``rbac.authorization.k8s.io/v1`` -> (group, version); ``v1`` -> ("", "v1")."""
    group, _slash, version = api_version.rpartition("/")
    return group, version


def object_path(obj: dict) -> str:
    """The REST path of ``obj`` (``/api/v1/namespaces/x/services/y``). Raises KindError."""
    if not isinstance(obj, dict):
        raise KindError("expected a Kubernetes object (a mapping), got %s" % type(obj).__name__)
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    meta = obj.get("metadata")
    if not isinstance(api_version, str) or not api_version or not isinstance(kind, str) or not kind:
        raise KindError("%s: apiVersion and kind are required" % describe(obj))
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise KindError("%s: metadata.name is required" % describe(obj))
    group, version = split_api_version(api_version)
    placement = KINDS.get((group, kind))
    if placement is None:
        known = ", ".join(sorted(k for _g, k in KINDS))
        raise KindError("%s: kind %s of %s is not one metal.lb installs (%s)"
                        % (describe(obj), kind, api_version, known))
    base = "/api/%s" % version if not group else "/apis/%s/%s" % (group, version)
    namespace = meta.get("namespace")
    if placement.namespaced:
        if not isinstance(namespace, str) or not namespace:
            raise KindError("%s: metadata.namespace is required for a %s" % (describe(obj), kind))
        base += "/namespaces/%s" % namespace
    elif namespace:
        raise KindError("%s: metadata.namespace: a %s is cluster-scoped" % (describe(obj), kind))
    return "%s/%s/%s" % (base, placement.plural, meta["name"])
