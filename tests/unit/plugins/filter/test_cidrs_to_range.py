# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.cidrs_to_range: CIDRs as the fewest start-end ranges."""

from __future__ import annotations

import netaddr
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.filter.cidrs_to_range import FilterModule, cidrs_to_range

BASE_V4 = int(netaddr.IPAddress("198.51.100.0"))


def test_registered_under_its_name():
    assert FilterModule().filters() == {"cidrs_to_range": cidrs_to_range}


def test_adjacent_cidrs_merge_into_one_range():
    assert cidrs_to_range(["198.51.100.0/25", "198.51.100.128/25"]) == ["198.51.100.0-198.51.100.255"]


def test_one_cidr_string_is_accepted():
    assert cidrs_to_range("2001:db8::/126") == ["2001:db8::-2001:db8::3"]


def test_separate_cidrs_stay_separate_and_sorted():
    assert cidrs_to_range(["203.0.113.0/30", "198.51.100.8/29"]) == [
        "198.51.100.8-198.51.100.15", "203.0.113.0-203.0.113.3"
    ]


@given(st.lists(st.tuples(st.integers(0, 255), st.integers(24, 32)), min_size=1, max_size=6))
def test_the_ranges_hold_exactly_the_cidrs_addresses(blocks):
    cidrs = [str(netaddr.IPNetwork("%s/%d" % (netaddr.IPAddress(BASE_V4 + offset), prefix)).cidr)
             for offset, prefix in blocks]
    ranges = cidrs_to_range(cidrs)
    covered = netaddr.IPSet()
    for entry in ranges:
        covered.add(netaddr.IPRange(*entry.split("-")))
    assert covered == netaddr.IPSet(cidrs)
    assert len(ranges) == len(list(netaddr.IPSet(cidrs).iter_ipranges()))


@pytest.mark.parametrize("value", [42, {"cidr": "198.51.100.0/24"}, [None]])
def test_unsupported_input_is_an_error(value):
    with pytest.raises(AnsibleFilterError, match="cidrs_to_range: expected a CIDR string or a list of them"):
        cidrs_to_range(value)


def test_an_invalid_cidr_is_an_error():
    with pytest.raises(AnsibleFilterError, match='cidrs_to_range: invalid CIDR "198.51.100.0/40"'):
        cidrs_to_range(["198.51.100.0/40"])
