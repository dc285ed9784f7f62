# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hostile input to the filters: control characters and Ansible's lazy containers give one printable
line naming what was wrong, never a traceback or a class name the user never wrote."""

from __future__ import annotations

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.filter.cidrs_to_range import cidrs_to_range
from ansible_collections.metal.lb.plugins.filter.pool_contains import pool_contains
from ansible_collections.metal.lb.plugins.filter.pool_size import pool_size
from ansible_collections.metal.lb.plugins.filter.pool_validate import pool_validate
from ansible_collections.metal.lb.plugins.filter.range_to_cidrs import range_to_cidrs

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def one_line_naming(text: str, *names: str) -> None:
    assert "Traceback" not in text
    assert text.strip() and "\n" not in text.strip(), text
    assert not CONTROL.search(text.strip()), text
    for name in names:
        assert name in text, (name, text)


@pytest.mark.parametrize("call", [
    lambda: pool_contains(["198.51.100.0/24"], "198.51.100.1\x00"),
    lambda: range_to_cidrs("198.51.100.1\x00-198.51.100.5"),
    lambda: cidrs_to_range(["198.51.100.0/24\x00"]),
    lambda: pool_size(["198.51.100.0/24\n"]),
], ids=["pool_contains", "range_to_cidrs", "cidrs_to_range", "pool_size"])
def test_filters_with_control_characters_fail_with_one_printable_line(call):
    with pytest.raises(AnsibleFilterError) as caught:
        call()
    one_line_naming(str(caught.value))
    assert "embedded null character" not in str(caught.value)


def test_pool_validate_reports_control_characters_escaped():
    [message] = pool_validate(["198.51.100.0/24\x00"])
    one_line_naming(message, "spec.addresses[0]", "\\x00")


# Named as Ansible's lazy containers are (ansible-core 2.19 hands filters these; they cannot be
# built outside a templar): what the user wrote was a dict and a list.
LazyDict = type("_AnsibleLazyTemplateDict", (dict,), {})
LazyList = type("_AnsibleLazyTemplateList", (list,), {})


@pytest.mark.parametrize("call, expected", [
    (lambda d, lst: range_to_cidrs(d), "got dict"),
    (lambda d, lst: cidrs_to_range(d), "got dict"),
    (lambda d, lst: cidrs_to_range(lst), "got a list with a int at [0]"),
    (lambda d, lst: pool_size(5), "got int"),
], ids=["range_to_cidrs-dict", "cidrs_to_range-dict", "cidrs_to_range-list", "pool_size-int"])
def test_filter_errors_name_types_as_written_not_as_held(call, expected):
    with pytest.raises(AnsibleFilterError) as caught:
        call(LazyDict({"a": 1}), LazyList([1, 2]))
    assert expected in str(caught.value)
    assert "Lazy" not in str(caught.value)
