# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Go-style quoting, so that every message (allocator errors, Events, logs) reads exactly like
MetalLB's."""

from __future__ import annotations

from collections.abc import Iterable

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v",
            "\\": "\\\\", '"': '\\"'}


def go_quote(text: str) -> str:
    """Go's ``%q`` (strconv.Quote) for a string: printable characters as they are, the others
    escaped, so a name holding control characters still makes a one-line message."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return '"%s"' % text  # names and IPs: the common case, without a loop
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append("\\x%02x" % ord(char))
        elif ord(char) < 0x10000:
            out.append("\\u%04x" % ord(char))
        else:
            out.append("\\U%08x" % ord(char))
    out.append('"')
    return "".join(out)


def go_quote_list(texts: Iterable[str]) -> str:
    """Go's ``%q`` for a slice: ``["1.2.3.4" "1000::1"]``."""
    return "[" + " ".join(go_quote(t) for t in texts) + "]"
