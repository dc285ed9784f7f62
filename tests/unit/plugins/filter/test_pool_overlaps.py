# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_overlaps: overlapping entry pairs, between and within inputs."""

from __future__ import annotations

import netaddr
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.filter.pool_overlaps import FilterModule, pool_overlaps

BASE_V4 = int(netaddr.IPAddress("203.0.113.0"))


def pool_object(name, addresses):
    return {"kind": "IPAddressPool", "metadata": {"name": name}, "spec": {"addresses": addresses}}


def test_registered_under_its_name():
    assert FilterModule().filters() == {"pool_overlaps": pool_overlaps}


def test_a_range_inside_a_cidr_overlaps_it():
    assert pool_overlaps(["198.51.100.0/24"], ["198.51.100.128-198.51.100.140", "203.0.113.0/24"]) == [
        {"a": "198.51.100.0/24", "a_pool": "", "b": "198.51.100.128-198.51.100.140", "b_pool": ""}
    ]


def test_adjacent_entries_do_not_overlap():
    assert pool_overlaps("198.51.100.0/25", "198.51.100.128-198.51.100.255") == []


def test_families_never_overlap():
    assert pool_overlaps(["2001:db8::/96"], ["198.51.100.0/24"]) == []


def test_ipv4_mapped_ipv6_entries_are_the_ipv4_addresses_they_name():
    assert pool_overlaps(["::ffff:198.51.100.0/120"], ["198.51.100.0/24"]) == [
        {"a": "::ffff:198.51.100.0/120", "a_pool": "", "b": "198.51.100.0/24", "b_pool": ""}]


def test_with_one_argument_the_entries_are_compared_with_each_other():
    objects = [
        pool_object("a", ["198.51.100.0/26", "2001:db8::/64"]),
        pool_object("b", ["198.51.100.60-198.51.100.70"]),
        pool_object("c", ["2001:db8::5/128"]),
    ]
    assert pool_overlaps(objects) == [
        {"a": "198.51.100.0/26", "a_pool": "a", "b": "198.51.100.60-198.51.100.70", "b_pool": "b"},
        {"a": "2001:db8::/64", "a_pool": "a", "b": "2001:db8::5/128", "b_pool": "c"},
    ]


OCTET_PAIRS = st.tuples(st.integers(0, 255), st.integers(0, 255))


@given(OCTET_PAIRS, OCTET_PAIRS)
def test_overlap_is_what_netaddr_sets_say(a, b):
    def entry(bounds):
        first, last = sorted(bounds)
        return "%s-%s" % (netaddr.IPAddress(BASE_V4 + first), netaddr.IPAddress(BASE_V4 + last))

    a_entry, b_entry = entry(a), entry(b)
    a_set = netaddr.IPSet(netaddr.IPRange(*a_entry.split("-")))
    shared = a_set & netaddr.IPSet(netaddr.IPRange(*b_entry.split("-")))
    assert bool(pool_overlaps([a_entry], [b_entry])) == bool(shared)


def test_an_invalid_entry_is_an_error():
    with pytest.raises(AnsibleFilterError, match='pool_overlaps: invalid IP range "198.51.100.9-'):
        pool_overlaps(["198.51.100.9-198.51.100.1"], ["198.51.100.0/24"])
