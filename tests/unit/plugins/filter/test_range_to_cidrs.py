# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.range_to_cidrs: a range as the CIDRs that cover exactly it."""

from __future__ import annotations

import netaddr
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.filter.range_to_cidrs import FilterModule, range_to_cidrs

BASE_V6 = int(netaddr.IPAddress("2001:db8::"))


def test_registered_under_its_name():
    assert FilterModule().filters() == {"range_to_cidrs": range_to_cidrs}


def test_a_range_becomes_ascending_cidrs():
    assert range_to_cidrs("198.51.100.10-198.51.100.20") == [
        "198.51.100.10/31", "198.51.100.12/30", "198.51.100.16/30", "198.51.100.20/32"
    ]


def test_a_cidr_entry_is_itself():
    assert range_to_cidrs("203.0.113.0/24") == ["203.0.113.0/24"]


@given(st.integers(0, 2**16), st.integers(0, 2**16))
def test_the_cidrs_cover_exactly_the_range(a, b):
    first, last = sorted((BASE_V6 + a, BASE_V6 + b))
    entry = "%s-%s" % (netaddr.IPAddress(first), netaddr.IPAddress(last))
    cidrs = range_to_cidrs(entry)
    assert netaddr.IPSet(cidrs) == netaddr.IPSet(netaddr.IPRange(first, last))
    assert [netaddr.IPNetwork(c).first for c in cidrs] == sorted(netaddr.IPNetwork(c).first for c in cidrs)


@pytest.mark.parametrize("entry", ["198.51.100.20-198.51.100.10", "198.51.100.1-2001:db8::1", "nonsense"])
def test_invalid_entries_are_errors(entry):
    with pytest.raises(AnsibleFilterError, match="range_to_cidrs: invalid"):
        range_to_cidrs(entry)


def test_a_list_is_not_an_entry():
    with pytest.raises(AnsibleFilterError, match="expected an address entry string, got list"):
        range_to_cidrs(["198.51.100.0/24"])
