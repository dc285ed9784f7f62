# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The planner's BGP view: for every LB IP and every node, what the node sends or why it sends nothing.

Runs ``node_state.node_bgp`` (the speaker's function) once per node. Equal per-node entries are one
shared dict: read-only output.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model import Config
from ..election import Balancer, slices_by_service
from .node_state import ip_view, node_bgp, routes_by_prefix
from .sessions import secrets_by_name


def bgp_announcements(config: Config, objects: Sequence[Mapping], balancers: Sequence[Balancer],
                      nodes: Mapping[str, Mapping], *, namespace: str = "metallb-system",
                      ignore_exclude_lb: bool = False) -> tuple[dict[str, dict], list[str]]:
    """``{ip: {node: {"peers", "prefixes", "communities", "large_communities", "local_pref"} or
    {"reason"}}}`` for the LB IPs of ``balancers`` (``{}`` when the configuration has no BGP at all),
    and the sessions that cannot run (a passwordSecret that cannot be read), one line each."""
    if not config.bgp_advertisements and not config.peers:
        return {}, []
    slices = [obj for obj in objects if isinstance(obj, Mapping) and obj.get("kind") == "EndpointSlice"]
    by_service = slices_by_service(slices)
    secrets = secrets_by_name(objects, namespace)
    shared: dict = {}
    out: dict[str, dict] = {}
    errors: list[str] = []
    for name in sorted(nodes):
        state = node_bgp(config, name, nodes, balancers, slices, secrets, ignore_exclude_lb=ignore_exclude_lb,
                         by_service=by_service)
        errors.extend(e for e in state.errors if e not in errors)
        index = routes_by_prefix(state)
        for ip in sorted(set(state.ip_prefixes) | set(state.ip_reasons)):
            view = ip_view(state, ip, index)
            key = repr(sorted(view.items()))
            out.setdefault(ip, {})[name] = shared.setdefault(key, view)
    return out, errors
