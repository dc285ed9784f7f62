# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address entries and pool arithmetic (MetalLB's address syntax and poolCount)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.addresses import (
    MAX_INT64,
    canonical_ip,
    cidrs_to_ranges,
    entry_contains,
    entry_size,
    format_ip,
    is_buggy,
    parse_entry,
    parse_ip,
    pool_capacity,
    range_to_cidrs,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.model import Pool


@pytest.mark.parametrize("text, expected", [
    ("198.51.100.7", (4, 0xC6336407)), ("2001:db8::1", (6, 0x20010DB8 << 96 | 1)),
    ("::ffff:198.51.100.7", (4, 0xC6336407)),  # IPv4-mapped is IPv4, as Go's net.ParseIP
    ("198.51.100.256", None), ("", None), (" 198.51.100.7", None), ("2001:db8::/64", None), (None, None), (7, None),
])
def test_parse_ip(text, expected):
    assert parse_ip(text) == expected


def test_format_ip_is_canonical():
    assert canonical_ip("2001:0DB8:0:0:0:0:0:0001") == "2001:db8::1"
    assert format_ip(4, 0xC6336400) == "198.51.100.0"
    assert canonical_ip("junk") is None


def test_is_buggy_only_ipv4_dot0_dot255():
    assert [is_buggy(4, int(ipaddress.ip_address(a))) for a in ("198.51.100.0", "198.51.100.255", "198.51.100.1")] \
        == [True, True, False]
    assert not is_buggy(6, 0x20010DB8 << 96)


def pool(*entries: str, avoid: bool = False) -> Pool:
    return Pool(name="p", segments=tuple(parse_entry(e) for e in entries), avoid_buggy_ips=avoid)


@pytest.mark.parametrize("entries, avoid, expected", [  # MetalLB TestPoolCount, on documentation prefixes
    (["198.51.100.0/24"], False, (256, 0)),
    (["198.51.100.0/24", "203.0.113.0/25"], False, (384, 0)),
    (["198.51.100.0/24", "203.0.113.0/25"], True, (381, 0)),
    (["198.51.100.0/31", "2001:db8::/127"], True, (1, 2)),
    (["2001:db8::/64"], False, (0, MAX_INT64)),
    (["2001:db8::/32", "2001:db9::/120"], False, (0, MAX_INT64)),
    (["198.51.100.250-203.0.113.5"], False, (int(ipaddress.ip_address("203.0.113.5"))
                                             - int(ipaddress.ip_address("198.51.100.250")) + 1, 0)),
])
def test_pool_capacity_matches_metallb(entries, avoid, expected):
    assert pool_capacity(pool(*entries, avoid=avoid)) == expected


def test_entry_helpers():
    assert entry_size("198.51.100.0/24") == 256
    assert entry_size("198.51.100.0/24", avoid_buggy=True) == 254
    assert entry_size("198.51.100.250-198.51.101.5", avoid_buggy=True) == 10
    assert entry_contains("198.51.100.0/24", "198.51.100.9") and not entry_contains("198.51.100.0/24", "2001:db8::")
    assert not entry_contains("198.51.100.0/24", "junk")
    assert range_to_cidrs("198.51.100.150-198.51.100.200") == [
        "198.51.100.150/31", "198.51.100.152/29", "198.51.100.160/27", "198.51.100.192/29", "198.51.100.200/32"]
    assert cidrs_to_ranges(["198.51.100.128/25", "198.51.100.0/25", "2001:db8::/127", "203.0.113.7/32"]) == [
        "198.51.100.0-198.51.100.255", "203.0.113.7-203.0.113.7", "2001:db8::-2001:db8::1"]


def test_mixed_family_range_is_rejected():
    with pytest.raises(ValueError, match="different families"):
        parse_entry("198.51.100.1-2001:db8::1")


ADDR = st.integers(int(ipaddress.ip_address("198.51.99.0")), int(ipaddress.ip_address("198.51.101.255")))


@given(ADDR, ADDR, st.booleans())
def test_range_arithmetic_matches_brute_force(a, b, avoid):
    first, last = min(a, b), max(a, b)
    entry = "%s-%s" % (ipaddress.ip_address(first), ipaddress.ip_address(last))
    seg = parse_entry(entry)
    covered = [int(ip) for c in seg.cidrs for ip in ipaddress.ip_network(c)]
    assert covered == list(range(first, last + 1))  # pieces ascending, exact cover
    assert seg.widest_prefix == min(ipaddress.ip_network(c).prefixlen for c in seg.cidrs)
    usable = sum(1 for v in range(first, last + 1) if not (avoid and v & 0xFF in (0, 255)))
    assert entry_size(entry, avoid_buggy=avoid) == usable
    if not avoid:
        assert pool_capacity(pool(entry))[0] == usable


# -- IPv4-mapped IPv6 entries name IPv4 addresses -------------------------------------------------

@pytest.mark.parametrize("entry, first, last, cidrs", [
    ("::ffff:198.51.100.0/120", "198.51.100.0", "198.51.100.255", ("198.51.100.0/24",)),
    ("::ffff:198.51.100.16-::ffff:198.51.100.19", "198.51.100.16", "198.51.100.19", ("198.51.100.16/30",)),
    ("::ffff:0:0/96", "0.0.0.0", "255.255.255.255", ("0.0.0.0/0",)),
])
def test_ipv4_mapped_entries_are_folded_into_ipv4(entry, first, last, cidrs):
    seg = parse_entry(entry)
    assert (seg.family, format_ip(4, seg.first), format_ip(4, seg.last), seg.cidrs) == (4, first, last, cidrs)
    assert seg.entry == entry


@pytest.mark.parametrize("entry", ["::/64", "::/0", "::fffe:ffff:ffff-::ffff:0:5", "::ffff:255.255.255.250-::1:0:0:0"])
def test_ipv6_entries_reaching_into_the_mapped_range_are_refused(entry):
    with pytest.raises(ValueError, match="reaches into the IPv4-mapped IPv6 range ::ffff:0:0/96"):
        parse_entry(entry)


def test_two_pools_naming_one_address_twice_cannot_both_hand_it_out():
    from ansible_collections.metal.lb.plugins.module_utils.engine.planner import plan

    def pool(name, addresses):
        return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                "metadata": {"name": name, "namespace": "metallb-system"}, "spec": {"addresses": addresses}}

    result = plan([pool("a", ["198.51.100.0/24"]), pool("b", ["::ffff:198.51.100.0/120"])])
    assert result["errors"] == ['IPAddressPool "b": spec.addresses[0]: CIDR "198.51.100.0/24" (written '
                                '"::ffff:198.51.100.0/120") in pool "b" overlaps with already defined CIDR '
                                '"198.51.100.0/24"']
