# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""FRR's ``show running-config`` read back into ``frr_config``'s model, so the first diff of a
speaker that adopted a running FRR (or that must find out what a failed batch left) is made
against what FRR really holds, not against nothing.

FRR prints in its own order, omits defaults (``port 179``) and names well-known communities; the
reading puts lines back in the renderer's order and words, so that a configuration FRR holds
exactly as rendered reads back equal to the rendering and diffs to nothing. Lines we never write
read back as themselves: the differ removes what it does not want.
"""

from __future__ import annotations

from .frr_config import GLOBAL_HEADER, FrrConfig, Neighbor, Router
from .sessions import IPV4, IPV6

# the renderer's order of neighbor lines (frr_config.neighbor_lines): the key of each
NEIGHBOR_KEYS = ("remote-as", "ebgp-multihop", "local-as", "port", "advertisement-interval", "timers",
                 "timers connect", "password", "update-source", "graceful-restart", "bfd", "bfd profile",
                 "disable-connected-check")
WELL_KNOWN = {"graceful-shutdown": "65535:0", "accept-own": "65535:1", "llgr-stale": "65535:6",
              "no-llgr": "65535:7", "accept-own-nexthop": "65535:8", "blackhole": "65535:666",
              "no-export": "65535:65281", "no-advertise": "65535:65282", "local-AS": "65535:65283",
              "no-peer": "65535:65284"}
_SKIP_PREFIX = ("frr version", "frr defaults", "hostname ", "log ", "no ip forwarding", "no ipv6 forwarding",
                "service integrated-vtysh-config", "Building configuration", "Current configuration")
# the renderer's order of route-map lines (frr_config._attribute_lines): FRR prints set clauses its own way
_RM_ORDER = ("match ", "set local-preference ", "set community ", "set large-community ", "set tag ", "set ",
             "on-match ")
BFD_ORDER = ("receive-interval", "transmit-interval", "detect-multiplier", "echo-mode", "echo receive-interval",
             "echo transmit-interval", "passive-mode", "minimum-ttl")  # frr_config.bfd_lines


def _neighbor_key(rest: str) -> str:
    """``rest``: a neighbor line after ``neighbor PEER ``."""
    if rest.startswith(("remote-as ", "interface remote-as ", "interface")):
        return "remote-as"
    for key in ("timers connect", "bfd profile"):
        if rest.startswith(key + " "):
            return key
    word = rest.split(" ", 1)[0]
    return word if word in NEIGHBOR_KEYS else rest


def _neighbor_line(peer: str, rest: str) -> str:
    if rest.startswith("ebgp-multihop"):
        rest = "ebgp-multihop"  # FRR prints the default TTL (255); we render the bare form
    return "neighbor %s %s" % (peer, rest)


def _numbers(text: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in text.split(":"))


def _route_map_line(line: str) -> str:
    """Communities as numbers in the renderer's order (FRR names well-known ones, orders them its way)."""
    words = line.split()
    if words[:2] in (["set", "community"], ["set", "large-community"]):
        values = [WELL_KNOWN.get(w, w) for w in words[2:] if w != "additive"]
        if all(v.replace(":", "").isdigit() for v in values):
            # MetalLB's order (engine config): a:b sorts as the large community (a<<16|b):0:0, before large ones
            values.sort(key=lambda v: (_numbers(v)[0] << 16 | _numbers(v)[1], 0, 0) if len(_numbers(v)) == 2
                        else _numbers(v))
        return " ".join(words[:2] + values + (["additive"] if "additive" in words[2:] else []))
    return line


def _rm_order(line: str) -> int:
    return next((i for i, p in enumerate(_RM_ORDER) if line.startswith(p)), len(_RM_ORDER))


def _blocks(text: str) -> list[tuple[str, list[str]]]:
    """Top-level lines with the indented lines under each (``!``, blank and ``exit`` lines dropped)."""
    out: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        stripped = line.strip()
        if not stripped or stripped in ("!", "end") or stripped.startswith(_SKIP_PREFIX):
            continue
        if line[0] != " ":
            if stripped == "exit":
                continue
            out.append((stripped, []))
        elif out:
            out[-1][1].append(line)
    return out


def _router(command: str, body: list[str]) -> Router:
    words = command.split()
    asn = int(words[2])
    vrf = words[4] if len(words) > 4 and words[3] == "vrf" else ""
    header: list[str] = []
    lines: dict[str, dict[str, str]] = {}
    families: dict[str, list[str]] = {}
    idents: dict[str, str] = {}
    networks: dict[str, list[tuple[str, str]]] = {IPV4: [], IPV6: []}
    family = ""
    for raw in body:
        text = raw.strip()
        if text.startswith("address-family "):
            family = IPV4 if "ipv4" in text else IPV6 if "ipv6" in text else "other"
            continue
        if text in ("exit-address-family", "exit"):
            family = ""
            continue
        words = text.split()
        if family:
            if family in networks and words[0] == "network":
                rmap = words[3] if len(words) >= 4 and words[2] == "route-map" else ""
                networks[family].append((words[1], rmap))
            elif words[0] == "neighbor" and len(words) >= 3:
                peer = words[1]
                if words[2] == "activate":
                    families.setdefault(peer, []).append(family)
                elif words[2] == "route-map" and len(words) >= 5 and words[4] == "in" and words[3].endswith("-in"):
                    idents[peer] = words[3][:-3]
            continue
        if words[0] == "neighbor" and len(words) >= 3:
            peer, rest = words[1], " ".join(words[2:])
            lines.setdefault(peer, {})[_neighbor_key(rest)] = _neighbor_line(peer, rest)
        else:
            header.append(text)
    neighbors = []
    for peer, by_key in lines.items():
        if "remote-as" not in by_key:
            continue  # not a neighbor we could have made
        by_key.setdefault("port", "neighbor %s port 179" % peer)  # FRR omits the default port
        order = {k: i for i, k in enumerate(NEIGHBOR_KEYS)}
        keyed = sorted(by_key.items(), key=lambda item: (order.get(item[0], len(order)), item[0]))
        fams = tuple(f for f in (IPV4, IPV6) if f in families.get(peer, ()))
        neighbors.append(Neighbor(peer, tuple(keyed), fams, idents.get(peer, peer + ("-" + vrf if vrf else ""))))
    nets = tuple((fam, tuple(networks[fam])) for fam in (IPV4, IPV6) if networks[fam])
    return Router(asn, vrf, tuple(header), tuple(sorted(neighbors, key=lambda n: n.peer)), nets)


def _bfd_profiles(body: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The ``profile`` blocks of FRR's ``bfd`` block, lines in the renderer's order (``bfd_lines``)."""
    out = []
    name, lines = "", []
    for raw in body:
        text = raw.strip()
        if raw.startswith(" profile "):
            name, lines = text[len("profile "):], []
        elif raw.startswith("  ") and name:
            if text != "exit":
                lines.append(text)
        elif text == "exit" and name:
            out.append((name, tuple(sorted(lines, key=_bfd_order))))
            name = ""
        else:
            name = ""  # a bfd peer block: not ours
    if name:
        out.append((name, tuple(sorted(lines, key=_bfd_order))))
    return out


def _bfd_order(line: str) -> int:
    return next((i for i, key in enumerate(BFD_ORDER) if line.startswith(key)), len(BFD_ORDER))


def parse_running_config(text: str) -> FrrConfig:
    """``show running-config`` of an FRR pathspace metal.lb owns → the model ``frr_diff`` compares."""
    prefix_lists: dict[tuple[str, str], list[str]] = {}
    route_maps: dict[tuple[str, str, int], tuple[str, ...]] = {}
    routers: list[Router] = []
    bfd: list[tuple[str, tuple[str, ...]]] = []
    header: list[str] = []
    for command, body in _blocks(text):
        words = command.split()
        if words[0] in ("ip", "ipv6") and len(words) > 2 and words[1] == "prefix-list":
            if "seq" in words:
                i = words.index("seq")
                words = words[:i] + words[i + 2:]
            if len(words) == 5 and words[3] == "permit":
                prefix_lists.setdefault((words[0], words[2]), []).append(words[4])
        elif words[0] == "route-map" and len(words) == 4:
            lines = sorted((_route_map_line(b.strip()) for b in body if b.strip() != "exit"), key=_rm_order)
            route_maps[(words[1], words[2], int(words[3]))] = tuple(lines)
        elif words[:2] == ["router", "bgp"] and len(words) >= 3:
            routers.append(_router(command, body))
        elif command == "bfd":
            bfd.extend(_bfd_profiles(body))
        elif not body:
            header.append(command)
    ours = tuple(h for h in GLOBAL_HEADER if h in header)
    others = tuple(h for h in header if h not in GLOBAL_HEADER)
    return FrrConfig(prefix_lists=tuple(sorted((k, tuple(v)) for k, v in prefix_lists.items())),
                     route_maps=tuple(sorted(route_maps.items())),
                     routers=tuple(sorted(routers, key=lambda r: r.vrf)), bfd_profiles=tuple(sorted(bfd)),
                     header=ours + others)
