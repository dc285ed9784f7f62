# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Two FRR configurations → the few vtysh commands that turn the first into the second.

Never a reload: a new or removed prefix touches only its ``network`` line (and, for a class of
prefixes that is new, that class's route-map entries), so no session sees anything but an UPDATE;
a changed peer touches only that neighbor's lines. The order makes every intermediate state safe:
policies (route-map entries, BFD profiles) are in place before a ``network`` line can send a
prefix, and are removed only after the lines and neighbors that use them. A new neighbor is
created shut down and started only once its address families and route-maps are set: bgpd opens a
session as soon as a neighbor exists, and a session opened before its ``activate`` would carry no
routes (the capability is negotiated in the OPEN) and be reset when the family is activated. The
commands hold passwords: log them through ``frr_config.redact``.
"""

from __future__ import annotations

from .frr_config import BFD_DEFAULTS, FrrConfig, Neighbor, Router, address_family, af_lines, network_line
from .sessions import IPV4, IPV6

CONFIGURE = "configure terminal"
END = "end"


def _prefix_entries(cfg: FrrConfig) -> dict[tuple[str, str, str], None]:
    return {(word, name, p): None for (word, name), prefixes in cfg.prefix_lists for p in prefixes}


def _prefix_line(entry: tuple[str, str, str]) -> str:
    return "%s prefix-list %s permit %s" % entry


def _route_map(key: tuple[str, str, int], lines: tuple[str, ...]) -> list[str]:
    return ["route-map %s %s %d" % key, *(" " + line for line in lines), "exit"]


def _neighbor_changes(old: Neighbor, new: Neighbor) -> list[str]:
    """Lines FRR overwrites in place are re-set; lines that went away are negated, last first
    (``bfd profile`` before ``bfd``)."""
    old_lines, new_lines = dict(old.lines), dict(new.lines)
    out = [line for key, line in new.lines if old_lines.get(key) != line]
    out += ["no " + line for key, line in reversed(old.lines) if key not in new_lines]
    return out


def _af_block(router_old: Router | None, router: Router, family: str) -> list[str]:
    old_neighbors = {n.peer: n for n in router_old.neighbors} if router_old is not None else {}
    lines = []
    for n in router.neighbors:
        before = old_neighbors.get(n.peer)
        had = before is not None and family in before.families and before.ident == n.ident
        if family in n.families and not had:
            lines += af_lines(n)
        elif had and family not in n.families:
            lines += ["no " + line for line in reversed(af_lines(n))]
    old_nets = {p: rmap for fam, nets in (router_old.networks if router_old is not None else ()) if fam == family
                for p, rmap in nets}
    new_nets = [(p, rmap) for fam, nets in router.networks if fam == family for p, rmap in nets]
    wanted = {p for p, _rmap in new_nets}
    lines += ["no network %s" % p for p in old_nets if p not in wanted]
    # a prefix whose class changed is re-stated: bgpd re-originates it through the new route-map
    lines += [network_line(p, rmap) for p, rmap in new_nets if old_nets.get(p) != rmap]
    if not lines:
        return []
    return [" " + address_family(family), *("  " + line for line in lines), " exit-address-family"]


def _same_neighbor(old: Neighbor, new: Neighbor) -> bool:
    """The same FRR neighbor (changed in place): same kind (numbered or unnumbered) and names."""
    return old.lines[0][1].split(" remote-as")[0] == new.lines[0][1].split(" remote-as")[0] and old.ident == new.ident


def _router_commands(old: Router | None, new: Router) -> list[str]:
    body: list[str] = []
    if old is None:
        body += [" " + line for line in new.header]
    else:
        old_header = set(old.header)
        body += [" " + line for line in new.header if line not in old_header]
        body += [" no " + line for line in old.header if line not in set(new.header)
                 and not (line.startswith("bgp router-id ") and any(h.startswith("bgp router-id ")
                                                                    for h in new.header))]
    old_neighbors = {n.peer: n for n in old.neighbors} if old is not None else {}
    kept: dict[str, Neighbor] = {}
    for peer, n in old_neighbors.items():
        match = next((m for m in new.neighbors if m.peer == peer), None)
        if match is None or not _same_neighbor(n, match):
            body.append(" no neighbor %s" % peer)
        else:
            kept[peer] = n
    created = []
    for n in new.neighbors:
        before = kept.get(n.peer)
        if before is None:
            created.append(n.peer)
            lines = [n.lines[0][1], "neighbor %s shutdown" % n.peer, *(line for _key, line in n.lines[1:])]
        else:
            lines = _neighbor_changes(before, n)
        body += [" " + line for line in lines]
    trimmed = Router(old.asn, old.vrf, old.header, tuple(kept.values()), old.networks) if old is not None else None
    for family in (IPV4, IPV6):
        body += _af_block(trimmed, new, family)
    body += [" no neighbor %s shutdown" % peer for peer in created]  # configured whole: may connect now
    if not body:
        return []
    return [new.command, *body, "exit"]


def _bfd_key(line: str) -> str:
    """A bfdd profile setting without its value (``receive-interval 300`` → ``receive-interval``)."""
    words = line.split()
    return " ".join(words[:-1]) if len(words) > 1 and words[-1].isdigit() else line


def _bfd_reset(line: str) -> str:
    """bfdd (FRR 8.4) has no ``no`` form for its intervals: they are set back to the default value."""
    key = _bfd_key(line)
    default = BFD_DEFAULTS.get(key)
    return "%s %d" % (key, default) if default is not None else "no " + key


def diff(old: FrrConfig | None, new: FrrConfig) -> list[str]:
    """vtysh commands (``configure terminal`` … ``end``) that make ``old`` into ``new``; [] when equal.
    ``old`` None: FRR holds nothing of ours yet (the whole of ``new``)."""
    first = old is None
    old = old if old is not None else FrrConfig(header=())
    cmds: list[str] = list(new.header) if first else [h for h in new.header if h not in set(old.header)]
    # 1. policies first: BFD profiles, prefix-list entries, route-map entries
    old_bfd, new_bfd = dict(old.bfd_profiles), dict(new.bfd_profiles)
    bfd_block = []
    for name, lines in new.bfd_profiles:
        before = old_bfd.get(name)
        if before == lines:
            continue
        changes = list(lines) if before is None else [line for line in lines if line not in before]
        if before is not None:  # a changed value is re-set; a setting that went away returns to bfdd's default
            keys = {_bfd_key(line) for line in lines}
            changes += [_bfd_reset(line) for line in before if _bfd_key(line) not in keys]
        bfd_block += [" profile %s" % name, *("  " + line for line in changes), " exit"]
    if bfd_block:
        cmds += ["bfd", *bfd_block, "exit"]
    old_entries, new_entries = _prefix_entries(old), _prefix_entries(new)
    cmds += [_prefix_line(e) for e in new_entries if e not in old_entries]
    old_maps = dict(old.route_maps)
    for key, lines in new.route_maps:
        before = old_maps.get(key)
        if before is None:
            cmds += _route_map(key, lines)
        elif before != lines:  # a sequence number reused for another match: replace the entry
            cmds += ["no route-map %s %s %d" % key, *_route_map(key, lines)]
    # 2. routers: removed (or moved to another ASN), then added and changed
    new_routers = {r.vrf: r for r in new.routers}
    old_routers = {r.vrf: r for r in old.routers}
    for vrf, r in old_routers.items():
        if vrf not in new_routers or new_routers[vrf].asn != r.asn:
            cmds.append("no " + r.command)
    for r in new.routers:
        before = old_routers.get(r.vrf)
        cmds += _router_commands(before if before is not None and before.asn == r.asn else None, r)
    # 3. what nothing uses any more
    new_maps = dict(new.route_maps)
    cmds += ["no route-map %s %s %d" % key for key, _lines in old.route_maps if key not in new_maps]
    cmds += ["no " + _prefix_line(e) for e in old_entries if e not in new_entries]
    gone = [name for name, _lines in old.bfd_profiles if name not in new_bfd]
    if gone and not new.bfd_profiles:
        cmds.append("no bfd")  # FRR keeps showing an empty ``bfd`` block otherwise
    elif gone:
        cmds += ["bfd", *(" no profile %s" % name for name in gone), "exit"]
    if not cmds:
        return []
    return [CONFIGURE, *cmds, END]
