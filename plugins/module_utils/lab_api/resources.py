# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The resource registry: which kinds exist, at which group/versions, and their discovery documents.

Built in: core/v1 namespaces, services, nodes, configmaps, secrets, events, pods, endpoints,
serviceaccounts; discovery.k8s.io/v1 endpointslices; coordination.k8s.io/v1 leases; events.k8s.io/v1
events (the same storage as core/v1 events, as in the real API); apiextensions.k8s.io/v1
customresourcedefinitions. Creating a CRD registers its kind at every served version
(``register_crd``); deleting it unregisters the kind.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import FieldError, Invalid, invalid, not_supported, required

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

FieldGetter = Callable[[dict], Any]


def _path_getter(*path: str) -> FieldGetter:
    def get(obj: dict) -> Any:
        node: Any = obj
        for part in path:
            if not isinstance(node, dict):
                return ""
            node = node.get(part)
        return node

    return get


def field_text(value: Any) -> str:
    """How the API renders a field for selector matching (bools as true/false, absent as "")."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Resource:
    group: str
    plural: str
    kind: str
    namespaced: bool
    versions: list[str]
    storage_version: str
    singular: str = ""
    short_names: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    status: bool = False
    custom: bool = False
    return_deleted: bool = False
    generation: bool = False
    fields: dict[str, FieldGetter] = field(default_factory=dict)
    schemas: dict[str, dict] = field(default_factory=dict)
    storage_key: tuple | None = None  # another resource's storage (events.k8s.io → core events)
    crd_name: str = ""
    conversion: str = "None"

    @property
    def key(self) -> tuple:
        return self.storage_key or (self.group, self.plural)

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version

    def field_supported(self, name: str) -> bool:
        return name in ("metadata.name", "metadata.namespace") or name in self.fields

    def field_value(self, obj: dict, name: str) -> str:
        meta = obj.get("metadata") or {}
        if name == "metadata.name":
            return meta.get("name") or ""
        if name == "metadata.namespace":
            return meta.get("namespace") or ""
        return field_text(self.fields[name](obj))


def _builtin(
    group: str, version: str, plural: str, kind: str, namespaced: bool = True, **extra: Any
) -> Resource:
    return Resource(
        group=group,
        plural=plural,
        kind=kind,
        namespaced=namespaced,
        versions=[version],
        storage_version=version,
        singular=kind.lower(),
        **extra,
    )


_CORE_EVENT_FIELDS = {
    "involvedObject.kind": _path_getter("involvedObject", "kind"),
    "involvedObject.namespace": _path_getter("involvedObject", "namespace"),
    "involvedObject.name": _path_getter("involvedObject", "name"),
    "involvedObject.uid": _path_getter("involvedObject", "uid"),
    "involvedObject.apiVersion": _path_getter("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": _path_getter("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": _path_getter("involvedObject", "fieldPath"),
    "reason": _path_getter("reason"),
    "reportingComponent": _path_getter("reportingComponent"),
    "source": _path_getter("source", "component"),
    "type": _path_getter("type"),
}
# events.k8s.io/v1 selects on the same stored (core) object under its own names.
_EVENTS_V1_FIELDS = {
    "regarding." + k.split(".", 1)[1]: g for k, g in _CORE_EVENT_FIELDS.items() if k.startswith("involved")
}
_EVENTS_V1_FIELDS.update(
    {
        "reason": _path_getter("reason"),
        "type": _path_getter("type"),
        "reportingController": _path_getter("reportingComponent"),
    }
)

_POD_FIELDS = {
    "spec.nodeName": _path_getter("spec", "nodeName"),
    "spec.restartPolicy": _path_getter("spec", "restartPolicy"),
    "spec.schedulerName": _path_getter("spec", "schedulerName"),
    "spec.serviceAccountName": _path_getter("spec", "serviceAccountName"),
    "spec.hostNetwork": lambda o: bool((o.get("spec") or {}).get("hostNetwork")),
    "status.phase": _path_getter("status", "phase"),
    "status.podIP": _path_getter("status", "podIP"),
    "status.nominatedNodeName": _path_getter("status", "nominatedNodeName"),
}


def builtin_resources() -> list[Resource]:
    return [
        _builtin(
            "",
            "v1",
            "namespaces",
            "Namespace",
            False,
            short_names=["ns"],
            status=True,
            return_deleted=True,
            fields={"status.phase": _path_getter("status", "phase")},
        ),
        _builtin(
            "",
            "v1",
            "services",
            "Service",
            short_names=["svc"],
            categories=["all"],
            status=True,
            return_deleted=True,
        ),
        _builtin(
            "",
            "v1",
            "nodes",
            "Node",
            False,
            short_names=["no"],
            status=True,
            fields={"spec.unschedulable": lambda o: bool((o.get("spec") or {}).get("unschedulable"))},
        ),
        _builtin("", "v1", "configmaps", "ConfigMap", short_names=["cm"]),
        _builtin("", "v1", "secrets", "Secret", fields={"type": _path_getter("type")}),
        _builtin("", "v1", "events", "Event", short_names=["ev"], fields=dict(_CORE_EVENT_FIELDS)),
        _builtin(
            "",
            "v1",
            "pods",
            "Pod",
            short_names=["po"],
            categories=["all"],
            status=True,
            return_deleted=True,
            fields=dict(_POD_FIELDS),
        ),
        _builtin("", "v1", "endpoints", "Endpoints", short_names=["ep"]),
        _builtin("", "v1", "serviceaccounts", "ServiceAccount", short_names=["sa"], return_deleted=True),
        _builtin(
            "discovery.k8s.io",
            "v1",
            "endpointslices",
            "EndpointSlice",
            fields={"addressType": _path_getter("addressType")},
        ),
        _builtin("coordination.k8s.io", "v1", "leases", "Lease"),
        _builtin(
            "events.k8s.io",
            "v1",
            "events",
            "Event",
            short_names=["ev"],
            storage_key=("", "events"),
            fields=dict(_EVENTS_V1_FIELDS),
        ),
        _builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            False,
            short_names=["crd", "crds"],
            categories=["api-extensions"],
            status=True,
            generation=True,
            return_deleted=True,
        ),
    ]


# --------------------------------------------------------------------------- version ordering

_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple:
    """Kubernetes version priority: GA > beta > alpha, newer first; others last, alphabetical."""
    match = _KUBE_VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


# --------------------------------------------------------------------------- CRD → Resource

_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def crd_resource(crd: dict) -> Resource:
    """Validate a CustomResourceDefinition (the checks a client can trip) and build its Resource."""
    errors: list[FieldError] = []
    meta = crd.get("metadata") or {}
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    group = spec.get("group") or ""
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    plural = names.get("plural") or ""
    kind = names.get("kind") or ""
    scope = spec.get("scope") or ""
    if not group:
        errors.append(required("spec.group"))
    elif "." not in group:
        errors.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    if not plural:
        errors.append(required("spec.names.plural"))
    elif not _DNS_LABEL.match(plural):
        errors.append(
            invalid(
                "spec.names.plural",
                plural,
                "a lowercase RFC 1123 label must consist of lower "
                "case alphanumeric characters or '-', and must start and end with an "
                "alphanumeric character",
            )
        )
    if not kind:
        errors.append(required("spec.names.kind"))
    if scope not in ("Namespaced", "Cluster"):
        errors.append(not_supported("spec.scope", scope, ["Cluster", "Namespaced"]))
    if group and plural and meta.get("name") != f"{plural}.{group}":
        errors.append(
            invalid("metadata.name", meta.get("name") or "", 'must be spec.names.plural+"."+spec.group')
        )
    versions = spec.get("versions") if isinstance(spec.get("versions"), list) else []
    if not versions:
        errors.append(required("spec.versions", "must have exactly one version marked as storage version"))
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if versions and len(storage) != 1:
        errors.append(
            invalid(
                "spec.versions",
                versions and [v.get("name") for v in versions],
                "must have exactly one version marked as storage version",
            )
        )
    served: list[str] = []
    schemas: dict[str, dict] = {}
    status = False
    seen = set()
    for i, version in enumerate(versions):
        path = f"spec.versions[{i}]"
        if not isinstance(version, dict) or not version.get("name"):
            errors.append(required(path + ".name"))
            continue
        name = version["name"]
        if name in seen:
            errors.append(invalid(path + ".name", name, "must be unique"))
        seen.add(name)
        if not _DNS_LABEL.match(name):
            errors.append(
                invalid(
                    path + ".name",
                    name,
                    "a DNS-1035 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not isinstance(schema, dict):
            errors.append(required(path + ".schema.openAPIV3Schema", "schemas are required"))
        else:
            if schema.get("type") != "object":
                errors.append(
                    invalid(
                        path + ".schema.openAPIV3Schema.type",
                        schema.get("type") or "",
                        "must be object at the root",
                    )
                )
            schemas[name] = schema
        if version.get("served"):
            served.append(name)
        if "status" in (version.get("subresources") or {}):
            status = True
    if errors:
        raise Invalid("apiextensions.k8s.io", "CustomResourceDefinition", meta.get("name") or "", errors)
    served.sort(key=version_priority)
    selectable: dict[str, FieldGetter] = {}
    for version in versions:
        for entry in version.get("selectableFields") or ():
            path = (entry.get("jsonPath") or "").lstrip(".")
            if path:
                selectable[path] = _path_getter(*path.split("."))
    return Resource(
        group=group,
        plural=plural,
        kind=kind,
        namespaced=scope == "Namespaced",
        versions=served,
        storage_version=storage[0]["name"],
        singular=names.get("singular") or kind.lower(),
        short_names=list(names.get("shortNames") or []),
        categories=list(names.get("categories") or []),
        status=status,
        custom=True,
        generation=True,
        fields=selectable,
        schemas=schemas,
        crd_name=meta.get("name") or "",
        conversion=((spec.get("conversion") or {}).get("strategy") or "None"),
    )


def crd_status(crd: dict, previous: dict | None = None) -> dict:
    """What the real API's CRD controllers write into status once the names are accepted."""
    spec = crd.get("spec") or {}
    names = dict(spec.get("names") or {})
    names.setdefault("singular", (names.get("kind") or "").lower())
    names.setdefault("listKind", (names.get("kind") or "") + "List")
    stored = list(((previous or {}).get("status") or {}).get("storedVersions") or [])
    for version in spec.get("versions") or ():
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    now = crd["metadata"].get("creationTimestamp")
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": stored,
    }


# --------------------------------------------------------------------------- the registry


class Registry:
    """Lookup by (group, version, plural) and discovery documents. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._resources: dict[tuple[str, str], Resource] = {}
        for resource in builtin_resources():
            self._resources[(resource.group, resource.plural)] = resource

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        with self._lock:
            resource = self._resources.get((group, plural))
        if resource is None or version not in resource.versions:
            return None
        return resource

    def by_key(self, group: str, plural: str) -> Resource | None:
        with self._lock:
            return self._resources.get((group, plural))

    def register(self, resource: Resource) -> None:
        with self._lock:
            self._resources[(resource.group, resource.plural)] = resource

    def unregister(self, group: str, plural: str) -> Resource | None:
        with self._lock:
            return self._resources.pop((group, plural), None)

    def all(self) -> list[Resource]:
        with self._lock:
            return list(self._resources.values())

    # ------------------------------------------------------------------ discovery
    def group_versions(self) -> dict[str, list[str]]:
        groups: dict[str, set] = {}
        for resource in self.all():
            groups.setdefault(resource.group, set()).update(resource.versions)
        return {g: sorted(v, key=version_priority) for g, v in groups.items()}

    def api_group(self, group: str) -> dict | None:
        versions = self.group_versions().get(group)
        if not group or not versions:
            return None
        entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {
            "kind": "APIGroup",
            "apiVersion": "v1",
            "name": group,
            "versions": entries,
            "preferredVersion": entries[0],
        }

    def api_group_list(self) -> dict:
        groups = []
        for group in sorted(g for g in self.group_versions() if g):
            entry = self.api_group(group)
            if entry:
                entry = {k: v for k, v in entry.items() if k not in ("kind", "apiVersion")}
                groups.append(entry)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def resource_list(self, group: str, version: str) -> dict | None:
        entries = []
        for resource in sorted(self.all(), key=lambda r: r.plural):
            if resource.group != group or version not in resource.versions:
                continue
            entry: dict[str, Any] = {
                "name": resource.plural,
                "singularName": resource.singular,
                "namespaced": resource.namespaced,
                "kind": resource.kind,
                "verbs": list(VERBS),
            }
            if resource.short_names:
                entry["shortNames"] = list(resource.short_names)
            if resource.categories:
                entry["categories"] = list(resource.categories)
            entries.append(entry)
            if resource.status:
                entries.append(
                    {
                        "name": resource.plural + "/status",
                        "singularName": "",
                        "namespaced": resource.namespaced,
                        "kind": resource.kind,
                        "verbs": ["get", "patch", "update"],
                    }
                )
        if not entries:
            return None
        group_version = f"{group}/{version}" if group else version
        body: dict[str, Any] = {
            "kind": "APIResourceList",
            "groupVersion": group_version,
            "resources": entries,
        }
        if group:
            body["apiVersion"] = "v1"
        return body
