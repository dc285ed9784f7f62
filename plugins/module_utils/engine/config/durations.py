# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Go's ``time.ParseDuration``, which MetalLB's ``metav1.Duration`` fields go through.

Hand-written because no Python library parses Go durations with Go's acceptance rules:
ASCII digits only (``str.isdigit`` and ``float`` accept other scripts' digits), the units
ns, us, µs, μs, ms, s, m, h, and anything beyond int64 nanoseconds refused as Go refuses it
(a float sum would become ``inf`` and crash every caller that truncates it). The messages
are Go's, so they read as MetalLB's.
"""

from __future__ import annotations

from typing import Any

_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_LIMIT = 1 << 63
_DIGITS = "0123456789"


def time_quote(text: str) -> str:
    """Go's time.quote: control and non-ASCII characters as \\x escapes, so a message stays one line."""
    out = ['"']
    for char in text:
        if char < " " or char >= "\x80":
            out.extend("\\x%02x" % byte for byte in char.encode("utf-8", "surrogatepass"))
        elif char in '"\\':
            out.append("\\" + char)
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _invalid(orig: str) -> ValueError:
    return ValueError("time: invalid duration " + time_quote(orig))


def _leading_int(s: str) -> tuple[int, str]:
    i = 0
    value = 0
    while i < len(s) and s[i] in _DIGITS:
        value = value * 10 + ord(s[i]) - 48
        if value > _LIMIT:
            raise OverflowError
        i += 1
    return value, s[i:]


def _leading_fraction(s: str) -> tuple[int, int, str]:
    """Digits after the point; past int64 precision they are read and ignored, as in Go."""
    i, value, scale, overflow = 0, 0, 1, False
    while i < len(s) and s[i] in _DIGITS:
        if not overflow:
            nxt = value * 10 + ord(s[i]) - 48
            if value > (_LIMIT - 1) // 10 or nxt > _LIMIT:
                overflow = True
            else:
                value, scale = nxt, scale * 10
        i += 1
    return value, scale, s[i:]


def parse_duration_ns(text: Any) -> int:
    """Nanoseconds of a Go duration string; raises ValueError with Go's message."""
    if not isinstance(text, str):
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            raise ValueError("time: missing unit in duration " + time_quote(str(text)))
        raise ValueError("time: invalid duration " + time_quote(str(text)[:64]))
    orig, s, neg = text, text, False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise _invalid(orig)
    total = 0
    while s:
        if s[0] != "." and s[0] not in _DIGITS:
            raise _invalid(orig)
        before = len(s)
        try:
            whole, s = _leading_int(s)
        except OverflowError:
            raise _invalid(orig) from None
        pre = before != len(s)
        frac, scale, post = 0, 1, False
        if s and s[0] == ".":
            s = s[1:]
            before = len(s)
            frac, scale, s = _leading_fraction(s)
            post = before != len(s)
        if not pre and not post:
            raise _invalid(orig)
        i = 0
        while i < len(s) and s[i] != "." and s[i] not in _DIGITS:
            i += 1
        if i == 0:
            raise ValueError("time: missing unit in duration " + time_quote(orig))
        unit_text, s = s[:i], s[i:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError("time: unknown unit %s in duration %s" % (time_quote(unit_text), time_quote(orig)))
        if whole > _LIMIT // unit:
            raise _invalid(orig)
        whole *= unit
        if frac:
            whole += int(float(frac) * (float(unit) / scale))
            if whole > _LIMIT:
                raise _invalid(orig)
        total += whole
        if total > _LIMIT:
            raise _invalid(orig)
    if neg:
        return -total
    if total > _LIMIT - 1:
        raise _invalid(orig)
    return total


def parse_duration(text: Any) -> float:
    """Seconds of a Go duration string (see ``parse_duration_ns``); raises ValueError."""
    return parse_duration_ns(text) / 1e9


def whole_seconds(text: Any) -> int:
    """Go's ``int(d / time.Second)``: truncated toward zero, exactly (no float rounding)."""
    ns = parse_duration_ns(text)
    return -(-ns // 1_000_000_000) if ns < 0 else ns // 1_000_000_000
