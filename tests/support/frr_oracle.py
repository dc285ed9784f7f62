# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A strict model of how FRR's configuration changes under the vtysh commands metal.lb sends.

Written from FRR's command semantics, independently of ``frr_diff``: contexts (``router bgp``,
``address-family``, ``route-map``, ``bfd``/``profile``) hold sets of lines; ``no router …`` /
``no route-map …`` / ``no profile …`` drop a context, ``no neighbor P`` drops every line of P in the
router and its address families, ``no network P`` drops P's line whatever its route-map, ``no LINE``
drops exactly LINE, and the single-valued neighbor settings and ``network P [route-map R]`` replace
their previous value. Removing a line that is not there, adding one that is, or
an unknown context is an error: a diff that FRR would reject or that leaves garbage fails here.
"""

from __future__ import annotations

import re

_SINGLE = re.compile(r"^(neighbor \S+ )(?:interface )?(remote-as|timers connect|timers|port|password|update-source"
                     r"|bfd profile|local-as)\b")
_ENTER_TOP = ("router bgp ", "route-map ", "bfd")
# settings that are written in the negative form (FRR shows them so)
_BFD_NEGATABLE = {"minimum-ttl", "echo-mode", "passive-mode"}
_BFD_DEFAULT_LINES = {"receive-interval 300", "transmit-interval 300", "detect-multiplier 3",
                      "echo receive-interval 50", "echo transmit-interval 50"}
_NEGATIVE_SETTINGS = {"no bgp ebgp-requires-policy", "no bgp network import-check", "no bgp default ipv4-unicast"}


class OracleError(AssertionError):
    pass


def _key(line: str, path: tuple = ()):
    if path and path[0] == "bfd" and len(path) == 2:  # bfdd profile settings: one value each
        words = line.split()
        return ("bfd",) + tuple(words[:-1] if len(words) > 1 and words[-1].isdigit() else words)
    m = _SINGLE.match(line)
    if m:
        return (m.group(1), m.group(2))
    if line.startswith("bgp router-id "):
        return ("bgp router-id",)
    if line.startswith("network "):
        return ("network", line.split()[1])
    return None


def apply(tree: dict, commands) -> dict:
    """``tree`` ({context path: set of lines}) after ``commands``; () is the top level."""
    tree = {k: set(v) for k, v in tree.items()}
    tree.setdefault((), set())
    path: tuple = ()
    for raw in commands:
        cmd = raw.strip()
        if not cmd or cmd in ("configure terminal",):
            continue
        if cmd == "end":
            path = ()
            continue
        if cmd in ("exit", "exit-address-family"):
            if not path:
                raise OracleError("exit at top level")
            path = path[:-1]
            continue
        if _enters(path, cmd):
            path = path + (cmd,)
            tree.setdefault(path, set())
            continue
        if cmd.startswith("no ") and cmd not in _NEGATIVE_SETTINGS:
            rest = cmd[3:]
            if _enters(path, rest):
                target = path + (rest,)
                if target not in tree:
                    raise OracleError("no such context: %r" % (target,))
                for k in [k for k in tree if k[:len(target)] == target]:
                    del tree[k]
                continue
            parts = rest.split()
            if len(parts) == 2 and parts[0] == "neighbor":
                found = False
                for k in [k for k in tree if k[:len(path)] == path]:
                    gone = {line for line in tree[k] if line.startswith(rest + " ")}
                    found = found or bool(gone)
                    tree[k] -= gone
                if not found:
                    raise OracleError("no such neighbor: %r" % rest)
                continue
            if len(parts) == 2 and parts[0] == "network":
                gone = {line for line in tree[path] if _key(line) == ("network", parts[1])}
                if not gone:
                    raise OracleError("no such network in %r: %r" % (path, rest))
                tree[path] -= gone
                continue
            if path and path[0] == "bfd" and len(path) == 2:  # ``no receive-interval``: back to the default
                if rest.split()[-1].isdigit() or rest not in _BFD_NEGATABLE:
                    raise OracleError("bfdd has no %r" % cmd)  # FRR 8.4: "Unknown command"
                gone = {line for line in tree[path] if _key(line, path) == _key(rest, path)}
                if not gone:
                    raise OracleError("no such setting in %r: %r" % (path, rest))
                tree[path] -= gone
                continue
            if rest not in tree[path]:
                raise OracleError("no such line in %r: %r" % (path, rest))
            tree[path].discard(rest)
            continue
        key = _key(cmd, path)
        if key is not None:
            tree[path] = {line for line in tree[path] if _key(line, path) != key}
        elif cmd in tree[path]:
            raise OracleError("line already there in %r: %r" % (path, cmd))
        if not (path and path[0] == "bfd" and cmd in _BFD_DEFAULT_LINES):  # FRR does not show defaults
            tree[path].add(cmd)
    return tree


def _enters(path: tuple, cmd: str) -> bool:
    if not path:
        return cmd.startswith(_ENTER_TOP)
    if path[0].startswith("router bgp ") and len(path) == 1:
        return cmd.startswith("address-family ")
    if path[0] == "bfd" and len(path) == 1:
        return cmd.startswith("profile ")
    return False


def tree_of(text: str) -> dict:
    return apply({}, text.splitlines())


def normalized(tree: dict) -> dict:
    """Without the empty address-family and bfd blocks FRR does not show."""
    return {k: v for k, v in tree.items()
            if v or not k or not (k[-1].startswith("address-family ") or k[-1] == "bfd")}
