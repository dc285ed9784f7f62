# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB's allocator test scenarios (internal/allocator/allocator_test.go), re-stated as cases.

Where MetalLB only asserts membership in a set (random pool order), these assert the exact
address, because metal.lb is deterministic: pools by name, lowest free address first.
"""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import (
    DUAL,
    AllocationError,
    Allocator,
    PoolCounters,
)

MAXINT64 = 9223372036854775807
TCP80 = [("tcp", 80)]
TCP443 = [("tcp", 443)]
UDP53 = [("udp", 53)]


# ---------------------------------------------------------------------------- TestAssignment


def _assignment_pools(b):
    return b.pools(
        b.pool("test", "1.2.3.4/31", "1000::4/127"),
        b.pool("test2", "1.2.4.0/24", "1000::4:0/120", avoid_buggy=True),
        b.pool("test3", "1.2.5.0/24", "1000::5:0/120", avoid_buggy=True, namespaces=["test-ns1"]),
        b.pool("test4", "1.2.6.0/24", "1000::6:0/120", avoid_buggy=True, selectors=[{"team": "metallb"}]),
        b.pool(
            "test5",
            "1.2.7.0/24",
            "1000::7:0/120",
            avoid_buggy=True,
            priority=20,
            namespaces=["test-ns1"],
            selectors=[{"team": "metallb"}],
        ),
        b.pool(
            "test6",
            "1.2.8.0/24",
            "1000::9:0/120",
            avoid_buggy=True,
            priority=20,
            namespaces=["test-ns2"],
            selectors=[{"foo": "bar"}],
        ),
    )


# (description, service key, (namespace, labels) or None, ips ([] = unassign), ports, sharing, backend, ok)
_ASSIGNMENT_V4 = [
    ("assign s1", "s1", None, ["1.2.3.4"], [], "", "", True),
    ("s1 idempotent reassign", "s1", None, ["1.2.3.4"], [], "", "", True),
    ("s2 can't grab s1's IP", "s2", None, ["1.2.3.4"], [], "", "", False),
    ("s2 can get the other IP", "s2", None, ["1.2.3.5"], [], "", "", True),
    ("s1 now can't grab s2's IP", "s1", None, ["1.2.3.5"], [], "", "", False),
    ("s1 frees its IP", "s1", None, [], [], "", "", True),
    ("s2 can grab s1's former IP", "s2", None, ["1.2.3.4"], [], "", "", True),
    ("s1 can now grab s2's former IP", "s1", None, ["1.2.3.5"], [], "", "", True),
    ("s3 cannot grab a 0 buggy IP", "s3", None, ["1.2.4.0"], [], "", "", False),
    ("s3 cannot grab a 255 buggy IP", "s3", None, ["1.2.4.255"], [], "", "", False),
    ("s3 can grab another IP in that pool", "s3", None, ["1.2.4.254"], [], "", "", True),
    ("s4 takes an IP, with sharing", "s4", None, ["1.2.4.3"], TCP80, "sharing", "backend", True),
    ("s4 changes its sharing key in place", "s4", None, ["1.2.4.3"], TCP80, "share", "backend", True),
    ("s3 can't share with s4 (port conflict)", "s3", None, ["1.2.4.3"], TCP80, "share", "backend", False),
    (
        "s3 can't share with s4 (wrong sharing key)",
        "s3",
        None,
        ["1.2.4.3"],
        TCP443,
        "othershare",
        "backend",
        False,
    ),
    (
        "s3 can't share with s4 (wrong backend key)",
        "s3",
        None,
        ["1.2.4.3"],
        TCP443,
        "share",
        "otherbackend",
        False,
    ),
    ("s3 takes the same IP as s4", "s3", None, ["1.2.4.3"], TCP443, "share", "backend", True),
    (
        "s3 can change its ports while keeping the same IP",
        "s3",
        None,
        ["1.2.4.3"],
        UDP53,
        "share",
        "backend",
        True,
    ),
    (
        "s3 can't change its sharing key keeping the IP",
        "s3",
        None,
        ["1.2.4.3"],
        TCP443,
        "othershare",
        "backend",
        False,
    ),
    (
        "s3 can't change its backend key keeping the IP",
        "s3",
        None,
        ["1.2.4.3"],
        TCP443,
        "share",
        "otherbackend",
        False,
    ),
    ("s4 takes s3's former IP", "s4", None, ["1.2.4.254"], [], "", "", True),
]

_ASSIGNMENT_V6 = [
    ("ipv6 assign s1", "s1", None, ["1000::4"], [], "", "", True),
    ("s1 idempotent reassign", "s1", None, ["1000::4"], [], "", "", True),
    ("s2 can't grab s1's IP", "s2", None, ["1000::4"], [], "", "", False),
    ("s2 can get the other IP", "s2", None, ["1000::4:5"], [], "", "", True),
    ("s1 now can't grab s2's IP", "s1", None, ["1000::4:5"], [], "", "", False),
    ("s1 frees its IP", "s1", None, [], [], "", "", True),
    ("s2 can grab s1's former IP", "s2", None, ["1000::4"], [], "", "", True),
    ("s1 can now grab s2's former IP", "s1", None, ["1000::4:5"], [], "", "", True),
    ("s3 can grab another IP in that pool", "s3", None, ["1000::4:ff"], [], "", "", True),
    ("s4 takes an IP, with sharing", "s4", None, ["1000::4:3"], TCP80, "sharing", "backend", True),
    ("s4 changes its sharing key in place", "s4", None, ["1000::4:3"], TCP80, "share", "backend", True),
    ("s3 can't share with s4 (port conflict)", "s3", None, ["1000::4:3"], TCP80, "share", "backend", False),
    (
        "s3 can't share with s4 (wrong sharing key)",
        "s3",
        None,
        ["1000::4:3"],
        TCP443,
        "othershare",
        "backend",
        False,
    ),
    (
        "s3 can't share with s4 (wrong backend key)",
        "s3",
        None,
        ["1000::4:3"],
        TCP443,
        "share",
        "otherbackend",
        False,
    ),
    ("s3 takes the same IP as s4", "s3", None, ["1000::4:3"], TCP443, "share", "backend", True),
    (
        "s3 can change its ports while keeping the same IP",
        "s3",
        None,
        ["1000::4:3"],
        UDP53,
        "share",
        "backend",
        True,
    ),
    (
        "s3 can't change its sharing key keeping the IP",
        "s3",
        None,
        ["1000::4:3"],
        TCP443,
        "othershare",
        "backend",
        False,
    ),
    (
        "s3 can't change its backend key keeping the IP",
        "s3",
        None,
        ["1000::4:3"],
        TCP443,
        "share",
        "otherbackend",
        False,
    ),
    ("s4 takes s3's former IP", "s4", None, ["1000::4:ff"], [], "", "", True),
    # dual-stack
    ("s2 frees its IP", "s2", None, [], [], "", "", True),
    ("ip dual-stack assign s1", "s1", None, ["1.2.3.4", "1000::4"], [], "", "", True),
    ("ip dual-stack assign s1 from different pools", "s1", None, ["1.2.4.5", "1000::4"], [], "", "", False),
    # pool compatibility
    ("pool pinned on same namespace", "s1", ("test-ns1", {}), ["1.2.5.10"], [], "", "", True),
    ("pool pinned on different namespace", "s1", ("testns-not-exist", {}), ["1.2.5.10"], [], "", "", False),
    (
        "pool pinned with same service label",
        "s1",
        ("testns-not-exist", {"team": "metallb"}),
        ["1.2.6.10"],
        [],
        "",
        "",
        True,
    ),
    (
        "pool pinned with different service label",
        "s1",
        ("testns-not-exist", {"team": "red"}),
        ["1.2.6.10"],
        [],
        "",
        "",
        False,
    ),
    (
        "pool pinned with namespace and service label",
        "s1",
        ("test-ns1", {"team": "metallb"}),
        ["1.2.7.10"],
        [],
        "",
        "",
        True,
    ),
    (
        "namespace ok, label incompatible",
        "s1",
        ("test-ns2", {"team": "metallb"}),
        ["1.2.8.10"],
        [],
        "",
        "",
        False,
    ),
    (
        "label ok, namespace incompatible",
        "s1",
        ("testns-not-exist", {"foo": "bar"}),
        ["1.2.8.10"],
        [],
        "",
        "",
        False,
    ),
]


@pytest.mark.parametrize("steps", [_ASSIGNMENT_V4, _ASSIGNMENT_V6], ids=["ipv4", "ipv6"])
def test_assignment_scenario(build, steps):
    a = Allocator()
    pools = _assignment_pools(build)
    a.set_pools(pools)
    if steps is _ASSIGNMENT_V6:  # the v6 scenario continues from the v4 one, as in MetalLB
        _run_assign_steps(build, a, _ASSIGNMENT_V4)
    _run_assign_steps(build, a, steps)
    assert pools == _assignment_pools(build)  # config never mutated


def _run_assign_steps(b, a, steps):
    for desc, key, who, ips, ports, sharing, backend, ok in steps:
        if not ips:
            a.unassign(key)
            assert a.ips_of(key) == [], desc
            continue
        svc = b.svc() if who is None else b.svc(namespace=who[0], labels=who[1])
        before = (a.pool_of(key), a.ips_of(key))
        if ok:
            a.assign(key, svc, ips, ports, sharing, backend)
            assert a.ips_of(key) == ips, desc
        else:
            with pytest.raises(AllocationError):
                a.assign(key, svc, ips, ports, sharing, backend)
            assert (a.pool_of(key), a.ips_of(key)) == before, desc  # failed assign changes nothing


@pytest.mark.parametrize(
    "setup, key, svc_kw, ips, ports, sharing, backend, message",
    [
        (
            [("s1", ["1.2.3.4"], [], "", "")],
            "s2",
            {},
            ["1.2.3.4"],
            [],
            "",
            "",
            'can\'t change sharing key for "s2", address also in use by s1',
        ),
        (
            [("s4", ["1.2.4.3"], TCP80, "share", "b")],
            "s3",
            {},
            ["1.2.4.3"],
            TCP80,
            "share",
            "b",
            'port tcp/80 is already in use on "1.2.4.3"',
        ),
        ([], "s3", {}, ["1.2.4.0"], [], "", "", '["1.2.4.0"] is not allowed in config'),
        ([], "s3", {}, ["1.2.4.255"], [], "", "", '["1.2.4.255"] is not allowed in config'),
        ([], "s1", {}, ["1.2.4.5", "1000::4"], [], "", "", '["1.2.4.5" "1000::4"] is not allowed in config'),
        ([], "s1", {}, ["9.9.9.9"], [], "", "", '["9.9.9.9"] is not allowed in config'),
        (
            [],
            "s1",
            {"namespace": "elsewhere"},
            ["1.2.5.10"],
            [],
            "",
            "",
            "pool test3 not compatible for ip assignment",
        ),
        (
            [],
            "s1",
            {},
            ["1.2.4.1", "1000::4:1", "1.2.4.2"],
            [],
            "",
            "",
            'more than two addresses ["1.2.4.1" "1000::4:1" "1.2.4.2"]',
        ),
        ([], "s1", {}, ["1.2.4.1", "1.2.4.2"], [], "", "", '"1.2.4.1" "1.2.4.2" has the same family'),
        ([], "s1", {}, ["1.2.4.1", "1.2.4.1"], [], "", "", '"1.2.4.1" "1.2.4.1" has the same family'),
        (
            [("a", ["1.2.4.3"], TCP80, "k", "b1"), ("b", ["1.2.4.3"], TCP443, "k", "b1")],
            "c",
            {},
            ["1.2.4.3"],
            UDP53,
            "k",
            "b2",
            'can\'t change sharing key for "c", address also in use by a,b',
        ),
        (
            [("a", ["1.2.4.3"], [], "k", "")],
            "c",
            {},
            ["1.2.4.3"],
            [],
            "",
            "",
            'can\'t change sharing key for "c", address also in use by a',
        ),
        ([], "s1", {}, [], [], "", "", "[] is not allowed in config"),
        ([], "s1", {}, ["not-an-ip"], [], "", "", 'invalid IP address "not-an-ip"'),
    ],
)
def test_assign_error_texts(build, setup, key, svc_kw, ips, ports, sharing, backend, message):
    a = Allocator()
    a.set_pools(_assignment_pools(build))
    for k, ip, p, s, bk in setup:
        a.assign(k, build.svc(), ip, p, s, bk)
    with pytest.raises(AllocationError) as err:
        a.assign(key, build.svc(**svc_kw), ips, ports, sharing, backend)
    assert str(err.value) == message


def test_protocol_compared_exactly(build):
    """MetalLB compares the protocol string as is: "tcp"/80 and "TCP"/80 do not clash."""
    a = Allocator()
    a.set_pools(_assignment_pools(build))
    a.assign("a", build.svc(), ["1.2.4.3"], [("tcp", 80)], "k", "")
    a.assign("b", build.svc(), ["1.2.4.3"], [("TCP", 80)], "k", "")
    with pytest.raises(AllocationError, match="port TCP/80 is already in use"):
        a.assign("c", build.svc(), ["1.2.4.3"], [("TCP", 80)], "k", "")
    assert a.counters("test2").assigned_v4 == 1


# ---------------------------------------------------------------------------- TestPoolAllocation


def _pool_allocation_pools(b):
    return b.pools(
        b.pool("not_this_one", "203.0.113.0/24", "2001:db8:1::1:0/112"),
        b.pool("test", "1.2.3.4/31", "1.2.3.10/31", "1000::/127", "2000::/127"),
        b.pool("test2", "198.51.100.0/24", "2001:db8:2::2:0/120"),
        b.pool("test-v4", "1.2.3.4/31", "1.2.3.10/31"),
        b.pool("test-v6", "1000::/127", "2000::/127"),
        b.pool("test-dualstack", "1.2.3.4/31", "1.2.3.10/31", "1000::/127", "2000::/127"),
    )


# (desc, key, policy, family, pool or None (= "test"), ports, sharing,
#  expected ips, None (= error) or "unassign")
_POOL_ALLOCATION = [
    ("s1 gets an IPv4", "s1", "SingleStack", 4, None, [], "", ["1.2.3.4"]),
    ("s2 gets an IPv4", "s2", "SingleStack", 4, None, [], "", ["1.2.3.5"]),
    ("s3 gets an IPv4", "s3", "SingleStack", 4, None, [], "", ["1.2.3.10"]),
    ("s4 gets an IPv4", "s4", "SingleStack", 4, None, [], "", ["1.2.3.11"]),
    ("s5 can't get an IPv4", "s5", "SingleStack", 4, None, [], "", None),
    ("s6 can't get an IPv4", "s6", "SingleStack", 4, None, [], "", None),
    ("s1 releases its IPv4", "s1", "", 4, None, [], "", "unassign"),
    ("s5 can now grab s1's former IPv4", "s5", "SingleStack", 4, None, [], "", ["1.2.3.4"]),
    ("s6 still can't get an IPv4", "s6", "SingleStack", 4, None, [], "", None),
    ("s5 unassigns in prep for enabling IPv4 sharing", "s5", "", 4, None, [], "", "unassign"),
    ("s5 enables IPv4 sharing", "s5", "SingleStack", 4, None, TCP80, "share", ["1.2.3.4"]),
    ("s6 can get an IPv4 now, with sharing", "s6", "SingleStack", 4, None, TCP443, "share", ["1.2.3.4"]),
    ("s1 clear", "s1", "", 4, None, [], "", "unassign"),
    ("s2 clear", "s2", "", 4, None, [], "", "unassign"),
    ("s3 clear", "s3", "", 4, None, [], "", "unassign"),
    ("s4 clear", "s4", "", 4, None, [], "", "unassign"),
    ("s5 clear", "s5", "", 4, None, [], "", "unassign"),
    ("s6 clear", "s6", "", 4, None, [], "", "unassign"),
    ("s1 gets an IP6", "s1", "SingleStack", 6, None, [], "", ["1000::"]),
    ("s2 gets an IP6", "s2", "SingleStack", 6, None, [], "", ["1000::1"]),
    ("s3 gets an IP6", "s3", "SingleStack", 6, None, [], "", ["2000::"]),
    ("s4 gets an IP6", "s4", "SingleStack", 6, None, [], "", ["2000::1"]),
    ("s5 can't get an IP6", "s5", "SingleStack", 6, None, [], "", None),
    ("s6 can't get an IP6", "s6", "SingleStack", 6, None, [], "", None),
    ("s1 releases its IP6", "s1", "", 6, None, [], "", "unassign"),
    ("s5 can now grab s1's former IP6", "s5", "SingleStack", 6, None, [], "", ["1000::"]),
    ("s6 still can't get an IP6", "s6", "SingleStack", 6, None, [], "", None),
    ("s5 unassigns in prep for enabling IP6 sharing", "s5", "", 6, None, [], "", "unassign"),
    ("s5 enables IP6 sharing", "s5", "SingleStack", 6, None, TCP80, "share", ["1000::"]),
    ("s6 can get an IP6 now, with sharing", "s6", "SingleStack", 6, None, TCP443, "share", ["1000::"]),
    # the "should-not-happen" case: a service already holding an address of the other family
    ("s1 clear", "s1", "", 4, None, [], "", "unassign"),
    ("s1 get an IPv4", "s1", "SingleStack", 4, None, [], "", ["1.2.3.4"]),
    ("s1 get an IPv6", "s1", "SingleStack", 6, None, [], "", None),
    ("s1 clear", "s1", "", 6, None, [], "", "unassign"),
    ("s2 clear", "s2", "", 6, None, [], "", "unassign"),
    ("s3 clear", "s3", "", 6, None, [], "", "unassign"),
    ("s4 clear", "s4", "", 6, None, [], "", "unassign"),
    ("s5 clear", "s5", "", 6, None, [], "", "unassign"),
    ("s6 clear", "s6", "", 6, None, [], "", "unassign"),
    # dual-stack
    ("s1 gets dual-stack IPs", "s1", "RequireDualStack", DUAL, None, [], "", ["1.2.3.4", "1000::"]),
    ("s2 gets dual-stack IPs", "s2", "RequireDualStack", DUAL, None, [], "", ["1.2.3.5", "1000::1"]),
    ("s3 gets dual-stack IPs", "s3", "RequireDualStack", DUAL, None, [], "", ["1.2.3.10", "2000::"]),
    ("s4 gets dual-stack IPs", "s4", "RequireDualStack", DUAL, None, [], "", ["1.2.3.11", "2000::1"]),
    ("s5 can't get dual-stack IPs", "s5", "RequireDualStack", DUAL, None, [], "", None),
    ("s6 can't get dual-stack IPs", "s6", "RequireDualStack", DUAL, None, [], "", None),
    ("s1 releases its dual-stack IPs", "s1", "", DUAL, None, [], "", "unassign"),
    (
        "s5 can now grab s1's former dual-stack IPs",
        "s5",
        "RequireDualStack",
        DUAL,
        None,
        [],
        "",
        ["1.2.3.4", "1000::"],
    ),
    ("s6 still can't get dual-stack IPs", "s6", "RequireDualStack", DUAL, None, [], "", None),
    ("s5 unassigns in prep for sharing", "s5", "", DUAL, None, [], "", "unassign"),
    (
        "s5 enables dual-stack IP sharing",
        "s5",
        "RequireDualStack",
        DUAL,
        None,
        TCP80,
        "share",
        ["1.2.3.4", "1000::"],
    ),
    (
        "s6 gets dual-stack IPs, with sharing",
        "s6",
        "RequireDualStack",
        DUAL,
        None,
        TCP443,
        "share",
        ["1.2.3.4", "1000::"],
    ),
    ("s1 clear", "s1", "", DUAL, None, [], "", "unassign"),
    ("s2 clear", "s2", "", DUAL, None, [], "", "unassign"),
    ("s3 clear", "s3", "", DUAL, None, [], "", "unassign"),
    ("s4 clear", "s4", "", DUAL, None, [], "", "unassign"),
    ("s5 clear", "s5", "", DUAL, None, [], "", "unassign"),
    ("s6 clear", "s6", "", DUAL, None, [], "", "unassign"),
    # PreferDualStack
    ("s1 gets dual-stack IPs", "s1", "PreferDualStack", DUAL, None, [], "", ["1.2.3.4", "1000::"]),
    ("s2 gets ipv4 IP", "s2", "PreferDualStack", 4, "test-v4", [], "", ["1.2.3.5"]),
    ("s3 gets ipv6 IP", "s3", "PreferDualStack", 6, "test-v6", [], "", ["1000::1"]),
    ("s2 clear", "s2", "", 4, None, [], "", "unassign"),
    (
        "s3 keeps its ipv6 (already allocated, PreferDualStack)",
        "s3",
        "PreferDualStack",
        DUAL,
        "test-dualstack",
        [],
        "",
        ["1000::1"],
    ),
]


def test_pool_allocation_scenario(build):
    a = Allocator()
    a.set_pools(_pool_allocation_pools(build))
    for desc, key, policy, family, pool, ports, sharing, want in _POOL_ALLOCATION:
        if want == "unassign":
            a.unassign(key)
            continue
        svc = build.svc(policy=policy)
        if want is None:
            with pytest.raises(AllocationError):
                a.allocate_from_pool(key, svc, family, pool or "test", ports, sharing, "")
            continue
        assert a.allocate_from_pool(key, svc, family, pool or "test", ports, sharing, "") == want, desc
        assert a.ips_of(key) == want, desc
    a.unassign("s5")
    with pytest.raises(AllocationError, match='unknown pool "nonexistentpool"'):
        a.allocate_from_pool("s5", build.svc(), 4, "nonexistentpool", [], "", "")


@pytest.mark.parametrize(
    "family, policy, pool, message",
    [
        (4, "SingleStack", "test", "no available IPs in pool test"),
        (4, "SingleStack", "test-v6", "no available IPs in pool test-v6 for ipv4 IPFamily"),
        (DUAL, "SingleStack", "test2", "no available IPs in pool test2 for dual IPFamily"),
        (DUAL, "RequireDualStack", "test-v6", "no available IPs in pool test-v6 for dual IPFamily"),
    ],
)
def test_allocate_from_pool_error_texts(build, family, policy, pool, message):
    a = Allocator()
    a.set_pools(_pool_allocation_pools(build))
    for i, ip in enumerate(["1.2.3.4", "1.2.3.5", "1.2.3.10", "1.2.3.11"]):
        a.assign(f"full{i}", build.svc(), [ip], [], "", "")
    for i, ip in enumerate(["1000::", "1000::1", "2000::", "2000::1"]):
        if pool == "test":
            a.assign(f"full6{i}", build.svc(), [ip], [], "", "")
    with pytest.raises(AllocationError) as err:
        a.allocate_from_pool("x", build.svc(policy=policy), family, pool, [], "", "")
    assert str(err.value) == message


def test_allocate_from_pool_wrong_family_text(build):
    a = Allocator()
    a.set_pools(_pool_allocation_pools(build))
    a.allocate_from_pool("s1", build.svc(), 4, "test", [], "", "")
    with pytest.raises(AllocationError) as err:
        a.allocate_from_pool("s1", build.svc(), 6, "test", [], "", "")
    assert str(err.value) == "IP for wrong family assigned alloc ipv4 service family ipv6"
    assert a.ips_of("s1") == ["1.2.3.4"]


# ---------------------------------------------------------------------------- TestAllocation


def _allocation_pools(b):
    return b.pools(
        b.pool("test1", "1.2.3.4/31", "1000::4/127"),
        b.pool("test2", "1.2.3.10/31", "1000::10/127"),
    )


# (desc, key, policy, family, ports, sharing, expected ips / None (error) / "unassign")
_ALLOCATION = [
    ("s1 gets an IPv4", "s1", "SingleStack", 4, [], "", ["1.2.3.4"]),
    ("s2 gets an IPv4", "s2", "SingleStack", 4, [], "", ["1.2.3.5"]),
    ("s3 gets an IPv4", "s3", "SingleStack", 4, [], "", ["1.2.3.10"]),
    ("s4 gets an IPv4", "s4", "SingleStack", 4, [], "", ["1.2.3.11"]),
    ("s5 can't get an IPv4", "s5", "SingleStack", 4, [], "", None),
    ("s6 can't get an IPv4", "s6", "SingleStack", 4, [], "", None),
    ("s1 gives up its IPv4", "s1", "", 4, [], "", "unassign"),
    ("s5 can now get an IPv4", "s5", "SingleStack", 4, TCP80, "share", ["1.2.3.4"]),
    ("s6 still can't get an IPv4", "s6", "SingleStack", 4, [], "", None),
    ("s6 can get an IPv4 with sharing", "s6", "SingleStack", 4, TCP443, "share", ["1.2.3.4"]),
    ("s1 clear", "s1", "", 4, [], "", "unassign"),
    ("s2 clear", "s2", "", 4, [], "", "unassign"),
    ("s3 clear", "s3", "", 4, [], "", "unassign"),
    ("s4 clear", "s4", "", 4, [], "", "unassign"),
    ("s5 clear", "s5", "", 4, [], "", "unassign"),
    ("s6 clear", "s6", "", 4, [], "", "unassign"),
    ("s1 gets an IPv6", "s1", "SingleStack", 6, [], "", ["1000::4"]),
    ("s2 gets an IPv6", "s2", "SingleStack", 6, [], "", ["1000::5"]),
    ("s3 gets an IPv6", "s3", "SingleStack", 6, [], "", ["1000::10"]),
    ("s4 gets an IPv6", "s4", "SingleStack", 6, [], "", ["1000::11"]),
    ("s5 can't get an IPv6", "s5", "SingleStack", 6, [], "", None),
    ("s6 can't get an IPv6", "s6", "SingleStack", 6, [], "", None),
    ("s1 gives up its IPv6", "s1", "", 6, [], "", "unassign"),
    ("s5 can now get an IPv6", "s5", "SingleStack", 6, TCP80, "share", ["1000::4"]),
    ("s6 still can't get an IPv6", "s6", "SingleStack", 6, [], "", None),
    ("s6 can get an IPv6 with sharing", "s6", "SingleStack", 6, TCP443, "share", ["1000::4"]),
    ("s1 clear", "s1", "", 6, [], "", "unassign"),
    ("s2 clear", "s2", "", 6, [], "", "unassign"),
    ("s3 clear", "s3", "", 6, [], "", "unassign"),
    ("s4 clear", "s4", "", 6, [], "", "unassign"),
    ("s5 clear", "s5", "", 6, [], "", "unassign"),
    ("s6 clear", "s6", "", 6, [], "", "unassign"),
    # dual-stack block: RequireDualStack needs one pool holding both families
    ("s1 gets dual-stack IPs", "s1", "RequireDualStack", DUAL, [], "", ["1.2.3.4", "1000::4"]),
    ("s2 gets dual-stack IPs", "s2", "RequireDualStack", DUAL, [], "", ["1.2.3.5", "1000::5"]),
    ("s3 gets dual-stack IPs", "s3", "RequireDualStack", DUAL, [], "", ["1.2.3.10", "1000::10"]),
    ("s4 gets dual-stack IPs", "s4", "RequireDualStack", DUAL, [], "", ["1.2.3.11", "1000::11"]),
    ("s5 can't get dual-stack IPs", "s5", "RequireDualStack", DUAL, [], "", None),
    ("s6 can't get dual-stack IPs", "s6", "RequireDualStack", DUAL, [], "", None),
    ("s1 gives up its IPs", "s1", "", DUAL, [], "", "unassign"),
    ("s5 can now get dual-stack IPs", "s5", "RequireDualStack", DUAL, TCP80, "share", ["1.2.3.4", "1000::4"]),
    ("s6 still can't get dual-stack IPs", "s6", "RequireDualStack", DUAL, [], "", None),
    (
        "s6 can get dual-stack IPs with sharing",
        "s6",
        "RequireDualStack",
        DUAL,
        TCP443,
        "share",
        ["1.2.3.4", "1000::4"],
    ),
]


def test_allocation_scenario(build):
    a = Allocator()
    a.set_pools(_allocation_pools(build))
    for desc, key, policy, family, ports, sharing, want in _ALLOCATION:
        if want == "unassign":
            a.unassign(key)
            continue
        svc = build.svc(policy=policy)
        if want is None:
            with pytest.raises(AllocationError) as err:
                a.allocate(key, svc, family, ports, sharing, "")
            assert str(err.value) == "no available IPs", desc
            assert a.ips_of(key) == [], desc
            continue
        assert a.allocate(key, svc, family, ports, sharing, "") == want, desc


# ---------------------------------------------------------------------------- TestBuggyIPs


def test_buggy_ips(build):
    a = Allocator()
    a.set_pools(
        build.pools(
            build.pool("test", "1.2.3.0/31"),
            build.pool("test2", "1.2.3.254/31"),
            build.pool("test3", "1.2.4.0/31", avoid_buggy=True),
            build.pool("test4", "1.2.4.254/31", avoid_buggy=True),
        )
    )
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(6)]
    assert got == ["1.2.3.0", "1.2.3.1", "1.2.3.254", "1.2.3.255", "1.2.4.1", "1.2.4.254"]
    with pytest.raises(AllocationError, match="^no available IPs$"):
        a.allocate("s7", build.svc(), 4, [], "", "")


def test_avoid_buggy_ips_walks_across_a_slash_24_boundary(build):
    a = Allocator()
    a.set_pools(build.pools(build.pool("p", "198.51.100.253-198.51.101.2", avoid_buggy=True)))
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(4)]
    assert got == ["198.51.100.253", "198.51.100.254", "198.51.101.1", "198.51.101.2"]
    assert a.counters("p") == PoolCounters(4, 0, 0, 0)
    with pytest.raises(AllocationError):
        a.allocate("s9", build.svc(), 4, [], "", "")


def test_allocation_starts_at_the_network_address(build):
    """Without avoidBuggyIPs the network and broadcast addresses are handed out."""
    a = Allocator()
    a.set_pools(build.pools(build.pool("p", "203.0.113.0/30")))
    got = [a.allocate(f"s{i}", build.svc(), 4, [], "", "")[0] for i in range(4)]
    assert got == ["203.0.113.0", "203.0.113.1", "203.0.113.2", "203.0.113.3"]


# ---------------------------------------------------------------------------- TestConfigReload


@pytest.mark.parametrize(
    "new_pools, pool_s1, pool_s2",
    [
        ([("test", ("1.2.3.0/30", "1000::/126"), False)], "test", "test"),  # same config
        ([("test", ("1.2.3.0/24", "1000::/120"), False)], "test", "test"),  # expand
        ([("test", ("1.2.3.2/31", "1000::0/126"), False)], None, "test"),  # shrink past s1
        ([("test", ("1.2.3.0/30", "1000::2/127"), False)], "test", None),  # shrink past s2
        ([("test2", ("1.2.3.0/30", "1000::0/126"), False)], "test2", "test2"),  # rename
        (
            [("test", ("1.2.3.0/31", "1000::2/127"), False), ("test2", ("1.2.3.2/31", "1000::/127"), False)],
            "test",
            "test2",
        ),  # split
        ([("test2", ("1.2.3.0/31", "1000::/127"), True)], None, "test2"),  # avoidBuggyIPs turned on
        ([], None, None),  # all pools removed
    ],
    ids=["same", "expand", "shrink-v4", "shrink-v6", "rename", "split", "enable-avoid-buggy", "no-pools"],
)
def test_config_reload(build, new_pools, pool_s1, pool_s2):
    a = Allocator()
    a.set_pools(
        build.pools(
            build.pool("test", "1.2.3.0/30", "1000::/126"),
            build.pool("unused", "1.2.4.0/30", "1001::/126"),
        )
    )
    a.assign("s1", build.svc(), ["1.2.3.0"], [], "", "")
    a.assign("s2", build.svc(), ["1000::"], [], "", "")
    a.set_pools(build.pools(*(build.pool(n, *e, avoid_buggy=av) for n, e, av in new_pools)))
    assert a.pool_of("s1") == pool_s1
    assert a.pool_of("s2") == pool_s2
    assert a.ips_of("s1") == (["1.2.3.0"] if pool_s1 else [])
    assert a.ips_of("s2") == (["1000::"] if pool_s2 else [])
    # counters follow the re-homed allocations
    for name in a.pool_names():
        c = a.counters(name)
        assert c.assigned_v4 == (1 if pool_s1 == name else 0)
        assert c.assigned_v6 == (1 if pool_s2 == name else 0)


def test_set_pools_frees_orphaned_addresses_for_reuse(build):
    a = Allocator()
    a.set_pools(build.pools(build.pool("p", "203.0.113.0/30")))
    for i in range(4):
        a.allocate(f"s{i}", build.svc(), 4, [], "", "")
    a.set_pools(build.pools(build.pool("q", "203.0.113.2/31")))  # s0, s1 orphaned
    assert [a.pool_of(f"s{i}") for i in range(4)] == [None, None, "q", "q"]
    a.set_pools(build.pools(build.pool("p", "203.0.113.0/30")))
    assert a.allocate("n1", build.svc(), 4, [], "", "") == ["203.0.113.0"]
    assert a.allocate("n2", build.svc(), 4, [], "", "") == ["203.0.113.1"]
    with pytest.raises(AllocationError):
        a.allocate("n3", build.svc(), 4, [], "", "")


# ---------------------------------------------------------------------------- TestAutoAssign


def test_auto_assign(build):
    a = Allocator()
    a.set_pools(
        build.pools(
            build.pool("test1", "1.2.3.4/31", "1000::4/127", auto_assign=False),
            build.pool("test2", "1.2.3.10/31", "1000::10/127"),
        )
    )
    svc = build.svc()
    assert a.allocate("s1", svc, 4, [], "", "") == ["1.2.3.10"]
    assert a.allocate("s2", svc, 4, [], "", "") == ["1.2.3.11"]
    for key in ("s3", "s4", "s5"):
        with pytest.raises(AllocationError):
            a.allocate(key, svc, 4, [], "", "")
    for key in ("s1", "s2", "s3", "s4", "s5", "s6"):
        a.unassign(key)
    assert a.allocate("s1", svc, 6, [], "", "") == ["1000::10"]
    assert a.allocate("s2", svc, 6, [], "", "") == ["1000::11"]
    for key in ("s3", "s4", "s5"):
        with pytest.raises(AllocationError):
            a.allocate(key, svc, 6, [], "", "")
    # already-allocated services re-claim what they have, family not re-checked
    assert a.allocate("s1", svc, DUAL, [], "", "") == ["1000::10"]
    with pytest.raises(AllocationError):
        a.allocate("s3", svc, DUAL, [], "", "")
    # the annotation path ignores autoAssign
    assert a.allocate_from_pool("s3", svc, 4, "test1", [], "", "") == ["1.2.3.4"]


# ---------------------------------------------------------------------------- TestPoolCount (via counters)


@pytest.mark.parametrize(
    "entries, avoid, v4, v6",
    [
        (["1.2.3.0/24"], False, 256, 0),
        (["1.2.3.0/24", "2.3.4.128/25"], False, 384, 0),
        (["1.2.3.0/24", "2.3.4.128/25"], True, 381, 0),
        (["1.2.3.0/24", "2.3.4.128/25", "1000::/64"], True, 381, MAXINT64),
        (["1.2.3.0/31", "1000::/127"], True, 1, 2),
    ],
)
def test_pool_count(build, entries, avoid, v4, v6):
    a = Allocator()
    a.set_pools(build.pools(build.pool("p", *entries, avoid_buggy=avoid)))
    assert a.counters("p") == PoolCounters(0, 0, v4, v6)


# ---------------------------------------------------------------------------- TestPoolMetrics


def test_pool_metrics(build):
    calls = []
    a = Allocator(on_counters_changed=calls.append)
    a.set_pools(build.pools(build.pool("test", "1.2.3.4/30", "1000::4/126")))
    assert a.counters("test") == PoolCounters(0, 0, 4, 4)
    assert calls == ["test"]
    # (key, ips ([] = unassign), ports, sharing, distinct v4 in use afterwards)
    steps = [
        ("s1", ["1.2.3.4"], [], "", 1),
        ("s2", ["1.2.3.5"], [], "", 2),
        ("s1", [], [], "", 1),
        ("s2", [], [], "", 0),
        ("s1", ["1.2.3.4"], TCP80, "key", 1),
        ("s2", ["1.2.3.4"], TCP443, "key", 1),
        ("s3", ["1.2.3.4"], [("tcp", 23)], "key", 1),
        ("s1", [], [], "", 1),
        ("s2", [], [], "", 1),
        ("s3", [], [], "", 0),
    ]
    for n, (key, ips, ports, sharing, in_use) in enumerate(steps, start=2):
        if ips:
            a.assign(key, build.svc(), ips, ports, sharing, "")
        else:
            assert a.unassign(key)
        assert a.counters("test") == PoolCounters(in_use, 0, 4 - in_use, 4)
        assert len(calls) == n  # one notification per assign/unassign
    a.assign("s1", build.svc(), ["1.2.3.4"], [], "", "")
    a.set_pools({})
    assert a.counters("test") == PoolCounters(0, 0, 0, 0)
    assert a.pool_of("s1") is None
    assert calls[-1] == "test"  # the removed pool is announced
    assert not a.unassign("s1")
