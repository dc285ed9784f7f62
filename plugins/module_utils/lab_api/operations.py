# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The verbs of the API (get, list, watch, create, update, patch, delete, deletecollection) over the
store, independent of HTTP.

Semantics follow the real API server (k8s.io/apiserver ``registry/generic/registry/store.go``,
``registry/rest/*.go`` and the per-kind strategies) wherever they are implemented here:

- metadata: uid, creationTimestamp (RFC 3339), one global resourceVersion counter (strings),
  generation for custom resources and CRDs (bumped when anything but metadata/status changes),
  generateName (5 random characters from the real alphabet), namespace must exist (404),
  namespace in body vs URL (400), ``kubernetes.io/metadata.name`` label on namespaces;
- PUT with a stale resourceVersion ⇒ 409 Conflict; without one ⇒ unconditional update, except for
  custom resources and CRDs which require it (422, as their strategies do); a no-op update writes
  nothing (no new resourceVersion, no watch event);
- status subresource: main-resource writes keep the stored status, status writes keep everything
  else (custom resources also keep labels/annotations/finalizers/ownerReferences);
- deletes are immediate (no deletionTimestamp, no graceful deletion, no garbage collection by
  ownerReferences); deleting an object that has ``metadata.finalizers`` is refused with 422
  because finalization is not implemented; deleting a namespace deletes everything in it, deleting a
  CRD deletes its objects and unregisters the kind;
- list: labelSelector, fieldSelector, limit/continue (a continue token is honoured only while the
  resource has not changed since the first page; otherwise 410 Expired like a compacted etcd);
- watch: see ``WatchStream``.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import queue
import random
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import conversion, schema
from .errors import (
    STALE,
    ApiError,
    FieldError,
    Invalid,
    already_exists,
    bad_request,
    conflict,
    expired,
    invalid,
    not_found,
    not_implemented,
    timeout,
    unsupported_media_type,
)
from .patch import json_patch, merge_patch, strategic_merge_patch
from .resources import Registry, Resource, crd_resource, crd_status
from .selectors import fields_match, labels_match, parse_field_selector, parse_label_selector
from .services import ServiceAllocator, ServiceIPsFull, validate_status
from .store import Change, Expired, Store, Watcher

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - reported by the CLI
    yaml = None
    HAS_YAML = False

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery util/rand
META_KEYS = {
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
}
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
MERGE, STRATEGIC, JSON_PATCH = (
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/json-patch+json",
)

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_1123_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Result:
    code: int
    body: Any
    warnings: list[str] = field(default_factory=list)


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_validation: str = "Warn"

    @classmethod
    def parse(cls, query: dict) -> WriteOptions:
        dry = query.get("dryRun")
        if dry not in (None, "", "All"):
            raise bad_request(f"Invalid dry run value: {dry}. Valid values are: All")
        mode = query.get("fieldValidation") or "Warn"
        if mode not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f"fieldValidation parameter unsupported: {mode}")
        return cls(dry_run=dry == "All", field_validation=mode)


def _rv_int(text: Any, what: str = "resourceVersion") -> int:
    try:
        value = int(str(text))
    except ValueError as exc:
        raise bad_request(f"invalid {what}: {text}") from exc
    if value < 0:
        raise bad_request(f"invalid {what}: {text}")
    return value


def _without(obj: dict, *keys: str) -> dict:
    return {k: v for k, v in obj.items() if k not in keys}


def _strip_rv(obj: dict) -> dict:
    out = dict(obj)
    out["metadata"] = _without(obj.get("metadata") or {}, "resourceVersion", "managedFields")
    return out


def _ident(obj: dict) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


class LabApi:
    """All verbs; one instance per server. Thread-safe through the store lock."""

    def __init__(self, store: Store, registry: Registry, allocator: ServiceAllocator) -> None:
        self.store = store
        self.registry = registry
        self.services = allocator
        self._random = random.Random()

    # ================================================================== start-up
    def bootstrap(self) -> None:
        """What a fresh cluster has: the system namespaces and the ``default/kubernetes`` Service."""
        ns_res = self.registry.by_key("", "namespaces")
        for name in DEFAULT_NAMESPACES:
            if self.store.get(ns_res.key, "", name) is None:
                self.create(ns_res, "v1", None, {"metadata": {"name": name}}, {})
        svc_res = self.registry.by_key("", "services")
        if self.store.get(svc_res.key, "default", "kubernetes") is None:
            self.create(
                svc_res,
                "v1",
                "default",
                {
                    "metadata": {
                        "name": "kubernetes",
                        "labels": {"component": "apiserver", "provider": "kubernetes"},
                    },
                    "spec": {
                        "clusterIP": self.services.first_ip(),
                        "type": "ClusterIP",
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
                    },
                },
                {},
            )

    def load_crd_dir(self, directory: str) -> list[str]:
        """Create (or replace) every CustomResourceDefinition found in *.yaml/*.yml/*.json of a directory.

        Returns one line per document that could not be applied (the server still starts)."""
        problems: list[str] = []
        if not directory or not os.path.isdir(directory):
            return problems
        crd_res = self.registry.by_key("apiextensions.k8s.io", "customresourcedefinitions")
        for entry in sorted(os.listdir(directory)):
            if not entry.endswith((".yaml", ".yml", ".json")):
                continue
            path = os.path.join(directory, entry)
            try:
                with open(path, encoding="utf-8") as handle:
                    docs = list(yaml.safe_load_all(handle)) if yaml is not None else [json.load(handle)]
            except Exception as exc:  # noqa: BLE001 - OSError, yaml.YAMLError, ValueError: report, keep starting
                problems.append(f"{path}: {exc}")
                continue
            for doc in docs:
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                name = (doc.get("metadata") or {}).get("name") or "?"
                try:
                    existing = self.store.get(crd_res.key, "", name)
                    if existing is None:
                        self.create(crd_res, "v1", None, doc, {})
                    else:
                        body = copy.deepcopy(doc)
                        body.setdefault("metadata", {})["resourceVersion"] = existing["metadata"][
                            "resourceVersion"
                        ]
                        self.update(crd_res, "v1", None, name, body, {}, None)
                except ApiError as exc:
                    problems.append(f"{path}: CustomResourceDefinition {name}: {exc.message}")
                except Invalid as exc:
                    problems.append(f"{path}: {exc.api_error().message}")
        return problems

    def restore(self, snapshot: dict) -> None:
        """Load a ``Store.snapshot`` (``--state``): CRDs are registered, allocations rebuilt."""
        items = []
        for bucket in snapshot.get("resources") or ():
            key = (bucket.get("group") or "", bucket["plural"])
            for obj in bucket.get("items") or ():
                items.append((key, obj))
        self.store.load(items, int(snapshot.get("resourceVersion") or 0))
        for key, obj in items:
            if key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                self.registry.register(crd_resource(obj))
            elif key == ("", "services"):
                self.services.reserve_existing(obj)

    # ================================================================== reads
    def get(self, res: Resource, version: str, namespace: str | None, name: str) -> Result:
        with self.store.lock:
            obj = self.store.get(res.key, namespace or "", name)
        if obj is None:
            raise not_found(res.group, res.plural, name)
        return Result(200, self._read(res, obj, version), self._conversion_warnings(res, version))

    def _read(self, res: Resource, obj: dict, version: str) -> dict:
        out = conversion.from_storage(res, obj, version)
        if res.custom and version != res.storage_version and version in res.schemas:
            out = copy.deepcopy(out)
            schema.prune(out, res.schemas[version])
            schema.apply_defaults(out, res.schemas[version])
        return out

    def _conversion_warnings(self, res: Resource, version: str) -> list[str]:
        if version != res.storage_version and conversion.needs_webhook_warning(res):
            return [
                f"{res.crd_name}: conversion webhooks are not run by the metal.lb lab API; "
                "served with strategy None"
            ]
        return []

    def list(self, res: Resource, version: str, namespace: str | None, query: dict) -> Result:
        reqs = parse_label_selector(query.get("labelSelector"))
        terms = parse_field_selector(query.get("fieldSelector"), res.field_supported)
        rv_text = query.get("resourceVersion") or ""
        match = query.get("resourceVersionMatch") or ""
        token = query.get("continue") or ""
        limit = _rv_int(query.get("limit") or 0, "limit")
        if token and rv_text:
            raise bad_request("specifying resource version is not allowed when using continue")
        if match and match not in ("NotOlderThan", "Exact"):
            raise bad_request(f"resourceVersionMatch: unsupported value {match!r}")
        if match and not rv_text:
            raise bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
        if rv_text and rv_text != "0":
            wanted = _rv_int(rv_text)
            if wanted > self.store.rv and not self.store.wait_for_rv(wanted, 3.0):
                raise timeout(
                    f"Too large resource version: {wanted}, current: {self.store.rv}",
                    1,
                    [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                )
            if match == "Exact" and wanted != self.store.rv:
                raise not_implemented(
                    "resourceVersionMatch=Exact for a version other than the current one "
                    "(the lab API keeps no old snapshots)"
                )
        with self.store.lock:
            items = self.store.list(res.key, namespace)
            list_rv = self.store.rv
            start_after: tuple[str, str] | None = None
            if token:
                list_rv, start_after = self._decode_continue(token)
                if self.store.last_write.get(res.key, 0) > list_rv:
                    raise expired(
                        "The provided continue parameter is too old to display a consistent list "
                        "result. You can start a new list without the continue parameter."
                    )
        if start_after is not None:
            items = [i for i in items if _ident(i) > start_after]
        if reqs or terms:
            items = [i for i in items if labels_match(reqs, i) and fields_match(terms, i, res.field_value)]
        meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items = items[:limit]
            meta["continue"] = self._encode_continue(list_rv, _ident(items[-1]))
            if not reqs and not terms:
                meta["remainingItemCount"] = rest
        out_items = []
        for item in items:
            shown = self._read(res, item, version)
            if not res.custom:
                shown = _without(shown, "apiVersion", "kind")
            out_items.append(shown)
        body = {
            "kind": res.list_kind,
            "apiVersion": res.api_version(version),
            "metadata": meta,
            "items": out_items,
        }
        return Result(200, body, self._conversion_warnings(res, version))

    @staticmethod
    def _encode_continue(rv: int, after: tuple[str, str]) -> str:
        raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": "{}/{}".format(*after)}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def _decode_continue(token: str) -> tuple[int, tuple[str, str]]:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            data = json.loads(raw)
            ns, _sep, name = data["start"].partition("/")
            return int(data["rv"]), (ns, name)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise bad_request(f"continue key is not valid: {exc}") from exc

    # ================================================================== watch
    def watch(
        self, res: Resource, version: str, namespace: str | None, query: dict, bookmark_interval: float = 30.0
    ) -> WatchStream:
        reqs = parse_label_selector(query.get("labelSelector"))
        terms = parse_field_selector(query.get("fieldSelector"), res.field_supported)
        if (query.get("sendInitialEvents") or "").lower() == "true":
            raise not_implemented("sendInitialEvents (watch-list streaming)")
        rv_text = query.get("resourceVersion") or ""
        since = None if rv_text in ("", "0") else _rv_int(rv_text)
        seconds = query.get("timeoutSeconds")
        timeout_s = float(_rv_int(seconds, "timeoutSeconds")) if seconds not in (None, "") else 1800.0
        bookmarks = (query.get("allowWatchBookmarks") or "").lower() == "true"
        return WatchStream(
            self, res, version, namespace, since, reqs, terms, timeout_s, bookmarks, bookmark_interval
        )

    # ================================================================== writes
    def _incoming(self, res: Resource, version: str, body: Any) -> dict:
        if not isinstance(body, dict):
            raise bad_request(f"the body of the request must be a JSON object (a {res.kind})")
        want = res.api_version(version)
        if body.get("apiVersion") and body["apiVersion"] != want:
            raise bad_request(
                "the API version in the data ({}) does not match the expected API version ({})".format(
                    body["apiVersion"], want
                )
            )
        if body.get("kind") and body["kind"] != res.kind:
            raise bad_request(
                "the kind in the data ({}) does not match the expected kind ({})".format(
                    body["kind"], res.kind
                )
            )
        obj = dict(body)
        obj["apiVersion"], obj["kind"] = want, res.kind
        meta = obj.get("metadata")
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        obj["metadata"] = {k: v for k, v in meta.items() if k in META_KEYS and v is not None}
        return obj

    def _namespace_for(self, res: Resource, url_ns: str | None, meta: dict) -> str:
        if not res.namespaced:
            meta.pop("namespace", None)
            return ""
        body_ns = meta.get("namespace") or ""
        if body_ns and url_ns and body_ns != url_ns:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        ns = url_ns or body_ns
        if not ns:
            raise bad_request("the namespace of the object is required")
        meta["namespace"] = ns
        return ns

    def _require_namespace(self, ns: str) -> None:
        if self.store.get(("", "namespaces"), "", ns) is None:
            raise not_found("", "namespaces", ns)

    def _validate_meta(self, res: Resource, obj: dict) -> list[FieldError]:
        errors: list[FieldError] = []
        meta = obj["metadata"]
        name = meta.get("name") or ""
        if res.key == ("", "services"):
            pattern, message, limit = _LABEL_1035, LABEL_1035_MSG, 63
        elif res.key == ("", "namespaces"):
            pattern, message, limit = _LABEL_1123, LABEL_1123_MSG, 63
        else:
            pattern, message, limit = _SUBDOMAIN, SUBDOMAIN_MSG, 253
        if res.key == ("", "events") or res.key == ("", "nodes"):
            pattern = _SUBDOMAIN
        if not pattern.match(name):
            errors.append(invalid("metadata.name", name, message))
        elif len(name) > limit:
            errors.append(invalid("metadata.name", name, f"must be no more than {limit} characters"))
        for key, value in (meta.get("labels") or {}).items():
            errors.extend(self._qualified("metadata.labels", key))
            if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
                errors.append(invalid("metadata.labels", value, LABEL_VALUE_MSG))
        for key, value in (meta.get("annotations") or {}).items():
            errors.extend(self._qualified("metadata.annotations", key))
            if not isinstance(value, str):
                errors.append(invalid(f"metadata.annotations[{key}]", value, "must be a string"))
        return errors

    @staticmethod
    def _qualified(path: str, key: str) -> list[FieldError]:
        prefix, slash, name = str(key).rpartition("/")
        if not name or len(name) > 63 or not _QUALIFIED.match(name):
            return [invalid(path, key, QUALIFIED_MSG)]
        if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
            return [invalid(path, key, "prefix part " + SUBDOMAIN_MSG)]
        return []

    def _admit(
        self,
        res: Resource,
        version: str,
        obj: dict,
        old: dict | None,
        opts: WriteOptions,
        warnings: list[str],
        subresource: str | None,
    ) -> dict:
        """Validate (schema, metadata, kind rules) at the request version, return the storage form."""
        name = obj["metadata"].get("name") or ""
        errors = self._validate_meta(res, obj)
        if res.custom and version in res.schemas:
            unknown = schema.prune(obj, res.schemas[version])
            if unknown and opts.field_validation == "Strict":
                raise bad_request(
                    "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
                )
            if unknown and opts.field_validation == "Warn":
                warnings.extend(f'unknown field "{u}"' for u in unknown)
            schema.apply_defaults(obj, res.schemas[version])
            checked = schema.validate(obj, res.schemas[version], old)
            errors.extend(checked.errors)
            warnings.extend(
                "x-kubernetes-validations rule not evaluated by the metal.lb lab API (CEL outside "
                f"the supported subset): {rule}"
                for rule in checked.unevaluated
            )
        if res.key == ("", "services") and subresource == "status":
            errors.extend(validate_status(obj))
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions") and subresource != "status":
            try:
                crd_resource(obj)
            except Invalid as exc:
                errors.extend(exc.errors)
            else:
                self._check_crd_target(obj, old)
        if errors:
            raise Invalid(res.group, res.kind, name, errors)
        if res.key == ("", "services") and subresource != "status":
            try:
                self.services.prepare(obj, old, opts.dry_run)
            except Invalid as exc:
                exc.name = name
                raise
            except ServiceIPsFull as exc:
                raise ApiError(500, "InternalError", f"Internal error occurred: {exc}") from exc
        stored = conversion.to_storage(res, obj, version)
        if res.custom and version != res.storage_version and res.storage_version in res.schemas:
            schema.prune(stored, res.schemas[res.storage_version])
            schema.apply_defaults(stored, res.schemas[res.storage_version])
        return stored

    def _check_crd_target(self, crd: dict, old: dict | None) -> None:
        group = (crd.get("spec") or {}).get("group")
        plural = ((crd.get("spec") or {}).get("names") or {}).get("plural")
        existing = self.registry.by_key(group, plural)
        if existing is not None and not existing.custom:
            raise Invalid(
                "apiextensions.k8s.io",
                "CustomResourceDefinition",
                crd["metadata"].get("name") or "",
                [invalid("spec.group", group, f"{plural}.{group} is a built-in resource of this server")],
            )

    def create(self, res: Resource, version: str, namespace: str | None, body: Any, query: dict) -> Result:
        opts = WriteOptions.parse(query)
        obj = self._incoming(res, version, body)
        meta = obj["metadata"]
        warnings = self._conversion_warnings(res, version)
        with self.store.lock:
            ns = self._namespace_for(res, namespace, meta)
            if res.namespaced:
                self._require_namespace(ns)
            if meta.get("resourceVersion"):
                raise ApiError(
                    500,
                    "InternalError",
                    "Internal error occurred: resourceVersion should not be set on objects to be created",
                )
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise Invalid(
                        res.group,
                        res.kind,
                        "",
                        [
                            FieldError(
                                "FieldValueRequired",
                                "metadata.name",
                                detail="name or generateName is required",
                            )
                        ],
                    )
                meta["name"] = self._generate_name(res, ns, meta["generateName"])
            for key in (
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "managedFields",
                "selfLink",
            ):
                meta.pop(key, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = now()
            if res.generation:
                meta["generation"] = 1
            self._prepare_create(res, obj)
            stored = self._admit(res, version, obj, None, opts, warnings, None)
            if self.store.get(res.key, ns, meta["name"]) is not None:
                if res.key == ("", "services") and not opts.dry_run:
                    self.services.release(stored)
                raise already_exists(res.group, res.plural, meta["name"])
            if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                stored["status"] = crd_status(stored)
            if not opts.dry_run:
                stored = self.store.put(res.key, stored)
                self._after_write(res, stored)
        return Result(201, self._read(res, stored, version), warnings)

    def _generate_name(self, res: Resource, ns: str, prefix: str) -> str:
        prefix = prefix[:58]
        for _attempt in range(8):
            name = prefix + "".join(self._random.choice(NAME_ALPHABET) for _char in range(5))
            if self.store.get(res.key, ns, name) is None:
                return name
        raise ApiError(
            409,
            "AlreadyExists",
            f"{res.plural} {json.dumps(name)} already exists, the server was not able to generate a unique "
            "name for the object",
            {"name": name, "kind": res.plural},
        )

    def _prepare_create(self, res: Resource, obj: dict) -> None:
        """Per-kind PrepareForCreate: what the real strategies reset or default on create."""
        if res.key == ("", "namespaces"):
            obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
            obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        elif res.key == ("", "services"):
            obj["status"] = {"loadBalancer": {}}
        elif res.key == ("", "pods"):
            obj["status"] = {"phase": "Pending"}
        elif res.custom and res.status:
            obj.pop("status", None)
        elif res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            obj.pop("status", None)

    def _after_write(self, res: Resource, stored: dict) -> None:
        """A CRD write (re)registers its kind. Stored objects keep their apiVersion; reads convert."""
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            self.registry.register(crd_resource(stored))

    # ------------------------------------------------------------------ update / patch
    def update(
        self,
        res: Resource,
        version: str,
        namespace: str | None,
        name: str,
        body: Any,
        query: dict,
        subresource: str | None,
    ) -> Result:
        opts = WriteOptions.parse(query)
        obj = self._incoming(res, version, body)
        with self.store.lock:
            current = self.store.get(res.key, namespace or "", name)
            if current is None:
                raise not_found(res.group, res.plural, name)
            return self._replace(res, version, namespace, name, obj, current, opts, subresource, patch=False)

    def patch(
        self,
        res: Resource,
        version: str,
        namespace: str | None,
        name: str,
        body: Any,
        content_type: str,
        query: dict,
        subresource: str | None,
    ) -> Result:
        opts = WriteOptions.parse(query)
        kind = (content_type or "").split(";")[0].strip().lower()
        if kind.startswith("application/apply-patch"):
            raise unsupported_media_type(
                f"server-side apply ({kind}) is not implemented by the metal.lb lab API; use "
                "application/merge-patch+json, application/strategic-merge-patch+json or "
                "application/json-patch+json"
            )
        if kind == STRATEGIC and res.custom:
            raise unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/apply-patch+yaml, application/apply-patch+cbor"
            )
        if kind not in (MERGE, STRATEGIC, JSON_PATCH):
            raise unsupported_media_type(
                "the body of the request was in an unknown format - accepted media types "
                "include: application/json-patch+json, application/merge-patch+json, "
                "application/strategic-merge-patch+json"
            )
        if kind != JSON_PATCH and not isinstance(body, dict):
            raise bad_request(f"the patch must be a JSON object for {kind}")
        with self.store.lock:
            current = self.store.get(res.key, namespace or "", name)
            if current is None:
                raise not_found(res.group, res.plural, name)
            base = copy.deepcopy(self._read(res, current, version))
            if kind == MERGE:
                patched = merge_patch(base, body)
            elif kind == STRATEGIC:
                patched = strategic_merge_patch(base, body, res.key)
            else:
                patched = json_patch(base, body)
            if not isinstance(patched, dict):
                raise bad_request("the patch turned the object into a non-object")
            obj = self._incoming(res, version, patched)
            return self._replace(res, version, namespace, name, obj, current, opts, subresource, patch=True)

    def _replace(
        self,
        res: Resource,
        version: str,
        namespace: str | None,
        name: str,
        obj: dict,
        current: dict,
        opts: WriteOptions,
        subresource: str | None,
        patch: bool,
    ) -> Result:
        meta = obj["metadata"]
        cur_meta = current["metadata"]
        warnings = self._conversion_warnings(res, version)
        if meta.get("name") and meta["name"] != name:
            raise bad_request(
                "the name of the object ({}) does not match the name on the URL ({})".format(
                    meta["name"], name
                )
            )
        self._namespace_for(res, namespace, meta)
        rv = meta.get("resourceVersion")
        if rv:
            if str(rv) != cur_meta["resourceVersion"]:
                _rv_int(rv)
                raise conflict(res.group, res.plural, name, STALE)
        elif not patch and (res.custom or res.key == ("apiextensions.k8s.io", "customresourcedefinitions")):
            raise Invalid(
                res.group,
                res.kind,
                name,
                [invalid("metadata.resourceVersion", 0, "must be specified for an update")],
            )
        if meta.get("uid") and meta["uid"] != cur_meta.get("uid"):
            raise conflict(
                res.group,
                res.plural,
                name,
                "Precondition failed: UID in precondition: {}, UID in object meta: {}".format(
                    meta["uid"], cur_meta.get("uid")
                ),
            )
        old = self._read(res, current, version)
        new = self._apply_subresource(res, obj, old, subresource)
        new_meta = new["metadata"]
        for key in ("uid", "creationTimestamp", "name", "generation"):
            if key in cur_meta:
                new_meta[key] = cur_meta[key]
        new_meta.pop("managedFields", None)
        new_meta.pop("resourceVersion", None)
        if res.key == ("", "namespaces"):
            new_meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
        stored = self._admit(res, version, new, copy.deepcopy(old), opts, warnings, subresource)
        if res.generation and self._spec_changed(res, stored, current):
            stored["metadata"]["generation"] = int(cur_meta.get("generation") or 1) + 1
        if res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            if subresource != "status":
                stored["status"] = crd_status(stored, current)
        if _strip_rv(stored) == _strip_rv(current):
            return Result(200, self._read(res, current, version), warnings)  # no-op: nothing written
        if opts.dry_run:
            stored["metadata"]["resourceVersion"] = cur_meta["resourceVersion"]
            return Result(200, self._read(res, stored, version), warnings)
        stored = self.store.put(res.key, stored)
        self._after_write(res, stored)
        return Result(200, self._read(res, stored, version), warnings)

    @staticmethod
    def _apply_subresource(res: Resource, obj: dict, old: dict, subresource: str | None) -> dict:
        if not res.status:
            if subresource == "status":
                raise not_found(res.group, res.plural + "/status", obj["metadata"].get("name") or "")
            return obj
        if subresource == "status":
            if res.custom or res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
                new = copy.deepcopy(old)
                new["metadata"]["resourceVersion"] = obj["metadata"].get("resourceVersion")
            else:
                new = dict(obj)
                for key, value in old.items():
                    if key not in ("status", "metadata", "apiVersion", "kind"):
                        new[key] = copy.deepcopy(value)
                for key in list(new):
                    if key not in old and key not in ("status", "metadata", "apiVersion", "kind"):
                        del new[key]
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
            return new
        new = dict(obj)
        if "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        else:
            new.pop("status", None)
        return new

    @staticmethod
    def _spec_changed(res: Resource, new: dict, old: dict) -> bool:
        skip = (
            ("metadata", "status", "apiVersion", "kind") if res.status else ("metadata", "apiVersion", "kind")
        )
        return _without(new, *skip) != _without(old, *skip)

    # ------------------------------------------------------------------ delete
    def delete(
        self, res: Resource, version: str, namespace: str | None, name: str, query: dict, body: Any
    ) -> Result:
        opts = WriteOptions.parse(query)
        options = body if isinstance(body, dict) else {}
        with self.store.lock:
            current = self.store.get(res.key, namespace or "", name)
            if current is None:
                raise not_found(res.group, res.plural, name)
            self._check_delete(res, current, options)
            if not opts.dry_run:
                self._remove(res, current)
        if res.return_deleted:
            return Result(200, self._read(res, current, version), self._conversion_warnings(res, version))
        details: dict[str, Any] = {"name": name, "kind": res.plural, "uid": current["metadata"].get("uid")}
        if res.group:
            details["group"] = res.group
        return Result(
            200,
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details},
        )

    def _check_delete(self, res: Resource, current: dict, options: dict) -> None:
        name = current["metadata"]["name"]
        if res.key == ("", "namespaces") and name in IMMORTAL_NAMESPACES:
            # the NamespaceLifecycle admission plugin's answer
            raise ApiError(
                403,
                "Forbidden",
                f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                {"name": name, "kind": "namespaces"},
            )
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
            raise conflict(
                res.group,
                res.plural,
                name,
                "Precondition failed: UID in precondition: {}, UID in object meta: {}".format(
                    pre["uid"], current["metadata"].get("uid")
                ),
            )
        if (
            pre.get("resourceVersion")
            and str(pre["resourceVersion"]) != current["metadata"]["resourceVersion"]
        ):
            raise conflict(
                res.group,
                res.plural,
                name,
                "Precondition failed: ResourceVersion in precondition: {}, "
                "ResourceVersion in object meta: {}".format(
                    pre["resourceVersion"], current["metadata"]["resourceVersion"]
                ),
            )
        if current["metadata"].get("finalizers"):
            raise ApiError(
                422,
                "Invalid",
                "{} {} has metadata.finalizers {}: finalizers are not implemented by the "
                "metal.lb lab API (deletes are immediate); remove the finalizers first".format(
                    res.kind, json.dumps(name), json.dumps(current["metadata"]["finalizers"])
                ),
                {"name": name, "kind": res.plural, **({"group": res.group} if res.group else {})},
            )

    def _remove(self, res: Resource, current: dict) -> None:
        ns, name = _ident(current)
        if res.key == ("", "namespaces"):
            seen = set()
            for other in self.registry.all():
                if not other.namespaced or other.key in seen:
                    continue
                seen.add(other.key)
                for obj in self.store.list(other.key, name):
                    self.store.remove(other.key, name, obj["metadata"]["name"])
                    if other.key == ("", "services"):
                        self.services.release(obj)
        self.store.remove(res.key, ns, name)
        if res.key == ("", "services"):
            self.services.release(current)
        elif res.key == ("apiextensions.k8s.io", "customresourcedefinitions"):
            crd = crd_resource(current)
            self.store.drop_resource(crd.key)
            self.registry.unregister(crd.group, crd.plural)

    def delete_collection(
        self, res: Resource, version: str, namespace: str | None, query: dict, body: Any
    ) -> Result:
        opts = WriteOptions.parse(query)
        reqs = parse_label_selector(query.get("labelSelector"))
        terms = parse_field_selector(query.get("fieldSelector"), res.field_supported)
        with self.store.lock:
            items = [
                i
                for i in self.store.list(res.key, namespace)
                if labels_match(reqs, i) and fields_match(terms, i, res.field_value)
            ]
            for item in items:
                self._check_delete(res, item, {})
            if not opts.dry_run:
                for item in items:
                    self._remove(res, item)
            rv = self.store.rv
        shown = [
            _without(self._read(res, i, version), *(() if res.custom else ("apiVersion", "kind")))
            for i in items
        ]
        return Result(
            200,
            {
                "kind": res.list_kind,
                "apiVersion": res.api_version(version),
                "metadata": {"resourceVersion": str(rv)},
                "items": shown,
            },
        )


class WatchStream:
    """One watch: yields event dicts until the timeout, shutdown, or the client goes away.

    - resourceVersion unset or "0": synthetic ADDED events for the current objects first;
      otherwise every change after it, replayed from the history; a version older than the history
      yields a single ERROR event with a 410 Expired Status (what the real API streams), after which
      the stream ends;
    - with label/field selectors an object that starts matching arrives as ADDED and one that stops
      matching as DELETED (with its previous content), as the real watch cache does
      (apiserver ``storage/cacher/cache_watcher.go`` ``convertToWatchEvent``);
    - BOOKMARK events (allowWatchBookmarks=true) every ``bookmark_interval`` seconds while idle, and
      once just before the stream times out, carrying the current resourceVersion.
    """

    def __init__(
        self,
        api: LabApi,
        res: Resource,
        version: str,
        namespace: str | None,
        since: int | None,
        reqs: list,
        terms: list,
        timeout_s: float,
        bookmarks: bool,
        bookmark_interval: float,
    ) -> None:
        self.api = api
        self.res = res
        self.version = version
        self.reqs = reqs
        self.terms = terms
        self.deadline = time.monotonic() + max(0.0, timeout_s)
        self.bookmarks = bookmarks
        self.bookmark_interval = max(0.05, bookmark_interval)
        self.error: ApiError | None = None
        self.watcher: Watcher | None = None
        self.initial: list[Change] = []
        try:
            self.watcher, self.initial = api.store.subscribe(res.key, namespace, since)
        except Expired as exc:
            self.error = expired(str(exc))

    def close(self) -> None:
        if self.watcher is not None:
            self.api.store.unsubscribe(self.watcher)

    def _matches(self, obj: dict | None) -> bool:
        if obj is None:
            return False
        return labels_match(self.reqs, obj) and fields_match(self.terms, obj, self.res.field_value)

    def _event(self, change: Change) -> dict | None:
        if change.type == "DELETED":
            now_ok, before_ok = False, self._matches(change.prev)
        else:
            now_ok = self._matches(change.obj)
            before_ok = self._matches(change.prev) if change.prev is not None else False
        if now_ok and not before_ok:
            return {"type": "ADDED", "object": self.api._read(self.res, change.obj, self.version)}
        if now_ok and before_ok:
            return {"type": "MODIFIED", "object": self.api._read(self.res, change.obj, self.version)}
        if before_ok:
            gone = (
                change.obj
                if change.type == "DELETED"
                else dict(change.prev, metadata=dict(change.prev["metadata"], resourceVersion=str(change.rv)))
            )
            return {"type": "DELETED", "object": self.api._read(self.res, gone, self.version)}
        return None

    def _bookmark(self) -> dict | None:
        store = self.api.store
        with store.lock:
            if self.watcher is None or not self.watcher.queue.empty():
                return None
            rv = store.rv
        return {
            "type": "BOOKMARK",
            "object": {
                "kind": self.res.kind,
                "apiVersion": self.res.api_version(self.version),
                "metadata": {"resourceVersion": str(rv)},
            },
        }

    def events(self) -> Iterator[dict]:
        if self.error is not None:
            yield {"type": "ERROR", "object": self.error.status()}
            return
        if self.watcher is None:  # pragma: no cover - subscribe either set it or set self.error
            return
        try:
            for change in self.initial:
                event = self._event(change)
                if event is not None:
                    yield event
            self.initial = []
            next_bookmark = time.monotonic() + self.bookmark_interval
            final_bookmark_sent = False
            while True:
                left = self.deadline - time.monotonic()
                if left <= 0:
                    if self.bookmarks and not final_bookmark_sent:
                        mark = self._bookmark()
                        if mark is not None:
                            yield mark
                    return
                wait = left
                if self.bookmarks:
                    wait = min(wait, max(0.0, next_bookmark - time.monotonic()))
                try:
                    item = self.watcher.queue.get(timeout=wait)
                except queue.Empty:
                    if self.bookmarks and time.monotonic() >= next_bookmark:
                        mark = self._bookmark()
                        if mark is not None:
                            yield mark
                        next_bookmark = time.monotonic() + self.bookmark_interval
                    continue
                if item is Watcher.CLOSED:
                    return
                event = self._event(item)
                if event is not None:
                    yield event
        finally:
            self.close()
