# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The configuration the controller allocates from, and what it only reports.

MetalLB's controller reconciles pools; a BGPPeer, a BFDProfile or an advertisement naming an
unknown peer is the speakers' business. So the controller (and everything that plans its
decisions: ``metal-lb plan``, the modules) allocates from the pools alone
(``sources.ALLOCATION_KINDS``) and never stops because of another object: problems there are
reported beside the decision, not instead of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..model import Config
from .modes import DEFAULT_BGP_TYPE
from .parse import parse_config
from .sources import ALLOCATION_KINDS


@dataclass
class AllocationConfig:
    """``config`` (pools only) is None when ``errors`` (in what the controller allocates from) stop
    it; ``reported`` are the problems of every other object (never in ``errors``); ``whole`` is the
    complete configuration (what the speakers use), None when anything is wrong."""

    config: Config | None
    whole: Config | None = None
    errors: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    all_errors: list[str] = field(default_factory=list)  # every error, in the parser's order


def allocation_config(objects: Iterable[Mapping], *, namespace: str = "metallb-system",
                      bgp_type: str = DEFAULT_BGP_TYPE, service_cidrs: Sequence[str] = (), gateways: Sequence[str] = (),
                      allow_node_ip_pools: bool = False, secrets_read: bool = True) -> AllocationConfig:
    """Parse ``objects`` twice: the pools to allocate from, and everything to report.

    ``secrets_read`` False for a reader without Secrets (the controller daemon)."""
    objects = list(objects)
    options = dict(namespace=namespace, bgp_type=bgp_type, service_cidrs=service_cidrs, gateways=gateways,
                   allow_node_ip_pools=allow_node_ip_pools, secrets_read=secrets_read)
    whole = parse_config(objects, **options)
    if whole.config is not None:
        # Valid as a whole: its pools are what the pools alone parse to (one parse, the usual case).
        pools_only = replace(whole.config, l2_advertisements=(), bgp_advertisements=(), peers=(), bfd_profiles={},
                             communities={})
        return AllocationConfig(pools_only, whole.config, [], [], list(whole.warnings), [])
    pools = parse_config(objects, kinds=ALLOCATION_KINDS, **options)
    errors = [str(e) for e in pools.errors]
    blocking = set(errors)
    every = [str(e) for e in whole.errors]
    reported = [e for e in every if e not in blocking]
    every += [e for e in errors if e not in set(every)]
    return AllocationConfig(pools.config, whole.config, errors, reported, list(whole.warnings), every)
