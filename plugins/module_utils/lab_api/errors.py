# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""API errors as the real API server shapes them (a ``Status`` object).

Messages, reasons and codes follow k8s.io/apimachinery ``pkg/api/errors/errors.go`` and
``pkg/util/validation/field/errors.go`` so that clients (and tests that must also pass against a real
cluster) see the same strings. Hand-written: no Python library models the Status wire format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def _quote(value: str) -> str:
    """Go's %q for the strings we print (JSON escaping is close enough for ASCII names)."""
    return json.dumps(value, ensure_ascii=False)


class ApiError(Exception):
    """An error answered to the client as ``Status`` with ``code``."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def resource_string(group: str, plural: str) -> str:
    """schema.GroupResource.String(): ``services`` or ``ipaddresspools.metallb.io``."""
    return f"{plural}.{group}" if group else plural


def kind_string(group: str, kind: str) -> str:
    return f"{kind}.{group}" if group else kind


def not_found(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f"{resource_string(group, plural)} {_quote(name)} not found",
        {"name": name, "group": group, "kind": plural} if group else {"name": name, "kind": plural},
    )


def already_exists(group: str, plural: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f"{resource_string(group, plural)} {_quote(name)} already exists",
        _details(group, plural, name),
    )


def conflict(group: str, plural: str, name: str, why: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f"Operation cannot be fulfilled on {resource_string(group, plural)} {_quote(name)}: {why}",
        _details(group, plural, name),
    )


STALE = "the object has been modified; please apply your changes to the latest version and try again"


def _details(group: str, kind: str, name: str) -> dict:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def not_implemented(message: str) -> ApiError:
    """Something the real API offers that this lab server does not: a clear 4xx, never silence."""
    return ApiError(400, "BadRequest", "not implemented by the metal.lb lab API: " + message)


def method_not_allowed(group: str, plural: str, action: str) -> ApiError:
    details: dict[str, Any] = {"kind": plural}
    if group:
        details["group"] = group
    return ApiError(
        405,
        "MethodNotAllowed",
        f"{action} is not supported on resources of kind {_quote(resource_string(group, plural))}",
        details,
    )


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def timeout(message: str, retry_seconds: int = 1, causes: list | None = None) -> ApiError:
    details: dict[str, Any] = {"retryAfterSeconds": retry_seconds}
    if causes:
        details["causes"] = causes
    return ApiError(504, "Timeout", message, details)


def unprocessable(message: str) -> ApiError:
    """A patch that cannot be applied (json-patch test failure, missing path)."""
    return ApiError(422, "Invalid", message)


# --------------------------------------------------------------------------- field errors


@dataclass
class FieldError:
    """One entry of a field.ErrorList: type (cause reason), field path, bad value, detail."""

    type: str
    field: str
    value: Any = None
    detail: str = ""
    omit_value: bool = False

    LABELS = {
        "FieldValueNotFound": "Not found",
        "FieldValueRequired": "Required value",
        "FieldValueDuplicate": "Duplicate value",
        "FieldValueInvalid": "Invalid value",
        "FieldValueNotSupported": "Unsupported value",
        "FieldValueForbidden": "Forbidden",
        "FieldValueTooLong": "Too long",
        "FieldValueTooMany": "Too many",
        "FieldValueTypeInvalid": "Invalid value",
        "InternalError": "Internal error",
    }
    NO_VALUE = ("FieldValueRequired", "FieldValueForbidden", "FieldValueTooLong", "InternalError")

    def body(self) -> str:
        label = self.LABELS.get(self.type, self.type)
        if self.type in self.NO_VALUE or self.omit_value:
            text = label
        elif isinstance(self.value, bool):
            text = "{}: {}".format(label, "true" if self.value else "false")
        elif isinstance(self.value, (int, float)):
            text = f"{label}: {self.value}"
        elif isinstance(self.value, str):
            text = f"{label}: {_quote(self.value)}"
        else:
            text = "{}: {}".format(label, json.dumps(self.value, separators=(",", ":"), sort_keys=True))
        if self.detail:
            text += ": " + self.detail
        return text

    def error(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()


def required(path: str, detail: str = "") -> FieldError:
    return FieldError("FieldValueRequired", path, detail=detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError("FieldValueInvalid", path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError("FieldValueForbidden", path, detail=detail)


def not_supported(path: str, value: Any, allowed: list) -> FieldError:
    detail = "supported values: " + ", ".join(_quote(str(v)) for v in allowed) if allowed else ""
    return FieldError("FieldValueNotSupported", path, value, detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError("FieldValueDuplicate", path, value)


@dataclass
class Invalid(Exception):
    """NewInvalid: 422 with every field error in ``details.causes``."""

    group: str
    kind: str
    name: str
    errors: list = field(default_factory=list)

    def api_error(self) -> ApiError:
        qualified = kind_string(self.group, self.kind)
        if not self.errors:
            message = f"{qualified} {_quote(self.name)} is invalid"
        elif len(self.errors) == 1:
            message = f"{qualified} {_quote(self.name)} is invalid: {self.errors[0].error()}"
        else:
            message = "{} {} is invalid: [{}]".format(
                qualified, _quote(self.name), ", ".join(e.error() for e in self.errors)
            )
        details: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.group:
            details["group"] = self.group
        details["causes"] = [{"reason": e.type, "message": e.body(), "field": e.field} for e in self.errors]
        return ApiError(422, "Invalid", message, details)
