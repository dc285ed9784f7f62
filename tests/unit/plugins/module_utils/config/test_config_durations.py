# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations are Go's time.ParseDuration (the table of Go's own time tests), used by every field."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.durations import (
    time_quote,
    parse_duration_ns,
    whole_seconds,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

S, MS, US, NS = 10 ** 9, 10 ** 6, 10 ** 3, 1
M, H = 60 * S, 3600 * S


@pytest.mark.parametrize("text, ns", [
    ("0", 0), ("5s", 5 * S), ("30s", 30 * S), ("1478s", 1478 * S), ("-5s", -5 * S), ("+5s", 5 * S),
    ("-0", 0), ("+0", 0), ("5.0s", 5 * S), ("5.6s", 5 * S + 600 * MS), ("5.s", 5 * S), (".5s", 500 * MS),
    ("1.004s", 1 * S + 4 * MS), ("100.00100s", 100 * S + 1 * MS), ("10ns", 10), ("11us", 11 * US),
    ("12\u00b5s", 12 * US), ("12\u03bcs", 12 * US), ("13ms", 13 * MS), ("15m", 15 * M), ("16h", 16 * H),
    ("3h30m", 3 * H + 30 * M), ("10.5s4m", 4 * M + 10 * S + 500 * MS), ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
    ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS), ("39h9m14.425s", 39 * H + 9 * M + 14425 * MS),
    ("52763797000ns", 52763797000), ("0.3333333333333333333h", 20 * M), ("9007199254740993ns", (1 << 53) + 1),
    ("9223372036854775807ns", (1 << 63) - 1), ("9223372036854775.807us", (1 << 63) - 1),
    ("9223372036s854ms775us807ns", (1 << 63) - 1), ("-9223372036854775808ns", -(1 << 63)),
    ("-9223372036854775.808us", -(1 << 63)), ("-2562047h47m16.854775808s", -(1 << 63)),
    ("0.100000000000000000000h", 6 * M), ("0.830103483285477580700h", 49 * M + 48 * S + 372539827 * NS),
])
def test_go_accepts(text, ns):
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text, message", [
    ("", 'time: invalid duration ""'), ("3", 'time: missing unit in duration "3"'),
    ("-", 'time: invalid duration "-"'), ("s", 'time: invalid duration "s"'), (".", 'time: invalid duration "."'),
    ("-.", 'time: invalid duration "-."'), (".s", 'time: invalid duration ".s"'),
    ("+.s", 'time: invalid duration "+.s"'), ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ("9223372036854775.808us", 'time: invalid duration "9223372036854775.808us"'),
    ("9223372036854ms775us808ns", 'time: invalid duration "9223372036854ms775us808ns"'),
    ("-9223372036854775809ns", 'time: invalid duration "-9223372036854775809ns"'),
    ("3000000h", 'time: invalid duration "3000000h"'),
    ("9" * 400 + "s", 'time: invalid duration "%ss"' % ("9" * 400)),
    ("\u0669\u0660s", 'time: invalid duration "\\xd9\\xa9\\xd9\\xa0s"'),  # Arabic-Indic 90
    ("\uff19\uff10s", 'time: invalid duration "\\xef\\xbc\\x99\\xef\\xbc\\x90s"'),  # fullwidth 90
    ("1\n0s", 'time: unknown unit "\\x0a" in duration "1\\x0a0s"'),
    (90, 'time: missing unit in duration "90"'), (None, 'time: invalid duration "None"'),
])
def test_go_refuses_with_its_message(text, message):
    with pytest.raises(ValueError) as info:
        parse_duration_ns(text)
    assert str(info.value) == message


def test_whole_seconds_truncate_toward_zero_exactly():
    assert whole_seconds("2.999999999s") == 2
    assert whole_seconds("-2.5s") == -2
    assert whole_seconds("2562047h47m16.854775807s") == 9223372036


def test_time_quote_keeps_one_line():
    assert time_quote('a"b\\c\x7f\x00\u00e9') == '"a\\"b\\\\c\x7f\\x00\\xc3\\xa9"'


def peer(**spec) -> dict:
    base = {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1"}
    base.update(spec)
    return {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
            "metadata": {"name": "p", "namespace": "metallb-system"}, "spec": base}


@pytest.mark.parametrize("field", ["holdTime", "keepaliveTime", "connectTime"])
def test_every_duration_field_reports_overflow_naming_the_field(field):
    result = parse_config([peer(**{field: "3000000h"})], bgp_type="frr")
    assert [str(e) for e in result.errors] == ['BGPPeer "p": spec.%s: time: invalid duration "3000000h"' % field]


def test_keepalive_of_400_nines_is_an_error_not_an_overflow():
    result = parse_config([peer(keepaliveTime="9" * 400 + "s")])
    assert len(result.errors) == 1 and result.errors[0].field == "spec.keepaliveTime"
