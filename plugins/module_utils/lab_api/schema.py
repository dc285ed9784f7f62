# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Structural-schema handling of custom resources, in the real API's order.

1. prune: drop fields the ``openAPIV3Schema`` does not declare (unless
   ``x-kubernetes-preserve-unknown-fields``; ``additionalProperties`` maps keep their keys;
   ``x-kubernetes-embedded-resource`` keeps apiVersion/kind/metadata);
2. nulls and defaults: a ``null`` in a non-nullable field is dropped, or replaced by the field's
   ``default``; absent fields with a ``default`` get it (recursively);
3. validate: type, enum, required, minimum/maximum (+exclusive), multipleOf, minLength/maxLength,
   pattern, a few formats (date-time, date, ipv4, ipv6, cidr, uuid, byte), minItems/maxItems,
   uniqueItems, ``x-kubernetes-list-type`` set/map uniqueness, min/maxProperties, nullable,
   ``x-kubernetes-int-or-string``, allOf/anyOf/oneOf/not;
4. ``x-kubernetes-validations`` (CEL) through the subset in ``cel.py``; rules outside the subset are
   returned as "not evaluated" so the server can warn instead of pretending they passed.

Error messages are those of kube-openapi / apiextensions-apiserver (``validation.go``) so a test's
expectations hold against a real cluster too.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import re
import uuid
from datetime import datetime
from typing import Any

from . import cel
from .errors import FieldError, duplicate, invalid, not_supported, required

ROOT_KEEP = ("apiVersion", "kind", "metadata")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _item(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


# --------------------------------------------------------------------------- pruning


def prune(obj: dict, schema: dict) -> list[str]:
    """Remove undeclared fields in place; return their paths (for warnings / strict validation)."""
    unknown: list[str] = []
    props = schema.get("properties") or {}
    for key in list(obj):
        if key in ROOT_KEEP:
            if key != "metadata" and key in props:
                _prune(obj[key], props[key], key, unknown)
            continue
        if key in props:
            _prune(obj[key], props[key], key, unknown)
        elif not schema.get("x-kubernetes-preserve-unknown-fields"):
            del obj[key]
            unknown.append(key)
    return unknown


def _prune(value: Any, schema: dict, path: str, unknown: list[str]) -> None:
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        preserve = schema.get("x-kubernetes-preserve-unknown-fields")
        embedded = schema.get("x-kubernetes-embedded-resource")
        for key in list(value):
            if props and key in props:
                _prune(value[key], props[key], _child(path, key), unknown)
            elif isinstance(extra, dict):
                _prune(value[key], extra, _key(path, key), unknown)
            elif extra is True or preserve or (embedded and key in ROOT_KEEP):
                continue
            else:
                del value[key]
                unknown.append(_child(path, key))
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, element in enumerate(value):
                _prune(element, items, _item(path, i), unknown)


# --------------------------------------------------------------------------- nulls and defaults


def apply_defaults(obj: dict, schema: dict) -> None:
    """Drop non-nullable nulls (or default them) and fill in defaults, in place."""
    _default(obj, schema, root=True)


def _default(value: Any, schema: dict, root: bool = False) -> None:
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if root and key == "metadata":
                continue
            if key in value and value[key] is None and not sub.get("nullable"):
                if "default" in sub:
                    value[key] = copy.deepcopy(sub["default"])
                else:
                    del value[key]
                    continue
            elif key not in value and "default" in sub:
                value[key] = copy.deepcopy(sub["default"])
            if key in value:
                _default(value[key], sub)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in list(value):
                if key in props:
                    continue
                if value[key] is None and not extra.get("nullable"):
                    if "default" in extra:
                        value[key] = copy.deepcopy(extra["default"])
                    else:
                        del value[key]
                        continue
                _default(value[key], extra)
    elif isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for i, element in enumerate(value):
                if element is None and "default" in items and not items.get("nullable"):
                    value[i] = copy.deepcopy(items["default"])
                _default(value[i], items)


# --------------------------------------------------------------------------- validation


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(value: Any, type_: str) -> bool:
    actual = _json_type(value)
    if type_ == "number":
        return actual in ("number", "integer")
    return actual == type_


def _format_ok(value: str, fmt: str) -> bool:
    try:
        if fmt == "date-time":
            return (
                bool(
                    re.match(
                        r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$", value
                    )
                )
                and datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00")) is not None
            )
        if fmt == "date":
            return datetime.strptime(value, "%Y-%m-%d") is not None
        if fmt == "ipv4":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv4Address)
        if fmt == "ipv6":
            return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
        if fmt == "cidr":
            return ipaddress.ip_network(value, strict=False) is not None
        if fmt == "uuid":
            return uuid.UUID(value) is not None and len(value) == 36
        if fmt == "byte":
            return base64.b64decode(value, validate=True) is not None
    except (ValueError, TypeError):
        return False
    return True  # other formats (int32, int64, ...) are not validated by the real API either


def _number_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Validator:
    """Validates one object; collects field errors and the CEL rules it could not evaluate."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.unevaluated: list[str] = []

    def validate(self, obj: dict, schema: dict, old: dict | None) -> None:
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if key == "metadata":
                continue
            if key in obj:
                self._check(
                    obj[key], sub, key, old.get(key, cel.NO_OLD) if isinstance(old, dict) else cel.NO_OLD
                )
        for key in schema.get("required") or ():
            if key not in obj and key != "metadata":
                self.errors.append(required(key))
        self._rules(obj, schema, "", old if old is not None else cel.NO_OLD)

    def _err(self, path: str, value: Any, detail: str) -> None:
        self.errors.append(invalid(path, value, detail))

    def _check(self, value: Any, schema: dict, path: str, old: Any) -> None:
        before = len(self.errors)
        self._structural(value, schema, path, old)
        if len(self.errors) == before:
            self._rules(value, schema, path, old)

    def _structural(self, value: Any, schema: dict, path: str, old: Any) -> None:
        type_ = schema.get("type")
        if value is None:
            if schema.get("nullable"):
                return
            shown = type_ or ("integer-or-string" if schema.get("x-kubernetes-int-or-string") else "")
            if shown:
                self.errors.append(
                    FieldError(
                        "FieldValueTypeInvalid",
                        path,
                        "null",
                        f'{path} in body must be of type {shown}: "null"',
                    )
                )
            return
        if schema.get("x-kubernetes-int-or-string"):
            if _json_type(value) not in ("integer", "string"):
                self.errors.append(
                    FieldError(
                        "FieldValueTypeInvalid",
                        path,
                        _json_type(value),
                        f'{path} in body must be of type integer,string: "{_json_type(value)}"',
                    )
                )
                return
        elif type_ and not _type_ok(value, type_):
            self.errors.append(
                FieldError(
                    "FieldValueTypeInvalid",
                    path,
                    _json_type(value),
                    f'{path} in body must be of type {type_}: "{_json_type(value)}"',
                )
            )
            return
        if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
            allowed = [e if isinstance(e, str) else json.dumps(e) for e in schema["enum"]]
            self.errors.append(not_supported(path, value, allowed))
        if isinstance(value, str):
            self._string(value, schema, path)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self._number(value, schema, path)
        elif isinstance(value, list):
            self._array(value, schema, path, old)
        elif isinstance(value, dict):
            self._object(value, schema, path, old)
        self._combinators(value, schema, path)

    def _string(self, value: str, schema: dict, path: str) -> None:
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            limit = schema["maxLength"]
            self.errors.append(
                FieldError(
                    "FieldValueTooLong",
                    path,
                    detail=f"may not be more than {limit} {'byte' if limit == 1 else 'bytes'}",
                )
            )
        if "minLength" in schema and len(value) < schema["minLength"]:
            self._err(path, value, f"{path} in body should be at least {schema['minLength']} chars long")
        if "pattern" in schema:
            try:
                matched = re.search(schema["pattern"], value) is not None
            except re.error:
                matched = True
            if not matched:
                self._err(path, value, "{} in body should match '{}'".format(path, schema["pattern"]))
        fmt = schema.get("format")
        if fmt and not _format_ok(value, fmt):
            self.errors.append(
                FieldError(
                    "FieldValueTypeInvalid", path, value, f'{path} in body must be of type {fmt}: "{value}"'
                )
            )

    def _number(self, value: Any, schema: dict, path: str) -> None:
        if "maximum" in schema:
            limit = schema["maximum"]
            if schema.get("exclusiveMaximum") and value >= limit:
                self._err(path, value, f"{path} in body should be less than {_number_text(limit)}")
            elif value > limit:
                self._err(
                    path, value, f"{path} in body should be less than or equal to {_number_text(limit)}"
                )
        if "minimum" in schema:
            limit = schema["minimum"]
            if schema.get("exclusiveMinimum") and value <= limit:
                self._err(path, value, f"{path} in body should be greater than {_number_text(limit)}")
            elif value < limit:
                self._err(
                    path, value, f"{path} in body should be greater than or equal to {_number_text(limit)}"
                )
        if schema.get("multipleOf"):
            factor = schema["multipleOf"]
            if (value / factor) != int(value / factor):
                self._err(path, value, f"{path} in body should be a multiple of {_number_text(factor)}")

    def _array(self, value: list, schema: dict, path: str, old: Any) -> None:
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            limit = schema["maxItems"]
            self.errors.append(
                FieldError(
                    "FieldValueTooMany",
                    path,
                    len(value),
                    f"must have at most {limit} {'item' if limit == 1 else 'items'}",
                )
            )
        if "minItems" in schema and len(value) < schema["minItems"]:
            self._err(path, value, f"{path} in body should have at least {schema['minItems']} items")
        list_type = schema.get("x-kubernetes-list-type")
        if schema.get("uniqueItems") and list_type not in ("set", "map"):
            if any(_same(a, b) for i, a in enumerate(value) for b in value[i + 1 :]):
                self._err(path, value, f"{path} in body shouldn't contain duplicates")
        keys = schema.get("x-kubernetes-list-map-keys") or []
        if list_type == "set":
            for i, element in enumerate(value):
                if any(_same(element, other) for other in value[:i]):
                    self.errors.append(duplicate(_item(path, i), element))
        elif list_type == "map" and keys:
            seen = []
            for i, element in enumerate(value):
                if not isinstance(element, dict):
                    continue
                ident = {k: element.get(k) for k in keys if k in element}
                if ident in seen:
                    self.errors.append(duplicate(_item(path, i), ident))
                seen.append(ident)
        items = schema.get("items")
        if isinstance(items, dict):
            olds = old if isinstance(old, list) else None
            for i, element in enumerate(value):
                self._check(element, items, _item(path, i), _correlate(element, olds, list_type, keys))

    def _object(self, value: dict, schema: dict, path: str, old: Any) -> None:
        props = schema.get("properties") or {}
        for key in schema.get("required") or ():
            if key not in value:
                self.errors.append(required(_child(path, key)))
        if "maxProperties" in schema and len(value) > schema["maxProperties"]:
            self.errors.append(
                FieldError(
                    "FieldValueTooMany",
                    path,
                    len(value),
                    f"must have at most {schema['maxProperties']} items",
                )
            )
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            self._err(
                path, value, f"{path} in body should have at least {schema['minProperties']} properties"
            )
        olds = old if isinstance(old, dict) else {}
        for key, sub in props.items():
            if key in value:
                self._check(value[key], sub, _child(path, key), olds.get(key, cel.NO_OLD))
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key, element in value.items():
                if key not in props:
                    self._check(element, extra, _key(path, key), olds.get(key, cel.NO_OLD))

    def _combinators(self, value: Any, schema: dict, path: str) -> None:
        for sub in schema.get("allOf") or ():
            self._structural(value, sub, path, cel.NO_OLD)
        if schema.get("anyOf"):
            if not any(_passes(value, sub, path) for sub in schema["anyOf"]):
                self._err(path, value, f"{path} in body must validate at least one schema (anyOf)")
        if schema.get("oneOf"):
            hits = sum(1 for sub in schema["oneOf"] if _passes(value, sub, path))
            if hits != 1:
                self._err(path, value, f"{path} in body must validate one and only one schema (oneOf)")
        if isinstance(schema.get("not"), dict) and _passes(value, schema["not"], path):
            self._err(path, value, f"{path} in body must not validate the schema (not)")

    def _rules(self, value: Any, schema: dict, path: str, old: Any) -> None:
        for rule in schema.get("x-kubernetes-validations") or ():
            text = rule.get("rule", "")
            if cel.uses_old_self(text):
                if rule.get("optionalOldSelf"):
                    self.unevaluated.append("{}: {} (optionalOldSelf)".format(path or "<root>", text))
                    continue
                if old is cel.NO_OLD:
                    continue  # transition rules run on updates only, as in the real API
            try:
                ok = cel.evaluate(text, value, old)
            except cel.Unsupported:
                self.unevaluated.append("{}: {}".format(path or "<root>", text))
                continue
            except cel.EvalError as exc:
                self._err(path, schema.get("type") or "object", f"{exc} evaluating rule: {text}")
                continue
            if ok is not True:
                self._rule_failed(rule, value, schema, path)

    def _rule_failed(self, rule: dict, value: Any, schema: dict, path: str) -> None:
        message = rule.get("message") or ""
        if rule.get("messageExpression"):
            try:
                produced = cel.evaluate(rule["messageExpression"], value)
                if isinstance(produced, str) and produced.strip():
                    message = produced
            except (cel.Unsupported, cel.EvalError):
                pass
        if not message:
            message = "failed rule: {}".format(" ".join(rule.get("rule", "").split()))
        where = path
        if rule.get("fieldPath"):
            where = (
                path + rule["fieldPath"]
                if rule["fieldPath"].startswith(("[", "."))
                else _child(path, rule["fieldPath"])
            )
            where = where.lstrip(".")
        reason = rule.get("reason") or "FieldValueInvalid"
        if reason == "FieldValueRequired":
            self.errors.append(FieldError("FieldValueRequired", where, detail=message))
        elif reason == "FieldValueForbidden":
            self.errors.append(FieldError("FieldValueForbidden", where, detail=message))
        elif reason == "FieldValueDuplicate":
            self.errors.append(
                FieldError("FieldValueDuplicate", where, schema.get("type") or "object", message)
            )
        else:
            self._err(where, schema.get("type") or "object", message)


def _passes(value: Any, schema: dict, path: str) -> bool:
    probe = Validator()
    probe._structural(value, schema, path, cel.NO_OLD)
    return not probe.errors


def _correlate(element: Any, olds: list | None, list_type: str | None, keys: list) -> Any:
    """oldSelf for a list element: only map-lists (by their keys) correlate, as in the real API."""
    if olds is None or list_type != "map" or not keys or not isinstance(element, dict):
        return cel.NO_OLD
    for candidate in olds:
        if isinstance(candidate, dict) and all(candidate.get(k) == element.get(k) for k in keys):
            return candidate
    return cel.NO_OLD


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def validate(obj: dict, schema: dict, old: dict | None = None) -> Validator:
    validator = Validator()
    validator.validate(obj, schema, old)
    return validator
