# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_contains: membership in CIDR and start-end entries."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.filter.pool_contains import FilterModule, pool_contains

POOL = ["198.51.100.10-198.51.100.20", "2001:db8::/120"]


def test_registered_under_its_name():
    assert FilterModule().filters() == {"pool_contains": pool_contains}


@pytest.mark.parametrize(
    "ip", ["198.51.100.10", "198.51.100.15", "198.51.100.20", "2001:db8::ff", "2001:db8::"]
)
def test_addresses_inside_an_entry_are_in_the_pool(ip):
    assert pool_contains(POOL, ip) is True


@pytest.mark.parametrize("ip", ["198.51.100.9", "198.51.100.21", "203.0.113.15", "2001:db8::100"])
def test_addresses_outside_every_entry_are_not(ip):
    assert pool_contains(POOL, ip) is False


def test_an_ipv4_mapped_ipv6_address_is_the_ipv4_address():
    assert pool_contains(POOL, "::ffff:198.51.100.12") is True


def test_pool_objects_are_accepted():
    pool = {"kind": "IPAddressPool", "metadata": {"name": "p"}, "spec": {"addresses": POOL}}
    assert pool_contains(pool, "198.51.100.11") is True
    assert pool_contains([pool], "203.0.113.1") is False


@pytest.mark.parametrize("ip", ["198.51.100.300", "", None, 5, "198.51.100.0/24"])
def test_something_that_is_not_an_address_is_an_error(ip):
    with pytest.raises(AnsibleFilterError, match="pool_contains: .* is not an IPv4 or IPv6 address"):
        pool_contains(POOL, ip)


def test_an_invalid_entry_is_an_error():
    with pytest.raises(AnsibleFilterError, match="pool_contains: invalid CIDR"):
        pool_contains(["198.51.100.0"], "198.51.100.0")
