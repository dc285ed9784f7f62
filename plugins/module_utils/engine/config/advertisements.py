# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""L2Advertisement and BGPAdvertisement → model objects (MetalLB's api/v1beta1 types and config.For)."""

from __future__ import annotations

from collections.abc import Mapping

from ..selectors import parse_selector, parse_selectors, selector_matches
from .communities import InvalidFormat, community_value
from .errors import TransientError
from .fields import Fields
from ..model import BGPAdvertisement, Community, L2Advertisement, Pool


def _selectors(f: Fields, name: str):
    try:
        return parse_selectors(f.spec.get(name), "spec.%s" % name)
    except ValueError as exc:
        field, _unused, message = str(exc).partition(": ")
        raise f.error(field, message) from exc


def _target_pools(f: Fields, pools: Mapping[str, Pool]) -> tuple[str, ...]:
    names = f.strings("ipAddressPools")
    f.no_duplicates("ipAddressPools", names)
    selectors = _selectors(f, "ipAddressPoolSelectors")
    if not names and not selectors:
        return tuple(sorted(pools))
    chosen = {n for n in names if n in pools}
    for selector in selectors:
        chosen.update(n for n, p in pools.items() if selector_matches(selector, dict(p.labels)))
    return tuple(sorted(chosen))


def l2_from_cr(obj: dict, pools: Mapping[str, Pool]) -> L2Advertisement:
    f = Fields("L2Advertisement", obj)
    target = _target_pools(f, pools)
    nodes = _selectors(f, "nodeSelectors")
    services = _selectors(f, "serviceSelectors")
    interfaces = f.strings("interfaces")
    preferred = []
    for index, item in enumerate(f.get("preferredNodeSelectors", list, [])):
        where = "spec.preferredNodeSelectors[%d]" % index
        if not isinstance(item, dict):
            raise f.error(where, "must be an object")
        weight = item.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int) or not 1 <= weight <= 100:
            raise f.error(where + ".weight", "must be an integer between 1 and 100")
        try:
            preferred.append((weight, parse_selector(item.get("preference") or {}, where + ".preference")))
        except ValueError as exc:
            field, _unused, message = str(exc).partition(": ")
            raise f.error(field, message) from exc
    return L2Advertisement(name=f.name, pools=target, node_selectors=nodes, interfaces=tuple(interfaces),
                           service_selectors=services, preferred_nodes=tuple(preferred))


def bgp_from_cr(obj: dict, pools: Mapping[str, Pool], communities: Mapping[str, Community]) -> BGPAdvertisement:
    f = Fields("BGPAdvertisement", obj)
    target = _target_pools(f, pools)
    raw_communities = f.strings("communities")
    f.no_duplicates("communities", raw_communities, "community")
    peers = f.strings("peers")
    f.no_duplicates("peers", peers)
    nodes = _selectors(f, "nodeSelectors")
    services = _selectors(f, "serviceSelectors")
    agg = f.get("aggregationLength", int)
    agg6 = f.get("aggregationLengthV6", int)
    if services:
        if agg is not None and agg != 32:
            raise f.error("spec.serviceSelectors", "serviceSelectors and aggregationLength are mutually exclusive, "
                          "both cannot be set in %s" % f.name)
        if agg6 is not None and agg6 != 128:
            raise f.error("spec.serviceSelectors", "serviceSelectors and aggregationLengthV6 are mutually "
                          "exclusive, both cannot be set in %s" % f.name)
    agg = 32 if agg is None else agg
    agg6 = 128 if agg6 is None else agg6
    if agg > 32 or agg < 1:
        raise f.error("spec.aggregationLength", 'invalid aggregation length %d for IPv4' % agg)
    if agg6 > 128 or agg6 < 0:
        raise f.error("spec.aggregationLengthV6", 'invalid aggregation length %d for IPv6' % agg6)
    local_pref = f.get("localPref", int, 0)
    if not 0 <= local_pref <= 4294967295:
        raise f.error("spec.localPref", "must be between 0 and 4294967295")
    values = []
    for index, text in enumerate(raw_communities):
        try:
            values.append(community_value(text, communities))
        except InvalidFormat as exc:  # maybe an alias whose Community object is not there yet
            raise TransientError(f.kind, f.name, "spec.communities[%d]" % index,
                                 '%s; invalid community "%s" in BGP advertisement' % (exc, text)) from exc
        except ValueError as exc:
            raise f.error("spec.communities[%d]" % index, '%s; invalid community "%s" in BGP advertisement'
                          % (exc, text)) from exc
    return BGPAdvertisement(name=f.name, pools=target, aggregation_length=agg, aggregation_length_v6=agg6,
                            local_pref=local_pref, communities=tuple(sorted(set(values), key=_community_order)),
                            node_selectors=nodes, peers=tuple(peers), service_selectors=services)


def _community_order(c: Community) -> tuple:
    """MetalLB's LessThan: legacy a:b compares as large (a<<16|b):0:0."""
    return ((c.values[0] << 16 | c.values[1], 0, 0) if not c.large else c.values, c.large)


def check_aggregation(adv: BGPAdvertisement, pool: Pool) -> str | None:
    """The aggregate may not be shorter than the widest CIDR piece of an entry (MetalLB config.For)."""
    for seg in pool.segments:
        limit = adv.aggregation_length if seg.family == 4 else adv.aggregation_length_v6
        if limit < seg.widest_prefix:
            return ("invalid aggregation length %d: prefix %d in this pool is more specific than the aggregation "
                    "length for addresses %s" % (adv.aggregation_length, seg.widest_prefix, seg.entry))
    return None


def compatible_local_pref(a: BGPAdvertisement, b: BGPAdvertisement, pool: Pool,
                          nodes: Mapping[str, Mapping[str, str]]) -> bool:
    """MetalLB's BGPAdvertisementsHaveCompatibleLocalPref."""
    if a.local_pref == b.local_pref:
        return True
    families = {seg.family for seg in pool.segments}
    lengths_differ = all((a.aggregation_length != b.aggregation_length) if fam == 4 else
                         (a.aggregation_length_v6 != b.aggregation_length_v6) for fam in families)
    if lengths_differ:
        return True
    if a.peers and b.peers and not set(a.peers) & set(b.peers):
        return True

    def selected(adv: BGPAdvertisement) -> set[str]:
        return {n for n, labels in nodes.items()
                if not adv.node_selectors or any(selector_matches(s, labels) for s in adv.node_selectors)}

    if nodes and not selected(a) & selected(b):
        return True
    return False


class LocalPrefs:
    """The BGP advertisements (without service selectors) accepted so far for one pool, by local
    preference. Equal preferences are always compatible, so only the other groups are compared:
    comparing every pair took seconds for 10,000 advertisements of one pool."""

    def __init__(self) -> None:
        self._groups: dict[int, list[tuple[int, BGPAdvertisement]]] = {}
        self._count = 0

    def conflict(self, ad: BGPAdvertisement, pool: Pool,
                 nodes: Mapping[str, Mapping[str, str]]) -> BGPAdvertisement | None:
        """The first advertisement (in the order added) whose local preference ``ad`` may not differ from."""
        found: tuple[int, BGPAdvertisement] | None = None
        for pref, group in self._groups.items():
            if pref == ad.local_pref:
                continue
            for order, other in group:
                if found is not None and order > found[0]:
                    break
                if not compatible_local_pref(ad, other, pool, nodes):
                    found = (order, other)
                    break
        return found[1] if found is not None else None

    def add(self, ad: BGPAdvertisement) -> None:
        self._groups.setdefault(ad.local_pref, []).append((self._count, ad))
        self._count += 1
