# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No quadratic corner in validating many BGPAdvertisements; the work is counted, not timed.

Before the fix every advertisement was compared with every earlier one twice: as a whole object
(the duplicate check) and for local preference (per pool). Both are now indexed; the rules and
their messages are unchanged (the cases after the counting tests).
"""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config import advertisements, parse
from ansible_collections.metal.lb.plugins.module_utils.engine.config.duplicates import EqualObjects, frozen
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

NS = "metallb-system"
N = 1500


class CountingDict(dict):
    """An object from the input that counts how often it is compared as a whole."""

    comparisons = 0

    def __eq__(self, other):
        CountingDict.comparisons += 1
        return dict.__eq__(self, other)

    __hash__ = None


def cr(kind: str, name: str, spec: dict) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": kind, "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def many_advertisements(n: int) -> list[dict]:
    objects = [cr("IPAddressPool", "p", {"addresses": ["198.51.100.0/24"]}),
               {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}}]
    objects += [CountingDict(cr("BGPAdvertisement", "adv-%05d" % i,
                                {"ipAddressPools": ["p"], "communities": ["64500:%d" % i]}))
                for i in range(n)]
    return objects


def test_many_advertisements_of_one_pool_are_not_compared_pairwise(monkeypatch):
    calls = []
    original = advertisements.compatible_local_pref

    def counting(*args):
        calls.append(args[0].name)
        return original(*args)

    monkeypatch.setattr(advertisements, "compatible_local_pref", counting)
    monkeypatch.setattr(parse, "compatible_local_pref", counting, raising=False)
    CountingDict.comparisons = 0
    result = parse_config(many_advertisements(N), namespace=NS)
    assert result.errors == []
    assert len(result.config.bgp_advertisements) == N
    assert len(calls) <= N, len(calls)  # pairwise: N*(N-1)/2 = 1,124,250
    assert CountingDict.comparisons <= N, CountingDict.comparisons


def test_a_duplicate_among_many_is_still_found_with_its_positions():
    objects = many_advertisements(N)
    objects.append(dict(objects[2 + 700]))  # equal to advertisement 701 (1-based, name order)
    result = parse_config(objects, namespace=NS)
    assert [(e.kind, e.name, e.message) for e in result.errors] == [
        ("BGPAdvertisement", "adv-00700",
         "duplicate definition of bgpadvertisements. advertisement 701 and 702 are equal")]


def test_the_first_conflicting_local_preference_is_named():
    """Groups by preference must not change which earlier advertisement the message names."""
    objects = [cr("IPAddressPool", "p", {"addresses": ["198.51.100.0/24"]}),
               {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}},
               cr("BGPAdvertisement", "a1", {"ipAddressPools": ["p"], "localPref": 300,
                                             "aggregationLength": 30}),
               cr("BGPAdvertisement", "a2", {"ipAddressPools": ["p"], "localPref": 200}),
               cr("BGPAdvertisement", "a3", {"ipAddressPools": ["p"], "localPref": 300}),
               cr("BGPAdvertisement", "a4", {"ipAddressPools": ["p"], "localPref": 100})]
    result = parse_config(objects, namespace=NS)
    assert [(e.name, e.message.split(":")[0], e.message.split(":")[1].split(" was")[0])
            for e in result.errors] == [
        ("a3", "invalid local preference 300", " local preferernce 200"),
        ("a4", "invalid local preference 100", " local preferernce 200")]


@pytest.mark.parametrize("a, b, equal", [
    ({"x": [1, 2]}, {"x": [1, 2]}, True),
    ({"x": [1, 2]}, {"x": [2, 1]}, False),
    ({"x": 1}, {"x": 1.0}, True),  # as == says
    ({"x": [1]}, {"x": (1,)}, False),
    ({"x": {"a": 1}}, {"x": {("a", 1)}}, False),
    ({"x": {"a": None}}, {"x": {}}, False),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
])
def test_frozen_values_are_equal_exactly_when_the_values_are(a, b, equal):
    assert (a == b) is equal
    assert (frozen(a) == frozen(b)) is equal
    seen = EqualObjects()
    assert seen.add(a) is None
    assert (seen.add(b) == 1) is equal


def test_unhashable_leaves_fall_back_to_comparison():
    seen = EqualObjects()
    assert seen.add({"x": bytearray(b"1")}) is None
    assert seen.add({"x": bytearray(b"1")}) == 1
    assert seen.add({"x": bytearray(b"2")}) is None
    assert len(seen) == 2
