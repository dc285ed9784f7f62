# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_size: counts what MetalLB's entries hold, in every input shape."""

from __future__ import annotations

import netaddr
import pytest
from ansible.errors import AnsibleFilterError
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.filter.pool_size import FilterModule, pool_size

BASE_V4 = int(netaddr.IPAddress("198.51.100.0"))


def pool_object(name, addresses, **spec):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": "metallb-system"},
        "spec": dict(addresses=addresses, **spec),
    }


def test_registered_under_its_name():
    assert FilterModule().filters() == {"pool_size": pool_size}


def test_cidr_and_range_entries_add_up():
    assert pool_size(["198.51.100.0/24", "203.0.113.10-203.0.113.20"]) == 256 + 11


def test_a_single_entry_string_is_one_entry():
    assert pool_size("2001:db8::/120") == 256


def test_avoid_buggy_ips_drops_dot_zero_and_dot_255():
    assert pool_size("198.51.100.0/24", avoid_buggy_ips=True) == 254
    assert pool_size("198.51.100.1-198.51.100.254", avoid_buggy_ips=True) == 254


def test_pool_objects_use_their_own_avoid_buggy_ips():
    assert pool_size(pool_object("a", ["198.51.100.0/24"], avoidBuggyIPs=True)) == 254
    assert pool_size(pool_object("a", ["198.51.100.0/24"])) == 256


def test_a_list_of_objects_adds_every_pool_and_skips_other_kinds():
    objects = [
        pool_object("a", ["198.51.100.0/28"]),
        {"apiVersion": "metallb.io/v1beta1", "kind": "L2Advertisement", "metadata": {"name": "l2"}},
        pool_object("b", ["203.0.113.0/30", "2001:db8::-2001:db8::3"]),
    ]
    assert pool_size(objects) == 16 + 4 + 4


@given(st.integers(0, 255), st.integers(0, 255), st.booleans())
def test_size_is_the_number_of_addresses_netaddr_counts(a, b, avoid_buggy):
    first, last = sorted((a, b))
    entry = "%s-%s" % (netaddr.IPAddress(BASE_V4 + first), netaddr.IPAddress(BASE_V4 + last))
    expected = [ip for ip in netaddr.IPRange(BASE_V4 + first, BASE_V4 + last)
                if not (avoid_buggy and ip.words[-1] in (0, 255))]
    assert pool_size([entry], avoid_buggy_ips=avoid_buggy) == len(expected)


@pytest.mark.parametrize("value", ["198.51.100.0/33", ["203.0.113.20-203.0.113.10"], ["not-an-ip"]])
def test_invalid_entries_raise_one_filter_error_naming_the_entry(value):
    with pytest.raises(AnsibleFilterError, match="pool_size: invalid"):
        pool_size(value)


@pytest.mark.parametrize("value", [42, None, [1, 2], ["198.51.100.0/24", {"kind": "IPAddressPool"}]])
def test_unsupported_input_shapes_raise_a_filter_error(value):
    with pytest.raises(AnsibleFilterError, match="pool_size: expected"):
        pool_size(value)


def test_a_single_object_of_another_kind_is_refused():
    with pytest.raises(AnsibleFilterError, match="expected an IPAddressPool, got L2Advertisement l2"):
        pool_size({"kind": "L2Advertisement", "metadata": {"name": "l2"}})


def test_a_pool_object_without_address_list_is_refused():
    with pytest.raises(AnsibleFilterError, match="IPAddressPool a: spec.addresses must be a list of strings"):
        pool_size(pool_object("a", "198.51.100.0/24"))
