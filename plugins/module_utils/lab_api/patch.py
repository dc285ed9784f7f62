# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The three patch formats of the Kubernetes API.

- JSON merge patch (RFC 7386): maps merge, ``null`` deletes, lists are replaced.
- Strategic merge patch (k8s.io/apimachinery ``util/strategicpatch``): like merge patch, but list
  fields with a patch strategy merge: lists of maps by their ``patchMergeKey`` (Service ``ports`` by
  ``port``, ``conditions`` by ``type``, ``ownerReferences`` by ``uid``, ``containers`` by ``name`` ...),
  primitive lists (``finalizers``) as a union. Directives: ``$patch: replace|delete|merge`` (in maps and
  as list elements), ``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``,
  ``$retainKeys``. Lists without a strategy (``status.loadBalancer.ingress``, EndpointSlice
  ``endpoints``) are replaced atomically, as in the real API. Only the list fields in ``PATCH_META``
  below have a merge strategy here; every other list is atomic (documented in docs/lab-api.md).
- JSON patch (RFC 6902): add, remove, replace, move, copy, test.

Hand-written: there is no maintained Python implementation of strategic merge patch, and the other
two are a few lines each; adding a dependency for them to module_utils is not worth it.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import bad_request, unprocessable

_MISSING = object()

# --------------------------------------------------------------------------- merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------- strategic merge patch
# Patch metadata: {field: ListMeta | nested dict}. A ListMeta is (strategy, mergeKey, element meta);
# strategy "merge" with mergeKey None = a primitive list merged as a union.


def L(key: str | None, children: dict | None = None) -> tuple:  # noqa: N802 - a table helper
    return ("merge", key, children or {})


ATOMIC = ("replace", None, {})

_OBJECT_META = {"ownerReferences": L("uid"), "finalizers": L(None)}
_CONDITIONS = L("type")
_CONTAINER = {
    "ports": L("containerPort"),
    "env": L("name"),
    "volumeMounts": L("mountPath"),
    "volumeDevices": L("devicePath"),
}
_POD_SPEC = {
    "containers": L("name", _CONTAINER),
    "initContainers": L("name", _CONTAINER),
    "ephemeralContainers": L("name", _CONTAINER),
    "volumes": L("name"),
    "imagePullSecrets": L("name"),
    "hostAliases": L("ip"),
    "tolerations": ATOMIC,
    "resourceClaims": L("name"),
}

PATCH_META: dict[tuple[str, str], dict] = {
    ("", "services"): {
        "spec": {"ports": L("port")},
        "status": {"conditions": _CONDITIONS, "loadBalancer": {"ingress": ATOMIC}},
    },
    ("", "pods"): {
        "spec": _POD_SPEC,
        "status": {"conditions": _CONDITIONS, "podIPs": L("ip"), "hostIPs": L("ip")},
    },
    ("", "nodes"): {
        "spec": {"taints": L("key"), "podCIDRs": L(None)},
        "status": {"conditions": _CONDITIONS, "addresses": L("type")},
    },
    ("", "namespaces"): {"status": {"conditions": _CONDITIONS}},
    ("", "serviceaccounts"): {"secrets": L("name"), "imagePullSecrets": L("name")},
    ("discovery.k8s.io", "endpointslices"): {"endpoints": ATOMIC, "ports": ATOMIC},
    ("", "endpoints"): {"subsets": ATOMIC},
    ("apiextensions.k8s.io", "customresourcedefinitions"): {"status": {"conditions": _CONDITIONS}},
}


def _meta_for(resource_meta: dict, key: str) -> Any:
    return resource_meta.get(key) if isinstance(resource_meta, dict) else None


def strategic_merge_patch(original: dict, patch: dict, resource: tuple[str, str]) -> dict:
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch: the patch must be a JSON object")
    meta = dict(PATCH_META.get(resource, {}))
    meta["metadata"] = _OBJECT_META
    result = _smp_map(original if isinstance(original, dict) else {}, patch, meta)
    return result if result is not _MISSING else {}


def _smp_map(original: dict, patch: dict, meta: Any) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _MISSING
    if directive == "replace":
        return _strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive} in map: {patch}")
    result = dict(original)
    retain = patch.get("$retainKeys")
    orders: dict[str, list] = {}
    deletions: dict[str, list] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            deletions[key.split("/", 1)[1]] = value or []
            continue
        if value is None:
            result.pop(key, None)
            continue
        field_meta = _meta_for(meta, key)
        merged = _smp_value(result.get(key, _MISSING), value, field_meta)
        if merged is _MISSING:
            result.pop(key, None)
        else:
            result[key] = merged
    for key, values in deletions.items():
        if isinstance(result.get(key), list):
            result[key] = [v for v in result[key] if v not in values]
    for key, order in orders.items():
        field_meta = _meta_for(meta, key)
        if isinstance(result.get(key), list) and isinstance(order, list):
            result[key] = _apply_order(result[key], order, field_meta)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _smp_value(current: Any, value: Any, field_meta: Any) -> Any:
    if isinstance(value, dict):
        if isinstance(field_meta, tuple):  # a list field given a map: invalid, replace like the API
            return _strip_directives(value)
        base = current if isinstance(current, dict) else {}
        return _smp_map(base, value, field_meta or {})
    if isinstance(value, list):
        if isinstance(field_meta, tuple) and field_meta[0] == "merge":
            base = current if isinstance(current, list) else []
            return _smp_list(base, value, field_meta)
        return _strip_directives([v for v in value if not (isinstance(v, dict) and "$patch" in v)])
    return copy.deepcopy(value)


def _smp_list(original: list, patch: list, field_meta: tuple) -> list:
    _strategy, merge_key, children = field_meta
    if any(isinstance(v, dict) and v.get("$patch") == "replace" for v in patch):
        return _strip_directives([v for v in patch if not (isinstance(v, dict) and "$patch" in v)])
    if merge_key is None:  # primitive list: union, original order first
        result = list(original)
        for v in patch:
            if isinstance(v, dict):
                continue
            if v not in result:
                result.append(v)
        return result
    result = [copy.deepcopy(v) for v in original]
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(
                f"strategic merge patch: element {item!r} of a list merged by {merge_key!r} is not an object"
            )
        if merge_key not in item:
            raise bad_request(f"map: {item} does not contain declared merge key: {merge_key}")
        index = next(
            (i for i, v in enumerate(result) if isinstance(v, dict) and v.get(merge_key) == item[merge_key]),
            None,
        )
        if item.get("$patch") == "delete":
            if index is not None:
                result.pop(index)
            continue
        if index is None:
            result.append(_strip_directives({k: v for k, v in item.items() if k != "$patch"}))
        else:
            merged = _smp_map(result[index], item, children)
            if merged is _MISSING:
                result.pop(index)
            else:
                result[index] = merged
    return result


def _apply_order(items: list, order: list, field_meta: Any) -> list:
    key = field_meta[1] if isinstance(field_meta, tuple) else None

    def ident(v: Any) -> Any:
        return v.get(key) if key is not None and isinstance(v, dict) else v

    wanted = [ident(o) for o in order]
    ranked = [v for w in wanted for v in items if ident(v) == w]
    rest = [v for v in items if ident(v) not in wanted]
    return ranked + rest


def _strip_directives(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _strip_directives(v)
            for k, v in value.items()
            if not (
                k.startswith("$setElementOrder/")
                or k.startswith("$deleteFromPrimitiveList/")
                or k in ("$patch", "$retainKeys")
            )
        }
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return value


# --------------------------------------------------------------------------- JSON patch (RFC 6902)


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise bad_request(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str], op: str, path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise unprocessable(f"{op} operation does not apply: doc is missing path: {path}: missing value")
    return node, parts[-1]


def _get(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _walk(doc, parts, op, path)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise unprocessable(f"{op} operation does not apply: doc is missing key: {path}: missing value")


def _remove(doc: Any, path: str, op: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise unprocessable(f"{op} operation does not apply: cannot remove the whole document")
    parent, last = _walk(doc, parts, op, path)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise unprocessable(f"{op} operation does not apply: doc is missing key: {path}: missing value")


def _add(doc: Any, path: str, value: Any, op: str, replace: bool = False) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _walk(doc, parts, op, path)
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise unprocessable(
                f"replace operation does not apply: doc is missing key: {path}: missing value"
            )
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and (int(last) < len(parent) or (not replace and int(last) == len(parent))):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise unprocessable(f"{op} operation does not apply: index out of range: {path}")
    else:
        raise unprocessable(f"{op} operation does not apply: doc is missing path: {path}: missing value")
    return doc


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(doc)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation:
            raise bad_request('json patch: every operation must be an object with an "op"')
        op = operation["op"]
        path = operation.get("path")
        if op in ("add", "replace", "test") and "value" not in operation:
            raise unprocessable(f"{op} operation does not apply: missing value for path {path}")
        if op == "add":
            doc = _add(doc, path, copy.deepcopy(operation["value"]), op)
        elif op == "replace":
            doc = _add(doc, path, copy.deepcopy(operation["value"]), op, replace=True)
        elif op == "remove":
            _remove(doc, path, op)
        elif op in ("move", "copy"):
            source = operation.get("from")
            if op == "move":
                value = _remove(doc, source, op)
            else:
                value = copy.deepcopy(_get(doc, source, op))
            doc = _add(doc, path, value, op)
        elif op == "test":
            have = _get(doc, path, op) if path else doc
            if not _json_equal(have, operation["value"]):
                raise unprocessable(f"testing value {path} failed: test failed")
        else:
            raise bad_request(f"Unexpected kind: {op}")
    return doc


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
