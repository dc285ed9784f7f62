# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Label and field selectors as they arrive in a query string (``?labelSelector=a in (x,y),!b``).

The grammar and the matching rules follow k8s.io/apimachinery ``pkg/labels/selector.go`` and
``pkg/fields/selector.go``: ``=``, ``==``, ``!=``, ``in``, ``notin``, ``key`` (exists), ``!key``,
and the numeric ``>``/``<``. ``!=`` and ``notin`` match objects that lack the label, as in the real
API. Hand-written: the selector query syntax is a Kubernetes wire format no library parses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import bad_request

_SPECIAL = set(" \t\n,()=!<>")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple = ()

    def matches(self, labels: dict) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if not present:
            return False
        try:
            have, want = int(value), int(self.values[0])
        except (TypeError, ValueError):
            return False
        return have > want if self.op == "gt" else have < want


def _tokens(text: str) -> list[tuple[str, str]]:
    """Lexer: identifiers and the operator/punctuation tokens of the label selector grammar."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        two = text[i : i + 2]
        if two in ("==", "!="):
            out.append(("op", two))
            i += 2
            continue
        if ch in ",()=!<>":
            out.append(("op", ch))
            i += 1
            continue
        start = i
        while i < len(text) and text[i] not in _SPECIAL:
            i += 1
        word = text[start:i]
        out.append(("word", word))
    return out


def _check_key(key: str) -> None:
    prefix, _sep, name = key.rpartition("/")
    if (
        not name
        or not _NAME.match(name)
        or len(name) > 63
        or (prefix and (not _PREFIX.match(prefix) or len(prefix) > 253))
    ):
        raise bad_request(
            f"unable to parse requirement: invalid label key {key!r}: name part must consist of "
            "alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )


def _check_value(value: str) -> None:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise bad_request(
            f"unable to parse requirement: invalid label value: {value!r}: a valid label must be an "
            "empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character"
        )


def parse_label_selector(text: str | None) -> list[Requirement]:
    """``labelSelector`` query value → requirements (all must match). Bad input ⇒ 400 like the API."""
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    pos = 0
    reqs: list[Requirement] = []

    def peek() -> tuple[str, str]:
        return toks[pos] if pos < len(toks) else ("end", "")

    def fail(found: str, expected: str):
        return bad_request(f"unable to parse requirement: found '{found}', expected: {expected}")

    while True:
        kind, val = peek()
        negate = False
        if kind == "op" and val == "!":
            negate = True
            pos += 1
            kind, val = peek()
        if kind != "word":
            raise fail(val, "identifier")
        key = val
        _check_key(key)
        pos += 1
        kind, val = peek()
        if negate:
            if not (kind == "end" or (kind == "op" and val == ",")):
                raise fail(val, "',' or 'end of string'")
            reqs.append(Requirement(key, "!"))
        elif kind == "end" or (kind == "op" and val == ","):
            reqs.append(Requirement(key, "exists"))
        elif kind == "op" and val in ("=", "==", "!="):
            pos += 1
            k2, v2 = peek()
            value = ""
            if k2 == "word":
                value = v2
                pos += 1
            elif not (k2 == "end" or (k2 == "op" and v2 == ",")):
                raise fail(v2, "identifier")
            _check_value(value)
            reqs.append(Requirement(key, "!=" if val == "!=" else "=", (value,)))
        elif kind == "op" and val in ("<", ">"):
            pos += 1
            k2, v2 = peek()
            if k2 != "word" or not re.fullmatch(r"-?\d+", v2):
                raise bad_request(
                    "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                )
            pos += 1
            reqs.append(Requirement(key, "gt" if val == ">" else "lt", (v2,)))
        elif kind == "word" and val in ("in", "notin"):
            pos += 1
            if peek() != ("op", "("):
                raise fail(peek()[1], "'('")
            pos += 1
            values: list[str] = []
            while True:
                k2, v2 = peek()
                if k2 == "word":
                    _check_value(v2)
                    values.append(v2)
                    pos += 1
                    k2, v2 = peek()
                elif k2 == "op" and v2 in (",", ")"):
                    values.append("")
                else:
                    raise fail(v2, "identifier")
                if (k2, v2) == ("op", ","):
                    pos += 1
                    continue
                if (k2, v2) == ("op", ")"):
                    pos += 1
                    break
                raise fail(v2, "',' or ')'")
            reqs.append(Requirement(key, val, tuple(values)))
        else:
            raise fail(val, "'=', '!=', '==', 'in', notin'")
        kind, val = peek()
        if kind == "end":
            return reqs
        if (kind, val) != ("op", ","):
            raise fail(val, "','")
        pos += 1


def labels_match(reqs: list[Requirement], obj: dict | None) -> bool:
    if not reqs:
        return True
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


# --------------------------------------------------------------------------- field selectors


@dataclass(frozen=True)
class FieldTerm:
    field: str
    negate: bool
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None, supported: Callable[[str], bool]) -> list[FieldTerm]:
    """``fieldSelector`` → terms; an unknown field ⇒ 400 "field label not supported: X" (real message)."""
    if not text or not text.strip():
        return []
    terms = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        match = re.match(r"^((?:[^=!\\]|\\.)*?)(==|!=|=)(.*)$", part)
        if not match:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        name, op, value = match.group(1).strip(), match.group(2), _unescape(match.group(3))
        if not supported(name):
            raise bad_request(f"field label not supported: {name}")
        terms.append(FieldTerm(name, op == "!=", value))
    return terms


def fields_match(terms: list[FieldTerm], obj: dict | None, getter: Callable[[dict, str], str]) -> bool:
    if not terms:
        return True
    if obj is None:
        return False
    for term in terms:
        have = getter(obj, term.field)
        if (have == term.value) == term.negate:
            return False
    return True
