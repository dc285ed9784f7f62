# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Does a node announce a service over BGP, and which prefixes: MetalLB's ``ShouldAnnounce`` and
``SetBalancer`` of speaker/bgp_controller.go.

The reasons are checked in MetalLB's order. The node and endpoint rules are layer 2's own
functions (``layer2.election``): one definition of "serving", "network unavailable" and the
exclusion label for both protocols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..addresses import format_ip, parse_ip
from ..config.advertisements import compatible_local_pref
from ..model import BGPAdvertisement, Community, Config
from ..election import endpoint_serving, network_unavailable
from ..selectors import any_matches, selector_matches
from ..vocabulary import EXCLUDE_LB_LABEL

NOT_OWNER = "notOwner"
NO_MATCHING_ADVERTISEMENT = "noMatchingAdvertisement"
CONFLICTING_ADVERTISEMENTS = "conflictingAdvertisements"
NODE_NETWORK_UNAVAILABLE = "nodeNetworkUnavailable"
NODE_EXCLUDED = "nodeLabeledExcludeBalancers"
NO_LOCAL_ENDPOINTS = "noLocalEndpoints"
NO_ENDPOINTS = "noEndpoints"


@dataclass(frozen=True)
class Advertised:
    """One prefix of one service under one BGPAdvertisement (MetalLB's bgp.Advertisement)."""

    prefix: str
    family: int
    local_pref: int
    communities: tuple[Community, ...]
    peers: tuple[str, ...]  # empty: every peer of the node


def _labels(obj: Mapping | None) -> Mapping[str, str]:
    meta = (obj or {}).get("metadata") or {}
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def ad_selects_node(ad: BGPAdvertisement, node: Mapping | None) -> bool:
    """MetalLB's ``ad.Nodes[node]``: only nodes it knows (a Node object) can be selected."""
    return node is not None and any_matches(ad.node_selectors, _labels(node))


def ads_for_service(config: Config, pool: str, node: Mapping | None, service: Mapping) -> list[BGPAdvertisement]:
    """``bgpAdsForService``: the pool's advertisements selecting the node and the service (OR)."""
    service_labels = _labels(service)
    return [ad for ad in config.bgp_advertisements
            if pool in ad.pools and ad_selects_node(ad, node)
            and (not ad.service_selectors or any(selector_matches(s, service_labels) for s in ad.service_selectors))]


def _has_endpoint(endpoint_slices: Sequence[Mapping], node_name: str | None) -> bool:
    """A serving endpoint with addresses (on ``node_name`` when given): ``hasHealthyEndpoint``."""
    for eps in endpoint_slices or ():
        for endpoint in (eps.get("endpoints") or ()) if isinstance(eps, Mapping) else ():
            if not isinstance(endpoint, Mapping) or not endpoint.get("addresses"):
                continue
            if node_name is not None and endpoint.get("nodeName") != node_name:
                continue
            if endpoint_serving(endpoint):
                return True
    return False


def should_announce(config: Config, pool: str, service: Mapping, node_name: str,
                    nodes: Mapping[str, Mapping], endpoint_slices: Sequence[Mapping], *,
                    ignore_exclude_lb: bool = False) -> tuple[str | None, list[BGPAdvertisement]]:
    """(None, the advertisements to apply) when ``node_name`` announces the service, else (reason, [])."""
    node = nodes.get(node_name)
    if not any(pool in ad.pools and ad_selects_node(ad, node) for ad in config.bgp_advertisements):
        return NOT_OWNER, []
    ads = ads_for_service(config, pool, node, service)
    if not ads:
        return NO_MATCHING_ADVERTISEMENT, []
    labels = {name: _labels(obj) for name, obj in nodes.items()} if len(ads) > 1 else {}
    for i, a in enumerate(ads):
        for b in ads[i + 1:]:
            if not compatible_local_pref(a, b, config.pools[pool], labels):
                return CONFLICTING_ADVERTISEMENTS, []
    if network_unavailable(node):
        return NODE_NETWORK_UNAVAILABLE, []
    if not ignore_exclude_lb and EXCLUDE_LB_LABEL in _labels(node):
        return NODE_EXCLUDED, []
    local = ((service.get("spec") or {}).get("externalTrafficPolicy")) == "Local"
    if local and not _has_endpoint(endpoint_slices, node_name):
        return NO_LOCAL_ENDPOINTS, []
    if not _has_endpoint(endpoint_slices, None):
        return NO_ENDPOINTS, []
    return None, ads


def advertised(ips: Sequence[str], ads: Sequence[BGPAdvertisement]) -> list[Advertised]:
    """Each IP under each advertisement: the IP masked to aggregationLength(V6), localPref,
    communities (already sorted by the parser), the ``peers`` restriction."""
    out = []
    for ip in ips:
        parsed = parse_ip(ip)
        if parsed is None:
            continue
        family, value = parsed
        bits = 32 if family == 4 else 128
        for ad in ads:
            length = ad.aggregation_length if family == 4 else ad.aggregation_length_v6
            network = value & (((1 << length) - 1) << (bits - length))
            out.append(Advertised("%s/%d" % (format_ip(family, network), length), family, ad.local_pref,
                                  ad.communities, ad.peers))
    return out
