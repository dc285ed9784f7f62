# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: random operation sequences on small pools, checked two ways.

1. Against ``RefAllocator`` below, a literal, brute-force restatement of MetalLB's allocator
   (walks every address of every segment, keeps MetalLB's per-IP maps) with metal.lb's chosen
   differences (name order, clearer nil-family errors, sharing key kept while any user remains).
   Every result, every error text, every allocation and every counter must be equal; this is
   what shows "lowest free (or shareable) address first" and "counters = recount" (assigned
   counts recounted from the allocations; capacity is ``addresses.pool_capacity``'s).
2. Against invariants computed from the public API only: two services on one address only if
   the sharing rules allow it; every address inside its pool; never .0/.255 under avoidBuggyIPs.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.engine.addresses import pool_capacity
from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import (
    DUAL,
    AllocationError,
    Allocator,
    PoolCounters,
)

# ---------------------------------------------------------------------------- reference


def _text(ip):
    fam, value = ip
    return str(ipaddress.IPv4Address(value) if fam == 4 else ipaddress.IPv6Address(value))


def _parse(text):
    ip = ipaddress.ip_address(text)
    return (ip.version, int(ip))


def _q(text):
    return '"' + text + '"'


def _qlist(ips):
    return "[" + " ".join(_q(_text(ip)) for ip in ips) + "]"


def _buggy(ip):
    return ip[0] == 4 and ip[1] % 256 in (0, 255)


def _selector_matches(sel, labels):
    return all(labels.get(k) == v for k, v in sel.match_labels)


class RefAllocator:
    """MetalLB's allocator, brute force. Errors are returned as strings."""

    FAMILY = {4: "ipv4", 6: "ipv6", DUAL: "dual"}

    def __init__(self):
        self.pools = {}
        self.allocated = {}  # svc -> [pool name, ips, ports, sharing, backend]
        self.key_for_ip = {}
        self.ports_in_use = {}
        self.services_on_ip = {}

    # -- configuration and counters
    def set_pools(self, pools):
        self.pools = dict(pools)
        for svc in list(self.allocated):
            owner = self.pool_for(self.allocated[svc][1])
            if owner is None:
                self.unassign(svc)
            else:
                self.allocated[svc][0] = owner.name

    def counters(self, name):
        pool = self.pools.get(name)
        if pool is None:
            return PoolCounters(0, 0, 0, 0)
        used = {ip for a in self.allocated.values() if a[0] == name for ip in a[1]}
        a4 = sum(1 for ip in used if ip[0] == 4)
        a6 = len(used) - a4
        c4, c6 = pool_capacity(pool)  # module_utils.addresses owns MetalLB's poolCount rules
        return PoolCounters(a4, a6, c4 - a4, c6 - a6)

    # -- ownership and compatibility
    @staticmethod
    def contains(pool, ip):
        return any(s.family == ip[0] and s.first <= ip[1] <= s.last for s in pool.segments)

    def pool_for(self, ips):
        for name in sorted(self.pools):
            p = self.pools[name]
            if all(self.contains(p, ip) and not (p.avoid_buggy_ips and _buggy(ip)) for ip in ips):
                return p
        return None

    @staticmethod
    def compatible(pool, svc):
        sa = pool.service_allocation
        if sa is None:
            return True
        if sa.namespaces and svc.namespace not in sa.namespaces:
            return False
        if sa.service_selectors:
            return any(_selector_matches(s, svc.labels) for s in sa.service_selectors)
        return True

    # -- sharing
    def check_sharing(self, key, ip, ports, sharing, backend):
        existing = self.key_for_ip.get(ip)
        if existing is not None:
            ok = existing[0] != "" and sharing != "" and existing == (sharing, backend)
            if not ok:
                others = sorted(s for s in self.services_on_ip.get(ip, ()) if s != key)
                if others:
                    return (
                        f"can't change sharing key for {_q(key)}, address also in use by {','.join(others)}"
                    )
            for port in ports:
                cur = self.ports_in_use.get(ip, {}).get(port)
                if cur is not None and cur != key:
                    return f"port {port[0]}/{port[1]} is already in use on {_q(_text(ip))}"
        return None

    def _record(self, key, pool_name, ips, ports, sharing, backend):
        self.unassign(key)
        self.allocated[key] = [pool_name, list(ips), list(ports), sharing, backend]
        for ip in ips:
            self.key_for_ip[ip] = (sharing, backend)
            for port in ports:
                self.ports_in_use.setdefault(ip, {})[port] = key
            self.services_on_ip.setdefault(ip, set()).add(key)

    def unassign(self, key):
        alloc = self.allocated.pop(key, None)
        if alloc is None:
            return False
        for ip in alloc[1]:
            owners = self.ports_in_use.get(ip, {})
            for port in alloc[2]:
                if owners.get(port) == key:
                    del owners[port]
            self.services_on_ip[ip].discard(key)
            if not self.services_on_ip[ip]:
                del self.services_on_ip[ip]
                self.key_for_ip.pop(ip, None)
                self.ports_in_use.pop(ip, None)
        return True

    # -- Assign
    def assign(self, key, svc, ips, ports, sharing, backend):
        if not ips:
            return "[] is not allowed in config"
        pool = self.pool_for(ips)
        if pool is None:
            return f"{_qlist(ips)} is not allowed in config"
        if not self.compatible(pool, svc):
            return f"pool {pool.name} not compatible for ip assignment"
        if len(ips) > 2:
            return f"more than two addresses {_qlist(ips)}"
        if len(ips) == 2 and ips[0][0] == ips[1][0]:
            return f"{_q(_text(ips[0]))} {_q(_text(ips[1]))} has the same family"
        for ip in ips:
            err = self.check_sharing(key, ip, ports, sharing, backend)
            if err:
                return err
        self._record(key, pool.name, ips, ports, sharing, backend)
        return None

    # -- picking
    def free_ips(self, pool, key, ports, sharing, backend):
        got = {4: None, 6: None}
        for seg in pool.segments:
            if got[seg.family] is not None:
                continue
            for value in range(seg.first, seg.last + 1):
                ip = (seg.family, value)
                if pool.avoid_buggy_ips and _buggy(ip):
                    continue
                if self.check_sharing(key, ip, ports, sharing, backend) is None:
                    got[seg.family] = ip
                    break
        return got[4], got[6]

    @staticmethod
    def select(family, policy, v4, v6):
        if family == 4:
            return [v4] if v4 else None
        if family == 6:
            return [v6] if v6 else None
        if policy == "RequireDualStack":
            return [v4, v6] if v4 and v6 else None
        if policy == "PreferDualStack":
            return [ip for ip in (v4, v6) if ip] or None
        return None

    def best_pool(self, pools, key, svc, family, ports, sharing, backend):
        primary_fam = 6 if svc.primary_family == 6 else 4
        prefer = svc.ip_family_policy == "PreferDualStack" and family == DUAL
        primary = secondary = None
        for pool in pools:
            v4, v6 = self.free_ips(pool, key, ports, sharing, backend)
            if v4 is None and v6 is None:
                continue
            if (family == 4 and v4) or (family == 6 and v6):
                return v4, v6
            if v4 and v6:
                return v4, v6
            if not prefer:
                continue
            first, second = (v4, v6) if primary_fam == 4 else (v6, v4)
            if first and primary is None:
                primary = (v4, v6)
            if second and secondary is None:
                secondary = (v4, v6)
        return primary or secondary

    def from_pools(self, pools, key, svc, family, ports, sharing, backend):
        found = self.best_pool(pools, key, svc, family, ports, sharing, backend)
        if found is None:
            return None
        ips = self.select(family, svc.ip_family_policy, *found)
        if ips is None or self.assign(key, svc, ips, ports, sharing, backend) is not None:
            return None
        return ips

    def pinned(self, svc):
        names = sorted(
            n
            for n, p in self.pools.items()
            if p.service_allocation and svc.namespace in p.service_allocation.namespaces
        )
        names += sorted(
            n
            for n, p in self.pools.items()
            if p.service_allocation and p.service_allocation.service_selectors
        )
        out = []
        for n in names:
            p = self.pools[n]
            if p not in out and p.auto_assign and self.compatible(p, svc):
                out.append(p)
        prio = [p for p in out if p.service_allocation.priority > 0]
        zero = [p for p in out if p.service_allocation.priority <= 0]
        return sorted(prio, key=lambda p: (p.service_allocation.priority, p.name)) + sorted(
            zero, key=lambda p: p.name
        )

    def allocate(self, key, svc, family, ports, sharing, backend):
        if key in self.allocated:
            ips = self.allocated[key][1]
            return self.assign(key, svc, ips, ports, sharing, backend) or list(ips)
        for pools in (
            self.pinned(svc),
            [
                self.pools[n]
                for n in sorted(self.pools)
                if self.pools[n].auto_assign and not self.pools[n].service_allocation
            ],
        ):
            got = self.from_pools(pools, key, svc, family, ports, sharing, backend)
            if got is not None:
                return got
        return "no available IPs"

    def allocate_from_pool(self, key, svc, family, pool_name, ports, sharing, backend):
        if key in self.allocated:
            ips = self.allocated[key][1]
            fams = {ip[0] for ip in ips}
            have = DUAL if len(fams) == 2 else fams.pop()
            if svc.ip_family_policy != "PreferDualStack" and have != family:
                have_name, want_name = self.FAMILY[have], self.FAMILY[family]
                return f"IP for wrong family assigned alloc {have_name} service family {want_name}"
            return self.assign(key, svc, ips, ports, sharing, backend) or list(ips)
        pool = self.pools.get(pool_name)
        if pool is None:
            return f"unknown pool {_q(pool_name)}"
        v4, v6 = self.free_ips(pool, key, ports, sharing, backend)
        if v4 is None and v6 is None:
            return f"no available IPs in pool {pool.name}"
        ips = self.select(family, svc.ip_family_policy, v4, v6)
        if ips is None:
            return f"no available IPs in pool {pool.name} for {self.FAMILY[family]} IPFamily"
        return self.assign(key, svc, ips, ports, sharing, backend) or ips

    def allocate_additional_family(self, key, svc, existing, pool_name, ports, sharing, backend):
        want = 6 if existing[0] == 4 else 4
        pool = self.pools.get(pool_name)
        if pool is None:
            return f"unknown pool {_q(pool_name)}"
        v4, v6 = self.free_ips(pool, key, ports, sharing, backend)
        if v4 is None and v6 is None:
            return f"no available IPs in pool {pool.name}"
        extra = v4 if want == 4 else v6
        if extra is None:
            return f"no available IPs in pool {pool.name} for {self.FAMILY[want]} IPFamily"
        ips = [existing, extra]
        return self.assign(key, svc, ips, ports, sharing, backend) or ips


# ---------------------------------------------------------------------------- strategies

V4_ENTRIES = [
    "198.51.100.0/30",
    "198.51.100.254-198.51.101.1",
    "198.51.100.8/31",
    "203.0.113.255/32",
    "203.0.113.0/29",
    "198.51.100.4-198.51.100.6",
]
V6_ENTRIES = ["2001:db8::/126", "2001:db8::10-2001:db8::12", "2001:db8::2/127"]
IPS = [
    "198.51.100.0",
    "198.51.100.1",
    "198.51.100.3",
    "198.51.100.5",
    "198.51.100.9",
    "198.51.100.255",
    "198.51.101.0",
    "198.51.101.1",
    "203.0.113.0",
    "203.0.113.4",
    "203.0.113.255",
    "2001:db8::",
    "2001:0db8::0001",
    "2001:db8::3",
    "2001:db8::11",
    "198.18.0.1",
    "2001:db8::ffff",
]
PORTS = [("TCP", 80), ("TCP", 443), ("UDP", 53), ("tcp", 80)]
KEYS = ["s0", "s1", "s2", "s3", "s4", "s5"]
NAMES = ["a", "b", "c", "d"]
SA_KINDS = ["none", "none", "ns", "selector", "prio", "ns-prio", "nothing"]


@st.composite
def pool_sets(draw, build):
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    pools = []
    for name in sorted(names):
        entries = draw(
            st.lists(st.sampled_from(V4_ENTRIES + V6_ENTRIES), min_size=1, max_size=3, unique=True)
        )
        kind = draw(st.sampled_from(SA_KINDS))
        kw = {}
        if kind in ("ns", "ns-prio"):
            kw["namespaces"] = ["ns1"]
        if kind == "selector":
            kw["selectors"] = [{"team": "x"}]
        if kind in ("prio", "ns-prio"):
            kw["priority"] = draw(st.integers(0, 2))
        if kind == "nothing":
            kw["namespace_selectors_matched_nothing"] = True
        pools.append(
            build.pool(name, *entries, auto_assign=draw(st.booleans()), avoid_buggy=draw(st.booleans()), **kw)
        )
    return build.pools(*pools)


@st.composite
def requests(draw, build):
    svc = build.svc(
        namespace=draw(st.sampled_from(["ns1", "ns2"])),
        labels=draw(st.sampled_from([{}, {"team": "x"}])),
        policy=draw(st.sampled_from(["SingleStack", "PreferDualStack", "RequireDualStack"])),
        primary=draw(st.sampled_from([4, 6])),
    )
    return (
        draw(st.sampled_from(KEYS)),
        svc,
        draw(st.lists(st.sampled_from(PORTS), max_size=2, unique=True)),
        draw(st.sampled_from(["", "", "k1", "k2"])),
        draw(st.sampled_from(["", "", "b"])),
    )


def operations(build):
    req = requests(build)
    family = st.sampled_from([4, 6, DUAL])
    pool_name = st.sampled_from(NAMES + ["zz"])
    return st.lists(
        st.one_of(
            st.tuples(st.just("assign"), req, st.lists(st.sampled_from(IPS), min_size=1, max_size=3)),
            st.tuples(st.just("allocate"), req, family),
            st.tuples(st.just("allocate"), req, family),
            st.tuples(st.just("from_pool"), req, family, pool_name),
            st.tuples(st.just("additional"), req, st.sampled_from(IPS), pool_name),
            st.tuples(st.just("unassign"), st.sampled_from(KEYS)),
            st.tuples(st.just("set_pools"), pool_sets(build)),
        ),
        max_size=40,
    )


# ---------------------------------------------------------------------------- running both


def _run(a: Allocator, ref: RefAllocator, op):
    """Apply op to both; return (allocator outcome, reference outcome) as lists or error text."""
    kind = op[0]
    if kind == "unassign":
        return a.unassign(op[1]), ref.unassign(op[1])
    if kind == "set_pools":
        a.set_pools(op[1])
        ref.set_pools(op[1])
        return None, None
    key, svc, ports, sharing, backend = op[1]
    try:
        if kind == "assign":
            a.assign(key, svc, op[2], ports, sharing, backend)
            got = a.ips_of(key)
        elif kind == "allocate":
            got = a.allocate(key, svc, op[2], ports, sharing, backend)
        elif kind == "from_pool":
            got = a.allocate_from_pool(key, svc, op[2], op[3], ports, sharing, backend)
        else:
            got = a.allocate_additional_family(key, svc, op[2], op[3], ports, sharing, backend)
    except AllocationError as err:
        got = str(err)
    if kind == "assign":
        want = ref.assign(key, svc, [_parse(t) for t in op[2]], ports, sharing, backend)
        want = want if want is not None else [_text(ip) for ip in ref.allocated[key][1]]
    elif kind == "allocate":
        want = ref.allocate(key, svc, op[2], ports, sharing, backend)
    elif kind == "from_pool":
        want = ref.allocate_from_pool(key, svc, op[2], op[3], ports, sharing, backend)
    else:
        want = ref.allocate_additional_family(key, svc, _parse(op[2]), op[3], ports, sharing, backend)
    if isinstance(want, list):
        want = [_text(ip) if isinstance(ip, tuple) else ip for ip in want]
    return got, want


def _check_invariants(a: Allocator, pools, granted):
    on_ip = {}
    for key in KEYS:
        ips = a.ips_of(key)
        if not ips:
            assert a.pool_of(key) is None
            continue
        pool = pools[a.pool_of(key)]
        assert a.pool_for(ips) == pool.name
        for text in ips:
            ip = _parse(text)
            assert RefAllocator.contains(pool, ip)
            assert not (pool.avoid_buggy_ips and _buggy(ip))
            on_ip.setdefault(ip, []).append(key)
    for keys in on_ip.values():
        for i, k1 in enumerate(keys):
            for k2 in keys[i + 1 :]:
                s1, b1, p1 = granted[k1]
                s2, b2, p2 = granted[k2]
                assert s1 != "" and s1 == s2 and b1 == b2, (k1, k2)
                assert not set(p1) & set(p2), (k1, k2)
    # counters = recount of distinct addresses per pool
    for name in pools:
        used = {_parse(t) for k in KEYS if a.pool_of(k) == name for t in a.ips_of(k)}
        c = a.counters(name)
        assert (c.assigned_v4, c.assigned_v6) == (
            sum(1 for ip in used if ip[0] == 4),
            sum(1 for ip in used if ip[0] == 6),
        )


@settings(max_examples=300)
@given(data=st.data())
def test_matches_reference_and_keeps_invariants(build, data):
    initial = data.draw(pool_sets(build), label="initial pools")
    ops = data.draw(operations(build), label="operations")
    a = Allocator()
    ref = RefAllocator()
    a.set_pools(initial)
    ref.set_pools(initial)
    pools = initial
    granted = {}
    for op in ops:
        got, want = _run(a, ref, op)
        assert got == want, op
        if op[0] == "set_pools":
            pools = op[1]
        elif op[0] != "unassign" and isinstance(got, list):
            key, _svc, ports, sharing, backend = op[1]
            granted[key] = (sharing, backend, ports)
        for key in KEYS:
            assert a.pool_of(key) == (ref.allocated[key][0] if key in ref.allocated else None), key
            assert a.ips_of(key) == [_text(ip) for ip in ref.allocated.get(key, [None, []])[1]], key
        for name in NAMES:
            assert a.counters(name) == ref.counters(name), name
        _check_invariants(a, pools, granted)


@settings(max_examples=100)
@given(data=st.data())
def test_dense_allocation_on_one_pool_is_lowest_free_first(build, data):
    """Long allocate/unassign runs on one pool: each allocation is the reference's walk result."""
    entries = data.draw(
        st.lists(st.sampled_from(V4_ENTRIES + V6_ENTRIES), min_size=1, max_size=4, unique=True)
    )
    pools = build.pools(build.pool("p", *entries, avoid_buggy=data.draw(st.booleans())))
    a = Allocator()
    ref = RefAllocator()
    a.set_pools(pools)
    ref.set_pools(pools)
    keys = [f"k{i}" for i in range(30)]
    steps = data.draw(
        st.lists(st.tuples(st.sampled_from(keys), st.sampled_from([4, 6]), st.booleans()), max_size=120)
    )
    for key, fam, free in steps:
        svc = build.svc(primary=fam)
        if free:
            assert a.unassign(key) == ref.unassign(key)
            continue
        try:
            got = a.allocate(key, svc, fam, [], "", "")
        except AllocationError as err:
            got = str(err)
        want = ref.allocate(key, svc, fam, [], "", "")
        want = [_text(ip) for ip in want] if isinstance(want, list) else want
        assert got == want
    assert a.counters("p") == ref.counters("p")
