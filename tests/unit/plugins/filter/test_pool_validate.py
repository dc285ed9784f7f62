# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_validate: the engine's verdict on pools, as a list of messages."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.filter.pool_validate import FilterModule, pool_validate


def pool_object(name, addresses, namespace="metallb-system"):
    return {
        "apiVersion": "metallb.io/v1beta1",
        "kind": "IPAddressPool",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"addresses": addresses},
    }


def test_registered_under_its_name():
    assert FilterModule().filters() == {"pool_validate": pool_validate}


@pytest.mark.parametrize("value", [
    ["198.51.100.0/24", "203.0.113.10-203.0.113.20", "2001:db8::/64"],
    "198.51.100.7/32",
    pool_object("production", ["198.51.100.0/25"]),
    [pool_object("a", ["198.51.100.0/25"]), pool_object("b", ["198.51.100.128/25"])],
])
def test_valid_pools_have_no_errors(value):
    assert pool_validate(value) == []


@pytest.mark.parametrize("entry", ["198.51.100.0/33", "198.51.100.20-198.51.100.10", "198.51.100.1", "pool"])
def test_each_bad_entry_is_one_message_naming_the_field_and_entry(entry):
    errors = pool_validate(["203.0.113.0/24", entry])
    assert len(errors) == 1
    assert "spec.addresses[1]" in errors[0]
    assert entry in errors[0]


def test_overlapping_pools_in_a_list_of_objects_are_reported_with_both_names():
    errors = pool_validate([pool_object("a", ["198.51.100.0/24"]), pool_object("b", ["198.51.100.128/25"])])
    assert len(errors) == 1
    assert "a" in errors[0] and "b" in errors[0]


def test_objects_outside_the_namespace_are_ignored_unless_it_is_given():
    broken = pool_object("elsewhere", ["198.51.100.0/33"], namespace="other")
    assert pool_validate([broken]) == []
    assert len(pool_validate([broken], namespace="other")) == 1


def test_a_pool_written_without_api_version_is_still_checked():
    errors = pool_validate({"kind": "IPAddressPool", "metadata": {"name": "p"}, "spec": {"addresses": ["x"]}})
    assert len(errors) == 1
    assert "spec.addresses[0]" in errors[0]


@pytest.mark.parametrize("value", [42, None, [["198.51.100.0/24"]]])
def test_unsupported_input_is_a_filter_error(value):
    with pytest.raises(AnsibleFilterError, match="pool_validate: expected"):
        pool_validate(value)
