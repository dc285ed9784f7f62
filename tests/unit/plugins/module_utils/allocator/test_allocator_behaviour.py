# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Allocator behaviour beyond MetalLB's own test file: pool choice (priority, namespaces,
service selectors, name order), address choice (lowest free, freed addresses, explicit
addresses ahead of the walk, sharing), dual-stack policies, huge IPv6 pools, notifications."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import (
    DUAL,
    AllocationError,
    Allocator,
    PoolCounters,
)

TCP80 = [("TCP", 80)]
TCP443 = [("TCP", 443)]


def _alloc(build, *pools, notify=None):
    a = Allocator(on_counters_changed=notify)
    a.set_pools(build.pools(*pools))
    return a


# ---------------------------------------------------------------------------- pool choice


def test_ordinary_pools_are_tried_in_name_order(build):
    a = _alloc(build, build.pool("zeta", "203.0.113.0/31"), build.pool("alpha", "198.51.100.0/31"))
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(4)]
    assert got == ["198.51.100.0", "198.51.100.1", "203.0.113.0", "203.0.113.1"]
    assert [a.pool_of(f"s{i}") for i in range(4)] == ["alpha", "alpha", "zeta", "zeta"]


def test_namespace_pool_beats_ordinary_pools_and_is_only_for_its_namespace(build):
    a = _alloc(
        build,
        build.pool("a-ordinary", "198.51.100.0/30"),
        build.pool("z-team", "203.0.113.0/30", namespaces=["team"]),
    )
    assert a.allocate("team/x", build.svc(namespace="team"), 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("other/x", build.svc(namespace="other"), 4, [], "", "") == ["198.51.100.0"]
    # explicit request for the pinned pool from the wrong namespace
    with pytest.raises(AllocationError, match="^pool z-team not compatible for ip assignment$"):
        a.assign("other/y", build.svc(namespace="other"), ["203.0.113.2"], [], "", "")
    with pytest.raises(AllocationError, match="^pool z-team not compatible for ip assignment$"):
        a.allocate_from_pool("other/y", build.svc(namespace="other"), 4, "z-team", [], "", "")


def test_pinned_pool_full_falls_back_to_ordinary_pools(build):
    a = _alloc(
        build,
        build.pool("ordinary", "198.51.100.0/30"),
        build.pool("pinned", "203.0.113.0/32", namespaces=["team"]),
    )
    svc = build.svc(namespace="team")
    assert a.allocate("team/1", svc, 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("team/2", svc, 4, [], "", "") == ["198.51.100.0"]


def test_service_allocation_pools_never_serve_the_fallback(build):
    a = _alloc(build, build.pool("pinned", "203.0.113.0/30", namespaces=["team"]))
    with pytest.raises(AllocationError, match="^no available IPs$"):
        a.allocate("other/x", build.svc(namespace="other"), 4, [], "", "")


def test_priority_order_positive_ascending_then_zero_then_name(build):
    a = _alloc(
        build,
        build.pool("p0-a", "198.51.100.0/32", namespaces=["ns"]),  # priority 0: last
        build.pool("p2", "198.51.100.10/32", priority=2, namespaces=["ns"]),
        build.pool("p1-b", "198.51.100.20/32", priority=1, namespaces=["ns"]),
        build.pool("p1-a", "198.51.100.30/32", priority=1, namespaces=["ns"]),
        build.pool("aaa-ordinary", "203.0.113.0/32"),
    )
    svc = build.svc(namespace="ns")
    got = [
        a.pool_of(k) for k in ("ns/1", "ns/2", "ns/3", "ns/4", "ns/5") if a.allocate(k, svc, 4, [], "", "")
    ]
    assert got == ["p1-a", "p1-b", "p2", "p0-a", "aaa-ordinary"]


def test_priority_only_pool_beats_ordinary_pools(build):
    a = _alloc(
        build, build.pool("a-ordinary", "198.51.100.0/30"), build.pool("z-prio", "203.0.113.0/30", priority=5)
    )
    assert a.allocate("any/x", build.svc(namespace="any"), 4, [], "", "") == ["203.0.113.0"]


def test_service_selectors(build):
    a = _alloc(
        build,
        build.pool("a-ordinary", "198.51.100.0/30"),
        build.pool("z-web", "203.0.113.0/30", selectors=[{"app": "web"}, {"tier": "front"}]),
    )
    assert a.allocate("n/1", build.svc(labels={"app": "web"}), 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("n/2", build.svc(labels={"tier": "front", "x": "y"}), 4, [], "", "") == ["203.0.113.1"]
    assert a.allocate("n/3", build.svc(labels={"app": "db"}), 4, [], "", "") == ["198.51.100.0"]


def test_namespace_and_selector_both_required(build):
    a = _alloc(
        build,
        build.pool("a-ordinary", "198.51.100.0/30"),
        build.pool("z-both", "203.0.113.0/30", namespaces=["ns"], selectors=[{"app": "web"}]),
    )
    assert a.allocate("ns/1", build.svc("ns", {"app": "web"}), 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("ns/2", build.svc("ns", {"app": "db"}), 4, [], "", "") == ["198.51.100.0"]
    assert a.allocate("x/3", build.svc("x", {"app": "web"}), 4, [], "", "") == ["198.51.100.1"]


def test_service_allocation_matching_nothing_is_never_auto_assigned_but_usable_by_name(build):
    """namespaceSelectors that match no namespace: the pool is in no index, excluded from the
    fallback, and compatible with everyone (MetalLB)."""
    a = _alloc(build, build.pool("odd", "203.0.113.0/30", namespace_selectors_matched_nothing=True))
    with pytest.raises(AllocationError, match="^no available IPs$"):
        a.allocate("n/1", build.svc("n"), 4, [], "", "")
    assert a.allocate_from_pool("n/1", build.svc("n"), 4, "odd", [], "", "") == ["203.0.113.0"]


def test_pinned_pool_without_auto_assign_is_skipped(build):
    a = _alloc(
        build,
        build.pool("a-ordinary", "198.51.100.0/30"),
        build.pool("z-manual", "203.0.113.0/30", namespaces=["ns"], auto_assign=False),
    )
    assert a.allocate("ns/1", build.svc("ns"), 4, [], "", "") == ["198.51.100.0"]


# ---------------------------------------------------------------------------- address choice


def test_segments_are_walked_in_configured_order(build):
    a = _alloc(build, build.pool("p", "203.0.113.8/31", "198.51.100.0/31"))
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(4)]
    assert got == ["203.0.113.8", "203.0.113.9", "198.51.100.0", "198.51.100.1"]


def test_freed_address_is_reused_lowest_first(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/28"))
    for i in range(10):
        a.allocate(f"s{i}", build.svc(), 4, [], "", "")
    for i in (7, 2, 5):
        a.unassign(f"s{i}")
    got = [a.allocate(f"n{i}", build.svc(), 4, [], "", "")[0] for i in range(4)]
    assert got == ["203.0.113.2", "203.0.113.5", "203.0.113.7", "203.0.113.10"]


def test_explicit_addresses_ahead_of_the_walk_are_skipped(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/29"))
    a.assign("e1", build.svc(), ["203.0.113.1"], [], "", "")
    a.assign("e2", build.svc(), ["203.0.113.2"], [], "", "")
    a.assign("e3", build.svc(), ["203.0.113.5"], [], "", "")
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(5)]
    assert got == ["203.0.113.0", "203.0.113.3", "203.0.113.4", "203.0.113.6", "203.0.113.7"]
    with pytest.raises(AllocationError):
        a.allocate("s9", build.svc(), 4, [], "", "")
    a.unassign("e2")
    assert a.allocate("s9", build.svc(), 4, [], "", "") == ["203.0.113.2"]


def test_explicit_assignment_of_a_freed_address_before_reuse(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/29"))
    for i in range(4):
        a.allocate(f"s{i}", build.svc(), 4, [], "", "")
    a.unassign("s1")
    a.unassign("s2")
    a.assign("e", build.svc(), ["203.0.113.1"], [], "", "")  # takes a freed address explicitly
    assert a.allocate("n1", build.svc(), 4, [], "", "") == ["203.0.113.2"]
    assert a.allocate("n2", build.svc(), 4, [], "", "") == ["203.0.113.4"]


def test_sharing_service_joins_a_used_address_only_if_lower_than_the_lowest_free(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/29"))
    a.assign("low", build.svc(), ["203.0.113.0"], TCP80, "k", "")
    a.assign("high", build.svc(), ["203.0.113.5"], TCP80, "k2", "")
    # lowest free is .1; the shareable .0 is lower
    assert a.allocate("s1", build.svc(), 4, TCP443, "k", "") == ["203.0.113.0"]
    # port clash on .0: lowest free .1 wins
    assert a.allocate("s2", build.svc(), 4, TCP80, "k", "") == ["203.0.113.1"]
    # key k2 only shareable at .5, but .2 is free and lower
    assert a.allocate("s3", build.svc(), 4, TCP443, "k2", "") == ["203.0.113.2"]
    assert a.counters("p") == PoolCounters(4, 0, 4, 0)


def test_sharing_picks_a_full_segment_earlier_in_walk_order(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/32", "198.51.100.0/30"))
    a.assign("first", build.svc(), ["203.0.113.0"], TCP80, "k", "")
    assert a.allocate("joiner", build.svc(), 4, TCP443, "k", "") == ["203.0.113.0"]
    assert a.allocate("loner", build.svc(), 4, TCP443, "", "") == ["198.51.100.0"]


def test_sharing_needs_same_backend_key(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    a.assign("a", build.svc(), ["203.0.113.0"], TCP80, "k", "app=x")
    assert a.allocate("b", build.svc(), 4, TCP443, "k", "app=y") == ["203.0.113.1"]
    assert a.allocate("c", build.svc(), 4, TCP443, "k", "app=x") == ["203.0.113.0"]
    with pytest.raises(AllocationError) as err:
        a.assign("d", build.svc(), ["203.0.113.0"], [("UDP", 53)], "k", "app=y")
    assert str(err.value) == 'can\'t change sharing key for "d", address also in use by a,c'


def test_all_sharers_use_the_port_then_a_new_address(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/28"))
    got = [a.allocate(f"s{i}", build.svc(), 4, TCP80, "same", "")[0] for i in range(5)]
    assert got == [f"203.0.113.{i}" for i in range(5)]
    assert a.allocate("t", build.svc(), 4, TCP443, "same", "") == ["203.0.113.0"]


def test_sole_user_can_change_its_keys_in_place_and_others_then_follow_the_new_key(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    a.assign("a", build.svc(), ["203.0.113.0"], TCP80, "old", "")
    a.assign("a", build.svc(), ["203.0.113.0"], TCP80, "new", "")
    with pytest.raises(AllocationError):
        a.assign("b", build.svc(), ["203.0.113.0"], TCP443, "old", "")
    a.assign("b", build.svc(), ["203.0.113.0"], TCP443, "new", "")
    a.unassign("a")
    a.assign("b", build.svc(), ["203.0.113.0"], TCP443, "", "")  # b is alone again
    with pytest.raises(AllocationError):
        a.assign("c", build.svc(), ["203.0.113.0"], TCP80, "new", "")


def test_portless_sharers_keep_the_address_protected(build):
    """Deliberate difference from MetalLB (MetalLB's sharing-key quirk): the key stays while any user remains."""
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    a.assign("a", build.svc(), ["203.0.113.0"], [], "k", "")
    a.assign("b", build.svc(), ["203.0.113.0"], [], "k", "")
    a.unassign("a")
    with pytest.raises(AllocationError, match="address also in use by b"):
        a.assign("c", build.svc(), ["203.0.113.0"], [], "", "")
    assert a.allocate("d", build.svc(), 4, [], "", "") == ["203.0.113.1"]


# ---------------------------------------------------------------------------- re-claim and failures


def test_allocate_for_an_allocated_service_reclaims_and_never_moves(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    a.assign("s", build.svc(), ["203.0.113.3"], TCP80, "", "")
    assert a.allocate("s", build.svc(), 4, TCP80, "", "") == ["203.0.113.3"]
    a.assign("t", build.svc(), ["203.0.113.2"], TCP80, "k", "")
    a.assign("s", build.svc(), ["203.0.113.3"], TCP80, "k", "")
    a.assign("t2", build.svc(), ["203.0.113.3"], TCP443, "k", "")
    # s now wants a different key: re-claim fails (address shared), allocation untouched
    with pytest.raises(AllocationError, match="address also in use by t2"):
        a.allocate("s", build.svc(), 4, TCP80, "other", "")
    assert a.ips_of("s") == ["203.0.113.3"]
    assert a.pool_of("s") == "p"


def test_failed_assign_keeps_previous_allocation_and_counters(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"), build.pool("q", "198.51.100.0/30"))
    a.assign("s", build.svc(), ["203.0.113.1"], TCP80, "", "")
    a.assign("o", build.svc(), ["198.51.100.1"], TCP80, "", "")
    before = (a.counters("p"), a.counters("q"))
    for ips in (
        ["198.51.100.1"],
        ["203.0.113.1", "203.0.113.2"],
        ["198.18.0.1"],
        ["203.0.113.1", "198.51.100.2"],
    ):
        with pytest.raises(AllocationError):
            a.assign("s", build.svc(), ips, TCP80, "", "")
        assert a.ips_of("s") == ["203.0.113.1"]
        assert (a.counters("p"), a.counters("q")) == before


def test_move_between_pools_updates_both_counters(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"), build.pool("q", "198.51.100.0/30"))
    a.assign("s", build.svc(), ["203.0.113.1"], [], "", "")
    a.assign("s", build.svc(), ["198.51.100.1"], [], "", "")
    assert a.counters("p") == PoolCounters(0, 0, 4, 0)
    assert a.counters("q") == PoolCounters(1, 0, 3, 0)
    assert a.pool_of("s") == "q"
    assert a.allocate("n", build.svc(), 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("m", build.svc(), 4, [], "", "") == ["203.0.113.1"]  # the released one


def test_inputs_are_canonicalised(build):
    a = _alloc(build, build.pool("p", "2001:db8::/126", "203.0.113.0/30"))
    a.assign("s", build.svc(), ["2001:0DB8:0:0::0002"], [], "", "")
    assert a.ips_of("s") == ["2001:db8::2"]
    assert a.pool_for(["2001:db8:0::3"]) == "p"
    assert a.pool_for(["203.0.113.9"]) is None
    assert a.pool_for(["garbage"]) is None
    assert a.pool_for([]) is None


def test_explicit_ip_outside_every_pool(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    with pytest.raises(AllocationError) as err:
        a.assign("s", build.svc(), ["198.51.100.7"], [], "", "")
    assert str(err.value) == '["198.51.100.7"] is not allowed in config'


# ---------------------------------------------------------------------------- dual-stack


def test_dual_stack_results_are_ipv4_first_even_for_ipv6_primary(build):
    a = _alloc(build, build.pool("p", "2001:db8::/126", "203.0.113.0/30"))
    got = a.allocate("s", build.svc(policy="RequireDualStack", primary=6), DUAL, [], "", "")
    assert got == ["203.0.113.0", "2001:db8::"]


def test_single_stack_service_with_dual_family_gets_nothing(build):
    a = _alloc(build, build.pool("p", "2001:db8::/126", "203.0.113.0/30"))
    with pytest.raises(AllocationError, match="^no available IPs$"):
        a.allocate("s", build.svc(policy="SingleStack"), DUAL, [], "", "")


@pytest.mark.parametrize(
    "primary, want",
    [(4, ("v4only", ["203.0.113.0"])), (6, ("v6only", ["2001:db8::"]))],
)
def test_prefer_dual_stack_without_a_dual_pool_takes_the_primary_family(build, primary, want):
    a = _alloc(build, build.pool("v4only", "203.0.113.0/30"), build.pool("v6only", "2001:db8::/126"))
    got = a.allocate("s", build.svc(policy="PreferDualStack", primary=primary), DUAL, [], "", "")
    assert (a.pool_of("s"), got) == want


def test_prefer_dual_stack_falls_back_to_the_secondary_family(build):
    a = _alloc(build, build.pool("v6only", "2001:db8::/126"))
    got = a.allocate("s", build.svc(policy="PreferDualStack", primary=4), DUAL, [], "", "")
    assert got == ["2001:db8::"]


def test_prefer_dual_stack_takes_the_first_pool_with_both_families(build):
    a = _alloc(
        build,
        build.pool("a-v4", "203.0.113.0/30"),
        build.pool("b-dual", "198.51.100.0/30", "2001:db8::/126"),
    )
    got = a.allocate("s", build.svc(policy="PreferDualStack"), DUAL, [], "", "")
    assert got == ["198.51.100.0", "2001:db8::"]


def test_allocate_additional_family(build):
    a = _alloc(
        build, build.pool("p", "203.0.113.0/30", "2001:db8::/126"), build.pool("v4", "198.51.100.0/30")
    )
    svc = build.svc(policy="PreferDualStack")
    assert a.allocate_from_pool("s", svc, 4, "p", TCP80, "", "") == ["203.0.113.0"]
    assert a.allocate_additional_family("s", svc, "203.0.113.0", "p", TCP80, "", "") == [
        "203.0.113.0",
        "2001:db8::",
    ]
    assert a.ips_of("s") == ["203.0.113.0", "2001:db8::"]
    assert a.counters("p") == PoolCounters(1, 1, 3, 3)
    a.assign("t", svc, ["198.51.100.1"], [], "", "")
    with pytest.raises(AllocationError) as err:
        a.allocate_additional_family("t", svc, "198.51.100.1", "v4", [], "", "")
    assert str(err.value) == "no available IPs in pool v4 for ipv6 IPFamily"
    with pytest.raises(AllocationError, match='^unknown pool "nope"$'):
        a.allocate_additional_family("t", svc, "198.51.100.1", "nope", [], "", "")
    assert a.ips_of("t") == ["198.51.100.1"]


# ---------------------------------------------------------------------------- scale without enumeration


@pytest.mark.parametrize("entry", ["2001:db8::/32", "2001:db8:1::/48", "2001:db8::/64"])
def test_huge_ipv6_pools_hand_out_lowest_first_without_enumerating(build, entry):
    a = _alloc(build, build.pool("big", entry))
    got = [a.allocate(f"s{i}", build.svc(primary=6), 6, [], "", "")[0] for i in range(300)]
    base = entry.split("/")[0]
    assert got[:3] == [base, base + "1", base + "2"]
    assert len(set(got)) == 300
    for i in range(0, 300, 3):
        a.unassign(f"s{i}")
    assert a.allocate("again", build.svc(primary=6), 6, [], "", "") == [base]
    # an explicit address far up the prefix costs nothing and is skipped only when reached
    far = base + "ffff"
    a.assign("far", build.svc(primary=6), [far], [], "", "")
    c = a.counters("big")
    assert c.assigned_v6 == 300 - 100 + 2
    assert c.available_v6 == 9223372036854775807 - c.assigned_v6


def test_ipv6_slash_120_capacity_and_exhaustion(build):
    a = _alloc(build, build.pool("small", "2001:db8::/120"))
    for i in range(256):
        a.allocate(f"s{i}", build.svc(primary=6), 6, [], "", "")
    assert a.counters("small") == PoolCounters(0, 256, 0, 0)
    with pytest.raises(AllocationError, match="^no available IPs$"):
        a.allocate("one-more", build.svc(primary=6), 6, [], "", "")


# ---------------------------------------------------------------------------- notifications, queries


def test_counter_notifications(build):
    calls = []
    a = _alloc(
        build, build.pool("p", "203.0.113.0/30"), build.pool("q", "198.51.100.0/30"), notify=calls.append
    )
    assert calls == ["p", "q"]
    calls.clear()
    a.allocate("s", build.svc(), 4, [], "", "")
    a.assign("s", build.svc(), ["198.51.100.0"], [], "", "")  # moves p -> q
    assert calls == ["p", "p", "q"]
    calls.clear()
    with pytest.raises(AllocationError):
        a.assign("t", build.svc(), ["198.51.100.0"], [], "", "")
    assert calls == []  # nothing changed, nothing announced
    assert not a.unassign("nobody")
    assert calls == []
    a.set_pools(build.pools(build.pool("r", "198.51.100.0/30")))
    assert calls == ["p", "q", "r"]
    assert a.pool_of("s") == "r"


def test_queries_on_unknown_things(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/30"))
    assert a.pool_of("nobody") is None
    assert a.ips_of("nobody") == []
    assert a.counters("nope") == PoolCounters(0, 0, 0, 0)
    assert a.pool_names() == ["p"]
    with pytest.raises(ValueError):
        a.allocate("s", build.svc(), 5, [], "", "")


def test_shareable_address_found_when_only_some_sharers_use_the_port(build):
    a = _alloc(build, build.pool("p", "203.0.113.0/29"))
    a.assign("a0", build.svc(), ["203.0.113.0"], TCP80, "k", "")
    a.assign("a1", build.svc(), ["203.0.113.1"], TCP80, "k", "")
    a.assign("a2", build.svc(), ["203.0.113.2"], TCP443, "k", "")
    a.assign("f", build.svc(), ["203.0.113.3"], [], "", "")
    assert a.allocate("n", build.svc(), 4, TCP80, "k", "") == ["203.0.113.2"]
    assert a.allocate("m", build.svc(), 4, TCP80, "k", "") == ["203.0.113.4"]
