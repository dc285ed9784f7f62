# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGP-implementation specific rules (MetalLB's internal/config/validation.go)."""

from __future__ import annotations

from collections.abc import Mapping

from ..selectors import selector_matches
from .errors import ConfigError
from ..model import BFDProfile, BGPAdvertisement, Peer, Pool

# The speaker speaks BGP as MetalLB's FRR mode does, so everything that validates BGP objects (the
# controller, its webhooks, the planner, the modules) applies FRR mode's rules unless told otherwise;
# "native" is kept for checking a configuration meant for MetalLB's native mode. MetalLB runs no
# mode validation for any other value.
DEFAULT_BGP_TYPE = "frr"
FRR_BGP_TYPES = ("frr", "frr-k8s")
BGP_TYPES = ("native",) + FRR_BGP_TYPES

# (model attribute, CR field, MetalLB's wording in "peer %s has <wording> set on native bgp mode")
_FRR_ONLY = (("bfd_profile", "bfdProfile", "bfd-profile"), ("keepalive_time", "keepaliveTime", "keepalive-time"),
             ("vrf", "vrf", "vrf"), ("connect_time", "connectTime", "connect time"),
             ("graceful_restart", "enableGracefulRestart", "EnableGracefulRestart flag"),
             ("disable_mp", "disableMP", "disable MP flag"),
             ("dual_stack_address_family", "dualStackAddressFamily", "dualStackAddressFamily"),
             ("dynamic_asn", "dynamicASN", "dynamicASN"), ("interface", "interface", "interface"),
             ("local_asn", "localASN", "localASN"))


def native_errors(peers: tuple[Peer, ...], bfd: Mapping[str, BFDProfile], pools: Mapping[str, Pool],
                  bgp_ads: tuple[BGPAdvertisement, ...], explicit_keepalive: set[str]) -> list[ConfigError]:
    """DiscardFRROnly: what the native BGP speaker cannot do (MetalLB's messages)."""
    errors = []
    for peer in peers:
        for attr, field, wording in _FRR_ONLY:
            value = getattr(peer, attr)
            if attr == "keepalive_time":
                value = peer.name in explicit_keepalive
            if value:
                errors.append(ConfigError("BGPPeer", peer.name, "spec.%s" % field, "peer %s has %s set on native "
                                          "bgp mode" % (peer.address or peer.interface or peer.name, wording)))
    for name in sorted(bfd):
        errors.append(ConfigError("BFDProfile", name, "", "bfd profiles section set (BFD profiles are not "
                                  "supported by the native BGP implementation)"))
    reported = set()
    for ad in bgp_ads:
        for community in ad.communities:
            if community.large:
                errors.append(ConfigError("BGPAdvertisement", ad.name, "spec.communities",
                                          'native BGP mode only supports legacy communities, BGP advertisement '
                                          '"%s" has non legacy community "%s"' % (ad.name, community)))
        for pool_name in ad.pools:
            v6 = [seg for seg in pools[pool_name].segments if seg.family == 6]
            if v6 and pool_name not in reported:
                reported.add(pool_name)
                message = ('pool "%s" has ipv6 CIDR %s, native bgp mode does not support ipv6 '
                           "(advertised by BGPAdvertisement %s)" % (pool_name, v6[0].cidrs[0], ad.name))
                errors.append(ConfigError("IPAddressPool", pool_name, "spec.addresses", message))
    return errors


def frr_errors(peers: tuple[Peer, ...], nodes: Mapping[str, Mapping[str, str]]) -> list[ConfigError]:
    """DiscardNativeOnly: peers that can share a node must agree on routerID and myASN (per VRF)
    and must not be the same session twice."""
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
                errors.append(ConfigError("BGPPeer", b.name, "spec.routerID", "peer %s has RouterID different from "
                                          "%s, in FRR mode all RouterID must be equal (BGPPeers %s and %s can run "
                                          "on the same node)" % (b.router_id, a.router_id, a.name, b.name)))
            if (a.address or a.interface) == (b.address or b.interface) and a.vrf == b.vrf:
                errors.append(ConfigError("BGPPeer", b.name, "spec.peerAddress", "peer %s already exists, FRR mode "
                                          "doesn't support duplicate BGPPeers (BGPPeers %s and %s)"
                                          % (b.address or b.interface, a.name, b.name)))
            if a.vrf == b.vrf and a.my_asn != b.my_asn:
                errors.append(ConfigError("BGPPeer", b.name, "spec.myASN", "peer %s has myAsn different from %s, in "
                                          "FRR mode all myAsn must be equal for the same VRF (BGPPeers %s and %s)"
                                          % (b.address or b.interface, a.address or a.interface, a.name, b.name)))
    return errors
