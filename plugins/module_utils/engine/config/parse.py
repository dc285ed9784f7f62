# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects → one validated Config (MetalLB's ``config.For``, internal/config/config.go).

Never raises: every problem becomes a ConfigError naming kind, object and field. Unlike
MetalLB, which stops at the first error, all independent errors are reported at once.
Deterministic: objects of a kind are processed in name order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .advertisements import LocalPrefs, bgp_from_cr, check_aggregation, l2_from_cr
from .communities import communities_from_crs
from ..go_quote import go_quote
from .duplicates import EqualObjects
from .errors import ConfigError, TransientError
from .legacy import LegacyConfigError, convert_configmap
from ..addresses import parse_entry
from ..model import Config, Pool, Segment
from .modes import DEFAULT_BGP_TYPE, FRR_BGP_TYPES, frr_errors, native_errors
from .network_checks import pool_clashes
from .object_meta import meta_problem, object_name, type_name
from .peers import bfd_from_cr, peer_from_cr
from .pools import pool_from_cr
from ..vocabulary import CONFIG_KINDS, GROUP, key_of

# The versions MetalLB serves; its status kinds are known too, but are not configuration.
VERSIONS = {"IPAddressPool": ("v1beta1",), "L2Advertisement": ("v1beta1",), "BGPAdvertisement": ("v1beta1",),
            "BGPPeer": ("v1beta1", "v1beta2"), "Community": ("v1beta1",), "BFDProfile": ("v1beta1",),
            "ServiceL2Status": ("v1beta1",), "ServiceBGPStatus": ("v1beta1",), "ConfigurationState": ("v1beta1",)}
OTHER_KINDS = ("Namespace", "Node", "Secret", "ConfigMap")
# Kinds whose parser reports a duplicate name in MetalLB's own words.
_OWN_DUPLICATE_CHECK = ("IPAddressPool", "BFDProfile")


@dataclass
class ParseResult:
    config: Config | None
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Names that refer to no object (an advertisement's pool that does not exist, yet). Not an error, as
    # in MetalLB: objects may be created in any order, and such an advertisement simply selects nothing.
    unresolved: list[ConfigError] = field(default_factory=list)
    config_objects: int = 0  # metallb.io configuration objects read (0: nothing to validate)


def _name(obj: dict) -> str:
    return object_name(obj)


def _labels(obj: dict) -> dict:
    meta = obj.get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return dict(labels) if isinstance(labels, dict) else {}


def _group_warning(obj: dict, kind: Any, api: str) -> str | None:
    """A warning for objects of MetalLB's groups that are not read: the user meant something."""
    group, _unused, version = api.partition("/")
    if group == "metallb.universe.tf":
        return ('%s "%s": apiVersion "%s" is the API group of MetalLB before v0.13, which nothing reads any '
                'more: ignored (use metallb.io; metal-lb convert turns the legacy ConfigMap into it)'
                % (_text(kind), _name(obj), api))
    if group != "metallb.io":
        return None
    if kind not in VERSIONS:
        return 'kind %s "%s": not a metallb.io kind: ignored' % (go_quote(_text(kind)), _name(obj))
    if version not in VERSIONS[kind]:
        return ('%s "%s": apiVersion "%s" is not served (%s): ignored'
                % (kind, _name(obj), api, ", ".join("metallb.io/" + v for v in VERSIONS[kind])))
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else type_name(value)


def _collect(objects: Iterable, namespace: str, warnings: list[str],
             errors: list[ConfigError] | None = None) -> dict[str, list[dict]]:
    kinds: dict[str, list[dict]] = {k: [] for k in CONFIG_KINDS + OTHER_KINDS}
    seen: dict[tuple[str, str, str], int] = {}
    errors = [] if errors is None else errors
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        kind = obj.get("kind")
        api = obj.get("apiVersion")
        api = api if isinstance(api, str) else ""
        warning = _group_warning(obj, kind, api)
        if warning:
            warnings.append(warning)
            continue
        if kind not in kinds:
            continue
        if kind in CONFIG_KINDS and not api.startswith(GROUP + "/"):
            continue
        problem = meta_problem(obj, name_required=kind not in _OWN_DUPLICATE_CHECK)
        if problem:
            errors.append(ConfigError(kind, _name(obj), problem[0], problem[1]))
            continue
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        obj_ns = meta.get("namespace")
        if kind in CONFIG_KINDS + ("ConfigMap", "Secret") and obj_ns and obj_ns != namespace:
            if kind in CONFIG_KINDS:
                warnings.append('%s "%s" is in namespace "%s", not "%s": ignored'
                                % (kind, _name(obj), obj_ns, namespace))
            continue
        identity = (kind, obj_ns or "", _name(obj))
        if identity in seen and kind not in _OWN_DUPLICATE_CHECK and _name(obj):
            if kind in CONFIG_KINDS:
                if obj == kinds[kind][seen[identity]]:
                    kinds[kind].append(obj)  # identical copies: MetalLB's own rules for each kind apply
                    continue
                errors.append(ConfigError(kind, _name(obj), "metadata.name", "duplicate definition of %s "
                                          '"%s": two different objects have this name' % (kind, _name(obj))))
                continue
            warnings.append('%s "%s" is listed more than once: the last one is used' % (kind, _name(obj)))
            kinds[kind][seen[identity]] = obj
            continue
        seen[identity] = len(kinds[kind])
        kinds[kind].append(obj)
    for items in kinds.values():
        items.sort(key=_name)
    return kinds


def _attempt(errors: list[ConfigError], kind: str, obj: dict, func, *args):
    try:
        return func(obj, *args)
    except ConfigError as exc:
        errors.append(exc)
    except Exception as exc:  # noqa: BLE001 - input no check foresaw: this object is invalid, the run goes on
        errors.append(ConfigError(kind, _name(obj), "", "invalid object: %s" % _one_line(exc)))
    return None


def _one_line(exc: BaseException) -> str:
    text = "%s: %s" % (type(exc).__name__, exc)
    return go_quote(text[:300])[1:-1]


def _overlapping_pieces(later: Segment, earlier: Segment) -> tuple[str, str]:
    """The first overlapping pair of CIDRs the two entries summarise to: MetalLB names CIDRs, not entries
    (``198.51.100.40/24`` is reported as ``198.51.100.0/24``, a range as the piece that overlaps)."""
    for mine in later.cidrs:
        a = parse_entry(mine)
        for theirs in earlier.cidrs:
            b = parse_entry(theirs)
            if a.first <= b.last and b.first <= a.last:
                return mine, theirs
    return later.entry, earlier.entry


def _as_written(seg: Segment) -> str:
    """An IPv4-mapped IPv6 entry is checked as the IPv4 addresses it names: say what was written."""
    return ' (written "%s")' % seg.entry if seg.family == 4 and ":" in seg.entry else ""


def _overlaps(pools: list[Pool]) -> list[ConfigError]:
    """No overlap anywhere, including inside one pool (sorted sweep, O(n log n))."""
    items = sorted(((seg.family, seg.first, seg.last, (order, index), pool, seg)
                    for order, pool in enumerate(pools) for index, seg in enumerate(pool.segments)),
                   key=lambda t: (t[0], t[1], t[3]))
    errors = []
    widest = None  # the item reaching furthest so far in this family
    for item in items:
        if widest is not None and widest[0] == item[0] and item[1] <= widest[2]:
            earlier, later = (widest, item) if widest[3] < item[3] else (item, widest)
            mine, theirs = _overlapping_pieces(later[5], earlier[5])
            errors.append(ConfigError("IPAddressPool", later[4].name, "spec.addresses[%d]" % later[3][1],
                                      'CIDR "%s"%s in pool "%s" overlaps with already defined CIDR "%s"%s'
                                      % (mine, _as_written(later[5]), later[4].name, theirs,
                                         _as_written(earlier[5]))))
        if widest is None or widest[0] != item[0] or item[2] > widest[2]:
            widest = item
    return errors


def _bfd_echo_on_ipv6(pools: dict[str, Pool], bgp_ads: tuple, peers: tuple, bfd: dict) -> list[ConfigError]:
    """MetalLB's validateConfig: BFD echo mode cannot protect the sessions announcing IPv6 pools."""
    errors = []
    echo = {p.name for p in peers if p.bfd_profile in bfd and bfd[p.bfd_profile].echo_mode}
    if not echo:
        return errors
    for ad in bgp_ads:
        for pool_name in ad.pools:
            if not any(seg.family == 6 for seg in pools[pool_name].segments):
                continue
            for peer in sorted(echo if not ad.peers else echo & set(ad.peers)):
                errors.append(ConfigError("BGPAdvertisement", ad.name, "spec.peers", "pool %s has bgpadvertisement "
                                          "%s which references peer %s which has bfd echo enabled, which is not "
                                          "possible" % (pool_name, ad.name, peer)))
    return errors


def _unresolved_pools(kinds: dict[str, list[dict]], pools: Mapping[str, Pool]) -> list[ConfigError]:
    found = []
    for kind in ("L2Advertisement", "BGPAdvertisement"):
        for obj in kinds[kind]:
            spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            names = spec.get("ipAddressPools")
            for index, name in enumerate(names if isinstance(names, list) else []):
                if isinstance(name, str) and name not in pools:
                    found.append(ConfigError(kind, _name(obj), "spec.ipAddressPools[%d]" % index,
                                             'no IPAddressPool "%s": the advertisement does not apply to it until '
                                             'it exists' % name))
    return found


def parse_config(objects: Iterable[Mapping], *, namespace: str = "metallb-system", bgp_type: str = DEFAULT_BGP_TYPE,
                 service_cidrs: Sequence[str] = (), gateways: Sequence[str] = (),
                 allow_node_ip_pools: bool = False, kinds: Collection[str] = CONFIG_KINDS,
                 secrets_read: bool = True) -> ParseResult:
    """``kinds``: the configuration kinds to read (the others count as absent: the controller
    allocates from pools alone). ``secrets_read`` False: the reader has no Secrets, so a
    BGPPeer's passwordSecret is not looked up (nor reported missing).

    Never raises: a failure no check foresaw is an invalid configuration (the daemons keep the last
    valid one and report it), not a crash of their loop."""
    try:
        result = _parse_config(objects, namespace, bgp_type, service_cidrs, gateways, allow_node_ip_pools,
                               frozenset(kinds), secrets_read)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        return ParseResult(None, [ConfigError("configuration", "", "", "cannot be read: %s" % _one_line(exc))])
    if not result.config_objects:
        result.warnings.append("no metallb.io configuration objects (and no legacy ConfigMap \"config\") "
                               "in the input: nothing to validate")
    return result


def _parse_config(objects: Iterable[Mapping], namespace: str, bgp_type: str, service_cidrs: Sequence[str],
                  gateways: Sequence[str], allow_node_ip_pools: bool, wanted: frozenset,
                  secrets_read: bool) -> ParseResult:
    warnings: list[str] = []
    errors: list[ConfigError] = []
    kinds = _collect(objects, namespace, warnings, errors)
    count = sum(len(kinds[k]) for k in CONFIG_KINDS) + sum(
        1 for e in errors if e.kind in CONFIG_KINDS)
    legacy = [cm for cm in kinds["ConfigMap"] if _name(cm) == "config"]
    if legacy:
        if any(kinds[k] for k in CONFIG_KINDS):
            warnings.append('legacy ConfigMap "config" ignored: metallb.io objects are present')
        else:
            try:
                converted = convert_configmap(legacy[0], namespace)
            except LegacyConfigError as exc:
                return ParseResult(None, [ConfigError("ConfigMap", "config", exc.field, exc.message)], warnings,
                                   config_objects=1)
            warnings.append('configuration read from the legacy ConfigMap "config" (metal-lb convert turns it '
                            'into metallb.io objects)')
            kinds.update(_collect(converted, namespace, [], errors))
            count += 1
    for kind in CONFIG_KINDS:
        if kind not in wanted:
            kinds[kind] = []
    namespaces = {_name(ns): _labels(ns) for ns in kinds["Namespace"]}
    nodes = {_name(n): _labels(n) for n in kinds["Node"]}
    secrets = {key_of(namespace, _name(s)): s for s in kinds["Secret"]} if secrets_read else None

    bfd = {}
    for obj in kinds["BFDProfile"]:
        profile = _attempt(errors, "BFDProfile", obj, bfd_from_cr)
        if profile is not None and profile.name in bfd:
            errors.append(ConfigError("BFDProfile", profile.name, "metadata.name",
                                      "found duplicate bfd profile name %s" % profile.name))
        elif profile is not None:
            bfd[profile.name] = profile
    communities = {}
    try:
        communities = communities_from_crs(kinds["Community"])
    except ConfigError as exc:
        errors.append(exc)
    peers = []
    explicit_keepalive = set()
    for obj in kinds["BGPPeer"]:
        peer = _attempt(errors, "BGPPeer", obj, peer_from_cr, secrets, namespace)
        if peer is not None:
            peers.append(peer)
            if isinstance(obj.get("spec"), dict) and obj["spec"].get("keepaliveTime") not in (None, "", "0s"):
                explicit_keepalive.add(peer.name)
            if peer.bfd_profile and peer.bfd_profile not in bfd and bgp_type != "native":
                errors.append(TransientError("BGPPeer", peer.name, "spec.bfdProfile",
                                             "peer %s referencing non existing bfd profile %s"
                                             % (peer.name, peer.bfd_profile)))
    pool_list: list[Pool] = []
    seen: set[str] = set()
    for obj in kinds["IPAddressPool"]:
        pool = _attempt(errors, "IPAddressPool", obj, pool_from_cr, namespaces)
        if pool is None:
            continue
        if pool.name in seen:
            errors.append(ConfigError("IPAddressPool", pool.name, "metadata.name",
                                      'duplicate definition of pool "%s"' % pool.name))
            continue
        seen.add(pool.name)
        pool_list.append(pool)
    errors.extend(_overlaps(pool_list))
    pools = {p.name: p for p in pool_list}
    try:
        errors.extend(pool_clashes(pools, kinds["Node"], service_cidrs, gateways, allow_node_ip_pools))
    except ValueError as exc:
        errors.append(ConfigError("option", "service_cidrs", "", str(exc)))

    l2_ads = []
    for obj in kinds["L2Advertisement"]:
        ad = _attempt(errors, "L2Advertisement", obj, l2_from_cr, pools)
        if ad is not None:
            l2_ads.append(ad)
    bgp_ads = []
    per_pool: dict[str, LocalPrefs] = {}
    raw_seen = EqualObjects()
    for obj in kinds["BGPAdvertisement"]:
        first = raw_seen.add(obj)
        if first is not None:
            errors.append(ConfigError("BGPAdvertisement", _name(obj), "", "duplicate definition of "
                                      "bgpadvertisements. advertisement %d and %d are equal"
                                      % (first, len(raw_seen) + 1)))
            continue
        ad = _attempt(errors, "BGPAdvertisement", obj, bgp_from_cr, pools, communities)
        if ad is None:
            continue
        ok = True
        for pool_name in ad.pools:
            message = check_aggregation(ad, pools[pool_name])
            if message is None and not ad.service_selectors and pool_name in per_pool:
                other = per_pool[pool_name].conflict(ad, pools[pool_name], nodes)
                if other is not None:
                    message = ("invalid local preference %d: local preferernce %d was already set for the same "
                               "type of BGP update. Check existing BGP advertisements with common pools and "
                               "aggregation lengths" % (ad.local_pref, other.local_pref))
            if message:
                errors.append(ConfigError("BGPAdvertisement", ad.name, "spec", message))
                ok = False
                break
        if ok:
            bgp_ads.append(ad)
            if not ad.service_selectors:
                for pool_name in ad.pools:
                    per_pool.setdefault(pool_name, LocalPrefs()).add(ad)

    unresolved = _unresolved_pools(kinds, pools)
    errors.extend(_bfd_echo_on_ipv6(pools, tuple(bgp_ads), tuple(peers), bfd))
    if bgp_type == "native":
        errors.extend(native_errors(tuple(peers), bfd, pools, tuple(bgp_ads), explicit_keepalive))
    elif bgp_type in FRR_BGP_TYPES:
        errors.extend(frr_errors(tuple(peers), nodes))
    if errors:
        return ParseResult(None, errors, warnings, unresolved, config_objects=count)
    by_namespace: dict[str, list[str]] = {}
    by_selector = []
    for name in sorted(pools):
        allocation = pools[name].service_allocation
        if allocation is None:
            continue
        for ns in allocation.namespaces:
            by_namespace.setdefault(ns, []).append(name)
        if allocation.service_selectors:
            by_selector.append(name)
    config = Config(pools=pools, l2_advertisements=tuple(l2_ads), bgp_advertisements=tuple(bgp_ads),
                    peers=tuple(peers), bfd_profiles=bfd, communities=communities,
                    by_namespace={k: tuple(v) for k, v in sorted(by_namespace.items())},
                    by_service_selector=tuple(by_selector))
    return ParseResult(config, [], warnings, unresolved, config_objects=count)
