# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPAddressPool rules (MetalLB's type and the pool rules of config.For), with MetalLB's messages."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

from kube_objects import cr, pool

NS = "metallb-system"


def messages(*objects: dict, **options) -> list[str]:
    return [e.message for e in parse_config(list(objects), **options).errors]


def only_pool(*objects: dict, name: str = "p"):
    result = parse_config(list(objects))
    assert result.errors == []
    return result.config.pools[name]


def test_cidr_host_bits_are_masked_off():
    seg = only_pool(pool("p", "198.51.100.40/24")).segments[0]
    assert (seg.first & 0xFF, seg.last & 0xFF, seg.cidrs) == (0, 255, ("198.51.100.0/24",))


def test_range_with_spaces_is_summarised_in_ascending_order():
    seg = only_pool(pool("p", "198.51.100.150 - 198.51.100.200")).segments[0]
    assert seg.cidrs == ("198.51.100.150/31", "198.51.100.152/29", "198.51.100.160/27",
                         "198.51.100.192/29", "198.51.100.200/32")
    assert seg.widest_prefix == 27


def test_ipv6_cidr_and_range_are_accepted():
    p = only_pool(pool("p", "2001:db8::/64", "2001:db8:1::10-2001:db8:1::1f"))
    assert [s.family for s in p.segments] == [6, 6]


@pytest.mark.parametrize("entry, message", [
    ("198.51.100.1", 'invalid CIDR "198.51.100.1" in pool "p": invalid CIDR "198.51.100.1"'),
    (" 198.51.100.0/24", 'invalid CIDR " 198.51.100.0/24" in pool "p": invalid CIDR " 198.51.100.0/24"'),
    ("198.51.100.0/33", 'invalid CIDR "198.51.100.0/33" in pool "p": invalid CIDR "198.51.100.0/33"'),
    ("198.51.100.20-198.51.100.10",
     'invalid CIDR "198.51.100.20-198.51.100.10" in pool "p": invalid IP range "198.51.100.20-198.51.100.10": '
     'start IP "198.51.100.20" is after the end IP "198.51.100.10"'),
    ("nonsense-198.51.100.10",
     'invalid CIDR "nonsense-198.51.100.10" in pool "p": invalid IP range "nonsense-198.51.100.10": '
     'invalid start IP "nonsense"'),
    ("198.51.100.10-", 'invalid CIDR "198.51.100.10-" in pool "p": invalid IP range "198.51.100.10-": '
     'invalid end IP ""'),
])
def test_invalid_address_entries(entry, message):
    assert messages(pool("p", entry)) == [message]


def test_bare_ip_as_slash32_or_single_range_is_valid():
    p = only_pool(pool("p", "198.51.100.1/32", "198.51.100.3-198.51.100.3"))
    assert [(s.first & 0xFF, s.last & 0xFF) for s in p.segments] == [(1, 1), (3, 3)]


def test_auto_assign_and_avoid_buggy_defaults():
    p = only_pool(pool("p", "198.51.100.0/24"))
    assert (p.auto_assign, p.avoid_buggy_ips, p.service_allocation) == (True, False, None)
    p = only_pool(pool("p", "198.51.100.0/24", autoAssign=False, avoidBuggyIPs=True))
    assert (p.auto_assign, p.avoid_buggy_ips) == (False, True)


def test_missing_pool_name():
    nameless = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"namespace": NS},
                "spec": {"addresses": ["198.51.100.0/24"]}}
    assert messages(nameless) == ["missing pool name"]


@pytest.mark.parametrize("spec", [{}, {"addresses": []}, {"addresses": None}])
def test_pool_without_addresses(spec):
    assert messages(cr("IPAddressPool", "p", spec)) == ["pool has no prefixes defined"]


def test_duplicate_pool_name():
    assert messages(pool("p", "198.51.100.0/25"), pool("p", "198.51.100.128/25")) == [
        'duplicate definition of pool "p"']


@pytest.mark.parametrize("first, second, overlapping", [
    (["198.51.100.0/24"], ["198.51.100.0/24"], "198.51.100.0/24"),  # equal
    (["198.51.100.0/24"], ["198.51.100.128/25"], "198.51.100.128/25"),  # contained
    (["198.51.100.128/25"], ["198.51.100.0/24"], "198.51.100.0/24"),  # containing
    (["2001:db8::/64"], ["2001:db8::10-2001:db8::20"], "2001:db8::10/124"),  # MetalLB names the CIDR piece
    (["198.51.100.0/24"], ["198.51.100.40/24"], "198.51.100.0/24"),  # host bits masked off
])
def test_overlap_between_pools(first, second, overlapping):
    got = messages(pool("a", *first), pool("b", *second))
    assert got == ['CIDR "%s" in pool "b" overlaps with already defined CIDR "%s"' % (overlapping, first[0])]


def test_overlap_inside_one_pool():
    assert messages(pool("p", "198.51.100.0/24", "198.51.100.7/32")) == [
        'CIDR "198.51.100.7/32" in pool "p" overlaps with already defined CIDR "198.51.100.0/24"']


def test_adjacent_and_cross_family_entries_do_not_overlap():
    assert messages(pool("a", "198.51.100.0/25", "2001:db8::/120"), pool("b", "198.51.100.128/25")) == []


def test_service_allocation_namespaces_and_selectors_resolved_at_parse_time():
    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n, "labels": labels}}
                  for n, labels in (("red", {"team": "a"}), ("blue", {"team": "b"}), ("green", {"team": "a"}))]
    p = only_pool(pool("p", "198.51.100.0/24", serviceAllocation={
        "priority": 5, "namespaces": ["extra"], "namespaceSelectors": [{"matchLabels": {"team": "a"}}]}),
        *namespaces)
    assert p.service_allocation.priority == 5
    assert p.service_allocation.namespaces == {"extra", "red", "green"}
    assert p.service_allocation.service_selectors == ()


def test_service_allocation_with_only_a_priority_matches_every_service():
    p = only_pool(pool("p", "198.51.100.0/24", serviceAllocation={"priority": 1}))
    (everything,) = p.service_allocation.service_selectors
    assert everything.match_labels == () and everything.match_expressions == ()


def test_derived_indexes_by_namespace_and_service_selector():
    config = parse_config([
        pool("b", "198.51.100.0/26", serviceAllocation={"namespaces": ["x"]}),
        pool("a", "198.51.100.64/26",
             serviceAllocation={"namespaces": ["x", "y"], "serviceSelectors": [{"matchLabels": {"k": "v"}}]}),
        pool("c", "198.51.100.128/26", serviceAllocation={"priority": 3}),
        pool("d", "198.51.100.192/26"),
    ]).config
    assert config.by_namespace == {"x": ("a", "b"), "y": ("a",)}
    assert config.by_service_selector == ("a", "c")


@pytest.mark.parametrize("allocation, message", [
    ({"namespaces": ["a", "a"]}, "duplicate definition in namespaces field"),
    ({"namespaceSelectors": [{"matchLabels": {"k": "v"}}, {"matchLabels": {"k": "v"}}]},
     'duplicate definition of namespaceSelectors "k=v"'),
    ({"serviceSelectors": [{"matchLabels": {"k": "v"}}, {"matchLabels": {"k": "v"}}]},
     'duplicate definition of serviceSelectors "k=v"'),
    ({"serviceSelectors": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "x"]}]}]},
     'duplicate definition of match expression value in label selector "x"'),
    ({"serviceSelectors": [{"matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]},
                                                 {"key": "k", "operator": "In", "values": ["y", "x"]}]}]},
     'duplicate definition of match expressions "k in (x,y)"'),
])
def test_service_allocation_duplicates(allocation, message):
    assert messages(pool("p", "198.51.100.0/24", serviceAllocation=allocation)) == [message]


def test_every_independent_error_is_reported_and_names_object_and_field():
    result = parse_config([pool("a", "bad"), pool("b", "198.51.100.0/24"), pool("c", "198.51.100.0/25")])
    assert result.config is None
    assert [(e.kind, e.name, e.field) for e in result.errors] == [
        ("IPAddressPool", "a", "spec.addresses[0]"), ("IPAddressPool", "c", "spec.addresses[0]")]
    assert str(result.errors[0]).startswith('IPAddressPool "a": spec.addresses[0]: invalid CIDR "bad"')


def test_objects_outside_the_metallb_namespace_or_group_are_ignored():
    other_ns = pool("x", "198.51.100.0/24")
    other_ns["metadata"]["namespace"] = "default"
    other_group = dict(pool("y", "198.51.100.0/24"), apiVersion="example.com/v1")
    result = parse_config([other_ns, other_group, pool("p", "203.0.113.0/24")])
    assert list(result.config.pools) == ["p"]
    assert result.warnings == ['IPAddressPool "x" is in namespace "default", not "metallb-system": ignored']
