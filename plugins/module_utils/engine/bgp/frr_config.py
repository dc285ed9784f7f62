# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""A node's BGP decisions as FRR configuration, close to the shape MetalLB's FRR mode renders.

One ``router bgp <myASN> [vrf V]`` per VRF; per neighbor its session lines, an inbound route-map
that accepts nothing and an outbound route-map; BFD profiles under ``bfd``.

Prefixes are grouped in classes: prefixes that go to the same neighbors with the same communities,
large communities and LOCAL_PREF share one class (a burst of Services usually lands in one).
Each prefix is one ``network PREFIX route-map class-K`` line, the route-map tagging the route with
K; each neighbor's outbound route-map has one entry per class it receives (``match tag K``, then
the class's attributes for that neighbor) and denies the rest. MetalLB's FRR mode lists every
prefix in per-neighbor, per-community prefix-lists; FRR re-walks its tables on each prefix-list
change, so adding N prefixes that way costs O(N²) and every daemon's time. Here adding or removing
a prefix of an existing class is one ``network`` line, whatever the number of prefixes, and an
attribute change moves the prefix to another class: its ``network`` line is re-stated and bgpd
re-sends it (no ``clear``, no session reset).

The model is built to be changed in place (``frr_diff``): a class keeps the number it had in
``previous`` while its neighbors and attributes stay the same. The text holds BGP passwords:
``redact`` it before logging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..addresses import parse_ip
from ..model import BFDProfile
from .node_state import NodeBGP, Route
from .sessions import DUAL, EXTERNAL, IPV4, IPV6, MASK, Session

IN_SEQ = 20
CLASS_PREFIX = "class-"
CLASS_MAP = CLASS_PREFIX + "%d"  # the route-map of a class's network lines: sets the tag its neighbors' entries match
MAX_CLASS = 65535  # a class number is also a route-map sequence number
ROUTER_HEADER = ("no bgp ebgp-requires-policy", "no bgp network import-check", "no bgp default ipv4-unicast",
                 "bgp graceful-restart preserve-fw-state")
# bfdd's defaults (MetalLB documents the same): what an unset BFDProfile field means
BFD_DEFAULTS = {"receive-interval": 300, "transmit-interval": 300, "detect-multiplier": 3,
                "echo receive-interval": 50, "echo transmit-interval": 50}
# bgpd takes a changed route-map into use 5 s after the change by default, and then re-evaluates every
# route: a new class's first prefix would wait that long. 0: at once, for the routes sent from then on,
# without walking the tables (a class's entries never change while routes use it: see the module text).
GLOBAL_HEADER = ("ip nht resolve-via-default", "ipv6 nht resolve-via-default", "bgp route-map delay-timer 0")
_PASSWORD = re.compile(r"(\bpassword ).*$", re.MULTILINE)


def redact(text: str) -> str:
    """``text`` (a rendering or vtysh commands) with every BGP password masked, for logs."""
    return _PASSWORD.sub(lambda m: m.group(1) + MASK, text)


@dataclass(frozen=True)
class Neighbor:
    """``lines``: (key, line) in render order; a key names what one line sets (``timers``, ``password``)."""

    peer: str
    lines: tuple[tuple[str, str], ...]
    families: tuple[str, ...]  # address families activated: ipv4, ipv6
    ident: str  # prefix of its route-map and prefix-list names


@dataclass(frozen=True)
class Router:
    asn: int
    vrf: str
    header: tuple[str, ...]
    neighbors: tuple[Neighbor, ...]
    networks: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (ipv4|ipv6, ((prefix, route-map), ...))

    @property
    def command(self) -> str:
        return "router bgp %d%s" % (self.asn, " vrf %s" % self.vrf if self.vrf else "")


@dataclass(frozen=True)
class FrrConfig:
    """The model. Route maps: ((name, action, seq), lines). Prefix lists: ((ip|ipv6, name), prefixes),
    never rendered: read back from an FRR configured by an earlier renderer, so the differ removes them."""

    prefix_lists: tuple[tuple[tuple[str, str], tuple[str, ...]], ...] = ()
    route_maps: tuple[tuple[tuple[str, str, int], tuple[str, ...]], ...] = ()
    routers: tuple[Router, ...] = ()
    bfd_profiles: tuple[tuple[str, tuple[str, ...]], ...] = ()
    header: tuple[str, ...] = field(default=GLOBAL_HEADER)

    def __repr__(self) -> str:
        return "FrrConfig(%r)" % redact(render_text(self))


def session_ident(s: Session) -> str:
    """MetalLB's neighbor ID: address or interface, ``-vrf`` appended."""
    return s.peer + ("-" + s.vrf if s.vrf else "")


def _disable_connected_check(s: Session) -> bool:
    """MetalLB: only for single-hop IPv6 eBGP sessions (and unnumbered ones)."""
    if s.family != IPV6 or s.ebgp_multihop:
        return False
    if s.dynamic_asn:
        return s.dynamic_asn == EXTERNAL
    return s.my_asn != s.peer_asn


def neighbor_lines(s: Session) -> tuple[tuple[str, str], ...]:
    p = "neighbor %s " % s.peer
    out = [("remote-as", ("neighbor %s interface remote-as %s" if s.interface else "neighbor %s remote-as %s")
            % (s.peer, s.remote_as))]
    if s.ebgp_multihop:
        out.append(("ebgp-multihop", p + "ebgp-multihop"))
    if s.local_asn:
        out.append(("local-as", p + "local-as %d no-prepend replace-as" % s.local_asn))
    out.append(("port", p + "port %d" % s.port))
    # FRR's "traditional" defaults wait up to 30 s (eBGP) between UPDATEs to a neighbor: send at once
    out.append(("advertisement-interval", p + "advertisement-interval 0"))
    if s.hold_time is not None and s.keepalive_time is not None:
        out.append(("timers", p + "timers %d %d" % (s.keepalive_time, s.hold_time)))
    if s.connect_time:
        out.append(("timers connect", p + "timers connect %d" % s.connect_time))
    if s.password:
        out.append(("password", p + "password %s" % s.password))
    if s.source_address:
        out.append(("update-source", p + "update-source %s" % s.source_address))
    if s.graceful_restart:
        out.append(("graceful-restart", p + "graceful-restart"))
    if s.bfd_profile:
        out.append(("bfd", p + "bfd"))
        out.append(("bfd profile", p + "bfd profile %s" % s.bfd_profile))
    if _disable_connected_check(s):
        out.append(("disable-connected-check", p + "disable-connected-check"))
    return tuple(out)


def bfd_lines(profile: BFDProfile) -> tuple[str, ...]:
    """BFDProfile fields as bfdd profile lines (unset fields keep bfdd's defaults)."""
    out = []
    if profile.receive_interval is not None:
        out.append("receive-interval %d" % profile.receive_interval)
    if profile.transmit_interval is not None:
        out.append("transmit-interval %d" % profile.transmit_interval)
    if profile.detect_multiplier is not None:
        out.append("detect-multiplier %d" % profile.detect_multiplier)
    if profile.echo_mode:
        out.append("echo-mode")
    if profile.echo_interval is not None:
        out.append("echo receive-interval %d" % profile.echo_interval)
        out.append("echo transmit-interval %d" % profile.echo_interval)
    if profile.passive_mode:
        out.append("passive-mode")
    if profile.minimum_ttl is not None:
        out.append("minimum-ttl %d" % profile.minimum_ttl)
    return tuple(out)


def _attribute_lines(r: Route) -> tuple[str, ...]:
    """The set clauses of one route as one neighbor receives it (the route leaves bgpd without any)."""
    out = []
    if r.local_pref:
        out.append("set local-preference %d" % r.local_pref)
    standard = [str(c) for c in r.communities if not c.large]
    large = [str(c)[len("large:"):] for c in r.communities if c.large]
    if standard:
        out.append("set community %s additive" % " ".join(standard))
    if large:
        out.append("set large-community %s additive" % " ".join(large))
    return tuple(out)


def _prefix_order(prefix: str) -> tuple:
    """Numeric order (family, address, length), as FRR lists networks."""
    address, _slash, length = prefix.partition("/")
    parsed = parse_ip(address) or (0, 0)
    return (parsed[0], parsed[1], int(length or 0))


Signature = tuple  # ((outbound route-map name, set clauses), ...) sorted: what a class sends to whom


def _old_classes(previous: FrrConfig) -> dict[int, tuple[Signature, set[str]]]:
    """The classes of ``previous``: number → (signature, prefixes), read from its outbound route-map
    entries and network lines."""
    entries: dict[int, list] = {}
    for (name, action, seq), lines in previous.route_maps:
        if action == "permit" and lines and lines[0] == "match tag %d" % seq:
            entries.setdefault(seq, []).append((name, lines[1:]))
    prefixes: dict[int, set[str]] = {}
    for router in previous.routers:
        for _family, nets in router.networks:
            for prefix, rmap in nets:
                number = rmap[len(CLASS_PREFIX):]
                if rmap.startswith(CLASS_PREFIX) and number.isdigit():
                    prefixes.setdefault(int(number), set()).add(prefix)
    return {n: (tuple(sorted(sig)), prefixes.get(n, set())) for n, sig in entries.items()}


def _classes(state: NodeBGP, previous: FrrConfig | None) -> tuple[dict[str, int], dict[int, Signature]]:
    """(prefix → class number, class number → signature).

    A class takes over the number of a class of ``previous`` when every neighbor that exists in both
    receives the same from both (only neighbors created or removed differ): bgpd applies a changed
    route-map entry to the routes it sends from then on, never to those it sent, so an entry of a
    neighbor that keeps running never changes. Among such, the one sharing the most prefixes wins:
    those keep their ``network`` line. Any other class takes a number ``previous`` did not use."""
    signatures: dict[str, list] = {}
    for peer in state.peers:
        out_map = session_ident(peer.session) + "-out"
        for r in peer.routes:
            signatures.setdefault(r.prefix, []).append((out_map, _attribute_lines(r)))
    members: dict[Signature, set[str]] = {}
    for prefix, entries in signatures.items():
        members.setdefault(tuple(sorted(entries)), set()).add(prefix)
    first = {sig: min(_prefix_order(p) for p in prefixes) for sig, prefixes in members.items()}
    numbers: dict[Signature, int] = {}
    taken: set[int] = set()
    if previous is not None:
        old = _old_classes(previous)
        kept = {n.ident + "-out" for r in previous.routers for n in r.neighbors} & {
            session_ident(p.session) + "-out" for p in state.peers}

        def on_kept(sig: Signature) -> Signature:
            return tuple(entry for entry in sig if entry[0] in kept)

        pairs = sorted((-len(prefixes & old[n][1]), n, first[sig], sig) for sig, prefixes in members.items()
                       for n in old if on_kept(old[n][0]) == on_kept(sig))
        for _overlap, n, _first, sig in pairs:
            if sig not in numbers and n not in taken:
                numbers[sig] = n
                taken.add(n)
        taken |= set(old) | {int(name[len(CLASS_PREFIX):]) for (name, _a, _n), _l in previous.route_maps
                             if name.startswith(CLASS_PREFIX) and name[len(CLASS_PREFIX):].isdigit()}
    free = (n for n in range(1, MAX_CLASS + 1) if n not in taken)
    for sig in sorted(members, key=lambda sig: first[sig]):  # the same state renders the same numbers
        if sig not in numbers:
            numbers[sig] = next(free, 0)
    by_prefix = {p: numbers[sig] for sig, prefixes in members.items() for p in prefixes if numbers[sig]}
    return by_prefix, {n: sig for sig, n in numbers.items() if n}


def render_model(state: NodeBGP, previous: FrrConfig | None = None) -> FrrConfig:
    """The FRR configuration of ``state``. Classes present in ``previous`` keep their numbers, so a change
    renders as a change, not a renumbering."""
    class_of, signatures = _classes(state, previous)
    route_maps: dict[tuple[str, str, int], tuple[str, ...]] = {}
    for number, sig in signatures.items():
        route_maps[(CLASS_MAP % number, "permit", 1)] = ("set tag %d" % number,)
        for out_map, sets in sig:
            route_maps[(out_map, "permit", number)] = ("match tag %d" % number, *sets)
    routers: dict[str, dict] = {}
    for peer in state.peers:
        s = peer.session
        ident = session_ident(s)
        route_maps[(ident + "-in", "deny", IN_SEQ)] = ()
        router = routers.setdefault(s.vrf, {"asn": s.my_asn, "router_id": s.router_id, "neighbors": [],
                                            "networks": {IPV4: {}, IPV6: {}}})
        families = (IPV4, IPV6) if s.family == DUAL else (s.family,)
        router["neighbors"].append(Neighbor(s.peer, neighbor_lines(s), families, ident))
        router["router_id"] = router["router_id"] or s.router_id
        for r in peer.routes:
            if r.prefix in class_of:
                router["networks"][IPV4 if r.family == 4 else IPV6][r.prefix] = CLASS_MAP % class_of[r.prefix]
    built = []
    for vrf in sorted(routers):
        r = routers[vrf]
        header = ROUTER_HEADER + (("bgp router-id %s" % r["router_id"],) if r["router_id"] else ())
        networks = tuple((fam, tuple(sorted(r["networks"][fam].items(), key=lambda item: _prefix_order(item[0]))))
                         for fam in (IPV4, IPV6) if r["networks"][fam])
        built.append(Router(r["asn"], vrf, header, tuple(sorted(r["neighbors"], key=lambda n: n.peer)), networks))
    return FrrConfig(route_maps=tuple(sorted(route_maps.items())), routers=tuple(built),
                     bfd_profiles=tuple((p.name, bfd_lines(p))
                                        for p in sorted(state.bfd_profiles, key=lambda p: p.name)))


def address_family(family: str) -> str:
    return "address-family %s unicast" % family


def render_text(cfg: FrrConfig) -> str:
    """The whole configuration as FRR prints it (``show running-config``'s layout, ``exit`` after blocks),
    loadable with ``vtysh -f``."""
    out = list(cfg.header)
    for (word, name), prefixes in cfg.prefix_lists:
        out.extend("%s prefix-list %s permit %s" % (word, name, p) for p in prefixes)
    for (name, action, seq), lines in cfg.route_maps:
        out.append("route-map %s %s %d" % (name, action, seq))
        out.extend(" " + line for line in lines)
        out.append("exit")
    for router in cfg.routers:
        out.append(router.command)
        out.extend(" " + line for line in router.header)
        for n in router.neighbors:
            out.extend(" " + line for _key, line in n.lines)
        for family in (IPV4, IPV6):
            block = [line for n in router.neighbors if family in n.families for line in af_lines(n)]
            block += [network_line(p, rmap) for fam, nets in router.networks if fam == family for p, rmap in nets]
            if block:
                out.append(" " + address_family(family))
                out.extend("  " + line for line in block)
                out.append(" exit-address-family")
        out.append("exit")
    if cfg.bfd_profiles:
        out.append("bfd")
        for name, lines in cfg.bfd_profiles:
            out.append(" profile %s" % name)
            out.extend("  " + line for line in lines)
            out.append(" exit")
        out.append("exit")
    return "\n".join(out) + "\n"


def af_lines(n: Neighbor) -> tuple[str, ...]:
    return ("neighbor %s activate" % n.peer, "neighbor %s route-map %s-in in" % (n.peer, n.ident),
            "neighbor %s route-map %s-out out" % (n.peer, n.ident))


def network_line(prefix: str, route_map: str) -> str:
    return "network %s route-map %s" % (prefix, route_map) if route_map else "network %s" % prefix
