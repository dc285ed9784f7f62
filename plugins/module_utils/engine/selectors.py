# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metav1.LabelSelector: parsing with Kubernetes' rules, matching, duplicate detection.

Parsed once into the frozen ``LabelSelector`` of the config model so that matching on the
hot paths (pool compatibility, L2 election) is a few tuple walks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .go_quote import go_quote
from .config.object_meta import type_name
from .model import LabelSelector

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
EVERYTHING = LabelSelector()

# Kubernetes' label syntax (apimachinery validation.IsQualifiedName / IsValidLabelValue), with its
# messages: MetalLB's LabelSelectorAsSelector refuses what these refuse, where a selector with a bad
# key would otherwise silently match nothing.
_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME = re.compile(_NAME_FMT)
_VALUE_FMT = "(%s)?" % _NAME_FMT
_DNS1123_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
_DNS1123 = re.compile(_DNS1123_FMT)
_NAME_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
             "alphanumeric character")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    return "%s (e.g. %sregex used for validation is '%s')" % (
        message, " or ".join("'%s', " % e for e in examples), fmt)


def label_key_errors(key: str) -> list[str]:
    """validation.IsQualifiedName."""
    errors = []
    parts = key.split("/")
    if len(parts) > 2:
        return ["a qualified name " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            if len(prefix) > 253:
                errors.append("prefix part must be no more than 253 characters")
            if not _DNS1123.fullmatch(prefix):
                errors.append("prefix part " + _regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
                    "'.', and must start and end with an alphanumeric character", _DNS1123_FMT, "example.com"))
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part must be no more than 63 characters")
    if not _NAME.fullmatch(name):
        errors.append("name part " + _regex_error(_NAME_MSG, _NAME_FMT, "MyName", "my.name", "123-abc"))
    return errors


def label_value_errors(value: str) -> list[str]:
    """validation.IsValidLabelValue."""
    errors = []
    if len(value) > 63:
        errors.append("must be no more than 63 characters")
    if value and not _NAME.fullmatch(value):
        errors.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                   "'-', '_' or '.', and must start and end with an alphanumeric character",
                                   _VALUE_FMT, "MyValue", "my_value", "12345"))
    return errors


def _check_key(key: str, where: str) -> None:
    errors = label_key_errors(key)
    if errors:
        raise ValueError("%s: Invalid value: %s: %s" % (where, go_quote(key), "; ".join(errors)))


def _check_value(value: str, where: str) -> None:
    errors = label_value_errors(value)
    if errors:
        raise ValueError("%s: Invalid value: %s: %s" % (where, go_quote(value), "; ".join(errors)))


def parse_selector(obj: Any, where: str) -> LabelSelector:
    """Parse one selector dict; ``where`` names the field in error messages."""
    if obj is None:
        return EVERYTHING
    if not isinstance(obj, Mapping):
        raise ValueError("%s: must be a label selector object, got %s" % (where, type_name(obj)))
    unknown = set(obj) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise ValueError("%s: unknown field(s) %s" % (where, ", ".join(sorted(map(str, unknown)))))
    labels = obj.get("matchLabels") or {}
    if not isinstance(labels, Mapping):
        raise ValueError("%s.matchLabels: must be a map of strings" % where)
    for key, value in labels.items():
        if not isinstance(key, str):
            raise ValueError("%s.matchLabels: keys must be strings, got %s" % (where, type_name(key)))
        if not isinstance(value, str):
            raise ValueError("%s.matchLabels[%s]: must be a string, got %s (quote it in YAML)"
                             % (where, go_quote(key), type_name(value)))
        _check_key(key, "%s.matchLabels" % where)
        _check_value(value, "%s.matchLabels[%s]" % (where, go_quote(key)))
    expressions = obj.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise ValueError("%s.matchExpressions: must be a list" % where)
    parsed = []
    seen = set()
    for index, expr in enumerate(expressions):
        path = "%s.matchExpressions[%d]" % (where, index)
        if not isinstance(expr, Mapping):
            raise ValueError("%s: must be an object" % path)
        key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if not isinstance(key, str) or not key:
            raise ValueError("%s.key: required" % path)
        if operator not in OPERATORS:
            raise ValueError('%s.operator: "%s" is not a valid label selector operator (%s)'
                             % (path, operator, ", ".join(OPERATORS)))
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("%s.values: must be a list of strings" % path)
        if operator in ("In", "NotIn") and not values:
            raise ValueError("%s.values: must be specified when operator is %s" % (path, operator))
        if operator in ("Exists", "DoesNotExist") and values:
            raise ValueError("%s.values: may not be specified when operator is %s" % (path, operator))
        _check_key(key, path + ".key")
        for number, value in enumerate(values):
            _check_value(value, "%s.values[%d]" % (path, number))
        if len(set(values)) != len(values):
            twice = next(v for i, v in enumerate(values) if v in values[:i])
            raise ValueError('%s.values: duplicate definition of match expression value in label selector "%s"'
                             % (path, twice))
        item = (key, operator, tuple(sorted(values)))
        if item in seen:
            raise ValueError('%s: duplicate definition of match expressions "%s"' % (path, _requirement(item)))
        seen.add(item)
        parsed.append(item)
    return LabelSelector(match_labels=tuple(sorted(labels.items())), match_expressions=tuple(parsed))


def parse_selectors(items: Any, where: str) -> tuple[LabelSelector, ...]:
    """A list of selectors; duplicates are an error (MetalLB: ``duplicate definition of ...``)."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValueError("%s: must be a list of label selectors" % where)
    result: list[LabelSelector] = []
    keys = set()
    for index, item in enumerate(items):
        sel = parse_selector(item, "%s[%d]" % (where, index))
        if sel.key in keys:
            raise ValueError('%s[%d]: duplicate definition of %s "%s"'
                             % (where, index, where.rsplit(".", 1)[-1], selector_text(sel)))
        keys.add(sel.key)
        result.append(sel)
    return tuple(result)


def _requirement(item: tuple[str, str, tuple[str, ...]]) -> str:
    key, operator, values = item
    if operator == "Exists":
        return key
    if operator == "DoesNotExist":
        return "!" + key
    return "%s %s (%s)" % (key, "in" if operator == "In" else "notin", ",".join(values))


def selector_text(sel: LabelSelector) -> str:
    """Kubernetes' selector string (``a=b,c in (x,y)``), as MetalLB prints it in messages."""
    parts = [(k, "%s=%s" % (k, v)) for k, v in sel.match_labels]
    parts += [(e[0], _requirement(e)) for e in sel.match_expressions]
    return ",".join(text for _unused, text in sorted(parts))


def selector_matches(sel: LabelSelector, labels: Mapping[str, str]) -> bool:
    """Kubernetes semantics; the empty selector matches everything."""
    for key, value in sel.match_labels:
        if labels.get(key) != value:
            return False
    for key, operator, values in sel.match_expressions:
        present = key in labels
        if operator == "In":
            if not present or labels[key] not in values:
                return False
        elif operator == "NotIn":
            if present and labels[key] in values:
                return False
        elif operator == "Exists":
            if not present:
                return False
        elif present:  # DoesNotExist
            return False
    return True


def any_matches(selectors: Sequence[LabelSelector], labels: Mapping[str, str]) -> bool:
    """OR across selectors; an empty list matches everything (MetalLB's nodeSelectors rule)."""
    return not selectors or any(selector_matches(sel, labels) for sel in selectors)
