# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed field access on untrusted objects: a wrong type is a ConfigError naming the field."""

from __future__ import annotations

from typing import Any

from .errors import ConfigError
from .object_meta import meta_problem, object_name

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


class Fields:
    """Reads ``spec`` of one object; every error names kind, object and field path."""

    def __init__(self, kind: str, obj: dict) -> None:
        self.kind = kind
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        self.name = object_name(obj)
        problem = meta_problem(obj, name_required=False)
        if problem:
            raise ConfigError(kind, self.name, *problem)
        self.labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        spec = obj.get("spec", {})
        if spec is None:
            spec = {}
        if not isinstance(spec, dict):
            raise ConfigError(kind, self.name, "spec", "must be an object")
        self.spec = spec

    def error(self, field: str, message: str) -> ConfigError:
        return ConfigError(self.kind, self.name, field, message)

    def get(self, name: str, types, default: Any = None, where: str = "spec"):
        value = self.spec.get(name, default) if where == "spec" else default
        if value is None:
            return default
        if types is int and isinstance(value, bool):
            raise self.error("spec.%s" % name, "must be an integer")
        if not isinstance(value, types):
            raise self.error("spec.%s" % name, "must be %s" % _type_name(types))
        if types is int and not INT64_MIN <= value <= INT64_MAX:
            raise self.error("spec.%s" % name, "must be a 64-bit integer (%d digits given)" % len(str(abs(value))))
        return value

    def strings(self, name: str) -> list[str]:
        value = self.get(name, list, [])
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error("spec.%s[%d]" % (name, index), "must be a string")
        return value

    def no_duplicates(self, name: str, values: list[str], label: str | None = None) -> None:
        seen = set()
        for index, value in enumerate(values):
            if value in seen:
                raise self.error("spec.%s[%d]" % (name, index),
                                 'duplicate definition of %s "%s"' % (label or name, value))
            seen.add(value)


def _type_name(types) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "a list", dict: "an object"}
    if isinstance(types, tuple):
        return " or ".join(names.get(t, t.__name__) for t in types)
    return names.get(types, types.__name__)
