# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""ObjectMeta as Kubernetes types it: names, namespaces, labels and annotations are strings.

The API server never delivers anything else, but files and module arguments can. A value of
another type is refused with its path and never converted: ``str()`` of a YAML alias bomb in
a label value walks every expanded node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..message_text import type_name as yaml_type_name
from ..go_quote import go_quote

# How a message names the type a value has where a string belongs ("got an integer").
_ARTICLES = {"string": "a string", "bool": "a boolean", "int": "an integer", "float": "a number",
             "list": "a list", "dict": "an object", "null": "null"}


def type_name(value: Any) -> str:
    name = yaml_type_name(value)
    return _ARTICLES.get(name, "a " + name)


def object_name(obj: Any) -> str:
    """``metadata.name`` if it is a string, else "" (never ``str()`` of arbitrary data)."""
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else None
    return name if isinstance(name, str) else ""


def _string_map(meta: Mapping, field: str) -> tuple[str, str] | None:
    value = meta.get(field)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        return "metadata.%s" % field, "must be a map of strings, got %s" % type_name(value)
    for key, item in value.items():
        if not isinstance(key, str):
            return "metadata.%s" % field, "keys must be strings, got %s" % type_name(key)
        if not isinstance(item, str):
            return ("metadata.%s[%s]" % (field, go_quote(key)),
                    "must be a string, got %s (quote it in YAML)" % type_name(item))
    return None


def meta_problem(obj: Mapping, name_required: bool = True) -> tuple[str, str] | None:
    """(field, message) of the first ObjectMeta value Kubernetes would not accept, or None."""
    meta = obj.get("metadata")
    if meta is None:
        return ("metadata.name", "missing name") if name_required else None
    if not isinstance(meta, Mapping):
        return "metadata", "must be an object, got %s" % type_name(meta)
    name = meta.get("name")
    if name is None or name == "":
        if name_required:
            return "metadata.name", "missing name"
    elif not isinstance(name, str):
        return "metadata.name", "must be a string, got %s" % type_name(name)
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return "metadata.namespace", "must be a string, got %s" % type_name(namespace)
    return _string_map(meta, "labels") or _string_map(meta, "annotations")
