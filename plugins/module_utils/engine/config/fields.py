# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed field access on untrusted objects: a wrong type is a ConfigError naming the field."""

from __future__ import annotations

import re
from typing import Any

from .errors import ConfigError

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


class Fields:
    """Reads ``spec`` of one object; every error names kind, object and field path."""

    def __init__(self, kind: str, obj: dict) -> None:
        self.kind = kind
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        self.name = str(meta.get("name") or "")
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


def parse_duration(text: Any) -> float:
    """Go's time.ParseDuration (metav1.Duration), in seconds; raises ValueError."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        raise ValueError("time: missing unit in duration %s" % text)
    if not isinstance(text, str) or not text:
        raise ValueError('time: invalid duration "%s"' % text)
    body = text[1:] if text[0] in "+-" else text
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION.match(body, pos)
        if not match:
            raise ValueError('time: invalid duration "%s"' % text)
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return -total if text[0] == "-" else total
