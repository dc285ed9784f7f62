# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""A node's BGP decisions as FRR configuration, in the shape MetalLB's FRR mode renders.

One ``router bgp <myASN> [vrf V]`` per VRF with the ``network`` statements of every prefix its
sessions carry; per neighbor its session lines, an inbound route-map that accepts nothing, and an
outbound route-map whose entries set communities, large communities and LOCAL_PREF through
prefix-lists and end by permitting the neighbor's allowed prefixes; BFD profiles under ``bfd``.

Unlike MetalLB's template the model is built to be changed in place (``frr_diff``): prefix-list
entries carry no sequence number (FRR numbers them), and a route-map entry keeps the sequence number
it had in ``previous`` so that adding a community or a prefix never renumbers the others. The text
holds BGP passwords: ``redact`` it before logging.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..addresses import parse_ip
from ..model import BFDProfile
from .node_state import NodeBGP, Route
from .sessions import DUAL, EXTERNAL, IPV4, IPV6, MASK, Session

ALLOWED_V4_SEQ = 65534  # the last entries of an outbound route-map: permit what the neighbor may receive
ALLOWED_V6_SEQ = 65535
IN_SEQ = 20
ROUTER_HEADER = ("no bgp ebgp-requires-policy", "no bgp network import-check", "no bgp default ipv4-unicast",
                 "bgp graceful-restart preserve-fw-state")
# bfdd's defaults (MetalLB documents the same): what an unset BFDProfile field means
BFD_DEFAULTS = {"receive-interval": 300, "transmit-interval": 300, "detect-multiplier": 3,
                "echo receive-interval": 50, "echo transmit-interval": 50}
# bgpd takes a changed route-map (or a prefix-list it matches) into use 5 s after the change by default:
# a new prefix would wait that long behind its prefix-list entry. 0: at once, for every route sent from
# then on; routes already sent are re-sent only on request (frr_diff.soft_out_commands).
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
    networks: tuple[tuple[str, tuple[str, ...]], ...]  # (ipv4|ipv6, prefixes)

    @property
    def command(self) -> str:
        return "router bgp %d%s" % (self.asn, " vrf %s" % self.vrf if self.vrf else "")


@dataclass(frozen=True)
class FrrConfig:
    """The model. Prefix lists: ((ip|ipv6, name), prefixes); route maps: ((name, action, seq), lines)."""

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


def _policies(ident: str, routes: Iterable[Route]) -> dict[tuple[str, str], tuple[set, str]]:
    """(ip|ipv6, prefix-list name) -> (prefixes, set statement) for LOCAL_PREF and each community."""
    out: dict[tuple[str, str], tuple[set, str]] = {}
    for r in routes:
        word = "ip" if r.family == 4 else "ipv6"
        if r.local_pref:
            key = (word, "%s-%d-%s-localpref-prefixes" % (ident, r.local_pref, word))
            out.setdefault(key, (set(), "set local-preference %d" % r.local_pref))[0].add(r.prefix)
        for c in r.communities:
            text = str(c)
            key = (word, "%s-%s-%s-community-prefixes" % (ident, text, word))
            statement = ("set large-community %s additive" % text[len("large:"):] if c.large
                         else "set community %s additive" % text)
            out.setdefault(key, (set(), statement))[0].add(r.prefix)
    return out


def _prefix_order(prefix: str) -> tuple:
    """Numeric order (family, address, length), as FRR lists networks."""
    address, _slash, length = prefix.partition("/")
    parsed = parse_ip(address) or (0, 0)
    return (parsed[0], parsed[1], int(length or 0))


def render_model(state: NodeBGP, previous: FrrConfig | None = None) -> FrrConfig:
    """The FRR configuration of ``state``. Route-map entries present in ``previous`` keep their sequence
    numbers (new ones take the lowest free number), so a change renders as a change, not a renumbering."""
    old_seq = {}
    for (name, _action, seq), lines in (previous.route_maps if previous is not None else ()):
        if lines and lines[0].startswith("match "):
            old_seq[(name, lines[0])] = seq
    prefix_lists: dict[tuple[str, str], tuple[str, ...]] = {}
    route_maps: dict[tuple[str, str, int], tuple[str, ...]] = {}
    routers: dict[str, dict] = {}
    for peer in state.peers:
        s = peer.session
        ident = session_ident(s)
        route_maps[(ident + "-in", "deny", IN_SEQ)] = ()
        out_map = ident + "-out"
        entries = []
        for (word, name), (prefixes, statement) in sorted(_policies(ident, peer.routes).items()):
            prefix_lists[(word, name)] = tuple(sorted(prefixes, key=_prefix_order))
            entries.append(("match %s address prefix-list %s" % (word, name), statement))
        used = {old_seq[(out_map, m)] for m, _st in entries if (out_map, m) in old_seq}
        free = (n for n in range(1, ALLOWED_V4_SEQ) if n not in used)
        for match, statement in entries:
            seq = old_seq.get((out_map, match)) or next(free)
            route_maps[(out_map, "permit", seq)] = (match, statement, "on-match next")
        for word, family, seq in (("ip", 4, ALLOWED_V4_SEQ), ("ipv6", 6, ALLOWED_V6_SEQ)):
            name = "%s-allowed-%s" % (ident, "ipv4" if family == 4 else "ipv6")
            allowed = [r.prefix for r in peer.routes if r.family == family]
            if allowed:
                prefix_lists[(word, name)] = tuple(sorted(allowed, key=_prefix_order))
            route_maps[(out_map, "permit", seq)] = ("match %s address prefix-list %s" % (word, name),)
        router = routers.setdefault(s.vrf, {"asn": s.my_asn, "router_id": s.router_id, "neighbors": [],
                                            "networks": {IPV4: set(), IPV6: set()}})
        families = (IPV4, IPV6) if s.family == DUAL else (s.family,)
        router["neighbors"].append(Neighbor(s.peer, neighbor_lines(s), families, ident))
        router["router_id"] = router["router_id"] or s.router_id
        for r in peer.routes:
            router["networks"][IPV4 if r.family == 4 else IPV6].add(r.prefix)
    built = []
    for vrf in sorted(routers):
        r = routers[vrf]
        header = ROUTER_HEADER + (("bgp router-id %s" % r["router_id"],) if r["router_id"] else ())
        networks = tuple((fam, tuple(sorted(r["networks"][fam], key=_prefix_order)))
                         for fam in (IPV4, IPV6) if r["networks"][fam])
        built.append(Router(r["asn"], vrf, header, tuple(sorted(r["neighbors"], key=lambda n: n.peer)), networks))
    return FrrConfig(prefix_lists=tuple(sorted(prefix_lists.items())), route_maps=tuple(sorted(route_maps.items())),
                     routers=tuple(built),
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
            block += ["network %s" % p for fam, prefixes in router.networks if fam == family for p in prefixes]
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
