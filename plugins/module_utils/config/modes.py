# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""BGP-implementation specific rules (metallb-behavior §1.9)."""

from __future__ import annotations

from collections.abc import Mapping

from ..selectors import selector_matches
from .errors import ConfigError
from .model import BFDProfile, BGPAdvertisement, Peer, Pool

_FRR_ONLY = (("bfd_profile", "bfdProfile"), ("keepalive_time", "keepaliveTime"), ("vrf", "vrf"),
             ("connect_time", "connectTime"), ("graceful_restart", "enableGracefulRestart"),
             ("disable_mp", "disableMP"), ("dual_stack_address_family", "dualStackAddressFamily"),
             ("dynamic_asn", "dynamicASN"), ("interface", "interface"), ("local_asn", "localASN"))


def native_errors(peers: tuple[Peer, ...], bfd: Mapping[str, BFDProfile], pools: Mapping[str, Pool],
                  bgp_ads: tuple[BGPAdvertisement, ...], explicit_keepalive: set[str]) -> list[ConfigError]:
    """DiscardFRROnly: what the native BGP speaker cannot do."""
    errors = []
    for peer in peers:
        for attr, field in _FRR_ONLY:
            value = getattr(peer, attr)
            if attr == "keepalive_time":
                value = peer.name in explicit_keepalive
            if value:
                errors.append(ConfigError("BGPPeer", peer.name, "spec.%s" % field,
                                          "%s is not supported by the native BGP implementation" % field))
    for name in sorted(bfd):
        errors.append(ConfigError("BFDProfile", name, "", "bfd profiles are not supported by the native BGP "
                                  "implementation"))
    for ad in bgp_ads:
        for community in ad.communities:
            if community.large:
                errors.append(ConfigError("BGPAdvertisement", ad.name, "spec.communities",
                                          "native bgp mode does not support large communities (%s)" % community))
        for pool_name in ad.pools:
            if any(seg.family == 6 for seg in pools[pool_name].segments):
                errors.append(ConfigError("IPAddressPool", pool_name, "spec.addresses",
                                          "native bgp mode does not support ipv6 (advertised by BGPAdvertisement "
                                          "%s)" % ad.name))
    return errors


def frr_errors(peers: tuple[Peer, ...], nodes: Mapping[str, Mapping[str, str]]) -> list[ConfigError]:
    """DiscardNativeOnly: peers that can share a node must agree on routerID and myASN (per VRF)."""
    errors = []

    def share_node(a: Peer, b: Peer) -> bool:
        if not nodes:
            return True
        for labels in nodes.values():
            in_a = not a.node_selectors or any(selector_matches(s, labels) for s in a.node_selectors)
            in_b = not b.node_selectors or any(selector_matches(s, labels) for s in b.node_selectors)
            if in_a and in_b:
                return True
        return False

    for i, a in enumerate(peers):
        for b in peers[i + 1:]:
            if not share_node(a, b):
                continue
            if a.router_id != b.router_id:
                errors.append(ConfigError("BGPPeer", b.name, "spec.routerID", "peers %s and %s can run on the same "
                                          "node with different routerID" % (a.name, b.name)))
            if (a.address or a.interface) == (b.address or b.interface) and a.vrf == b.vrf:
                errors.append(ConfigError("BGPPeer", b.name, "spec.peerAddress", "peers %s and %s have the same "
                                          "address %s" % (a.name, b.name, a.address or a.interface)))
            if a.vrf == b.vrf and a.my_asn != b.my_asn:
                errors.append(ConfigError("BGPPeer", b.name, "spec.myASN", "peers %s and %s can run on the same node "
                                          "with different myASN in the same vrf" % (a.name, b.name)))
    return errors
