# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP community values and the Community CR's aliases (MetalLB's internal/bgp/community)."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import ConfigError, TransientError
from .fields import Fields
from ..model import Community


class InvalidFormat(ValueError):
    """Not a community literal at all (may be an alias defined later: a transient error)."""


def parse_community(text: str) -> Community:
    """``a:b`` (16-bit each) or ``large:a:b:c`` (32-bit each); raises ValueError."""
    parts = text.split(":")
    if len(parts) == 2:
        return Community(False, (_number(parts[0], 16, text), _number(parts[1], 16, text)))
    if len(parts) == 4 and parts[0] == "large":
        return Community(True, tuple(_number(p, 32, text) for p in parts[1:]))
    raise InvalidFormat('invalid community format "%s"' % text)


def _number(part: str, bits: int, text: str) -> int:
    if not part.isdigit() or int(part) >= 1 << bits:
        raise ValueError('invalid community value "%s": %s is not a %d-bit number' % (text, part, bits))
    return int(part)


def community_value(text: str, aliases: Mapping[str, Community]) -> Community:
    if text in aliases:
        return aliases[text]
    return parse_community(text)


def communities_from_crs(objects: list[dict]) -> dict[str, Community]:
    aliases: dict[str, Community] = {}
    for obj in objects:
        f = Fields("Community", obj)
        for index, item in enumerate(f.get("communities", list, [])):
            where = "spec.communities[%d]" % index
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
                raise f.error(where, "must be an object with a name and a value")
            value = item.get("value")
            if not isinstance(value, str):
                raise f.error(where + ".value", "must be a string (quote it in YAML)")
            try:
                parsed = parse_community(value)
            except ValueError as exc:
                raise f.error(where + ".value", 'parsing community "%s": %s' % (item["name"], exc)) from exc
            if item["name"] in aliases:
                raise f.error(where + ".name", 'duplicate definition of community "%s"' % item["name"])
            aliases[item["name"]] = parsed
    return aliases


def is_transient(exc: ConfigError) -> bool:
    return isinstance(exc, TransientError)
