# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""User and wire values inside one-line messages.

A NUL, a newline or an escape sequence in an address or a name must neither cut a message short
nor split it into lines that look like other messages; and a value's type is named as the user
wrote it (``list``), not as the program holds it (Ansible's lazy ``_AnsibleLazyTemplateList``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set

_NAMED = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_ESCAPES = {c: _NAMED.get(c, "\\x%02x" % c) for c in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def printable(value: object) -> str:
    """``str(value)`` with control characters (C0, DEL, C1, line separators) escaped."""
    return str(value).translate(_ESCAPES)


def type_name(value: object) -> str:
    """The YAML/JSON name of ``value``'s type: what the user wrote, whatever class holds it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (str, bytes)):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, Mapping):
        return "dict"
    if isinstance(value, (Sequence, Set)):
        return "list"
    return type(value).__name__
