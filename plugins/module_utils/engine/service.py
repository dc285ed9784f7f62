# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller reads from a Service dict (MetalLB's controller/service.go).

Plain dict access only: this runs for every Service on every full pass.
"""

from __future__ import annotations

from .addresses import format_ip, parse_ip
from .allocator.allocator import DUAL, ServiceRef
from .go_quote import go_quote, go_quote_list
from .model import IPV4, IPV6
from .vocabulary import DEPRECATED_PREFIX as DEPRECATED
from .vocabulary import POOL_ANNOTATION, key_of
from .vocabulary import STABLE_PREFIX as STABLE
ADDRESS_POOL = "address-pool"
LOAD_BALANCER_IPS = "loadBalancerIPs"
ALLOW_SHARED_IP = "allow-shared-ip"
SINGLE_STACK = "SingleStack"
PREFER_DUAL_STACK = "PreferDualStack"
REQUIRE_DUAL_STACK = "RequireDualStack"
_EMPTY: dict = {}


_PORT_SETS: dict[tuple, tuple] = {}  # equal port lists share one tuple (memory at 100k Services)


def _mapping(value, empty=None):
    """``value`` if it is a dict (a list when ``empty`` is a tuple), else ``empty`` (default: an empty
    read-only mapping): hostile input never raises."""
    if empty is None:
        empty = _EMPTY
    if isinstance(empty, tuple):
        return value if isinstance(value, list) else empty
    return value if isinstance(value, dict) else empty


def _text(value) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _first_as_text(item: tuple) -> str:
    return _text(item[0])


def _port_number(value) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0


def _ports(raw) -> tuple:
    """[(protocol, port)] of ``spec.ports`` as a shared tuple; junk entries are skipped, junk ports are 0."""
    if not isinstance(raw, list):
        return ()
    got = tuple((_text(p.get("protocol")) or "TCP", _port_number(p.get("port") or 0))
                for p in raw if isinstance(p, dict))
    known = _PORT_SETS.get(got)
    if known is not None:
        return known
    if len(_PORT_SETS) < 4096:
        _PORT_SETS[got] = got
    return got


class FamilyError(ValueError):
    """ipfamily.ForAddresses failed; the text is MetalLB's."""


def annotation(annotations: dict, name: str) -> str:
    """MetalLB's valueForAnnotation: the stable key wins when present, even if empty."""
    value = annotations.get(STABLE + name)
    if value is None:
        value = annotations.get(DEPRECATED + name) or ""
    return value if isinstance(value, str) else str(value)


def family_of(ips: list[str]) -> int:
    """ipfamily.ForAddresses: 1 IP → its family; 2 of different families → dual."""
    if len(ips) == 1:
        parsed = parse_ip(ips[0])
        if parsed is None:
            raise FamilyError("IPFamilyForAddresses: Invalid address %s" % go_quote_list(ips))
        return parsed[0]
    if len(ips) == 2:
        first, second = parse_ip(ips[0]), parse_ip(ips[1])
        if first is None or second is None:
            raise FamilyError("IPFamilyForAddresses: Invalid address %s" % go_quote_list(ips))
        if first[0] == second[0]:
            raise FamilyError("IPFamilyForAddresses: same address family %s" % go_quote_list(ips))
        return DUAL
    raise FamilyError("IPFamilyForAddresses: invalid ips length %d %s" % (len(ips), go_quote_list(ips)))


def _ingress(obj: dict) -> list[str]:
    """The IPs of ``status.loadBalancer.ingress``, as text."""
    status = _mapping(_mapping(_mapping(obj.get("status")).get("loadBalancer")).get("ingress"), ())
    return [entry["ip"] if isinstance(entry["ip"], str) else str(entry["ip"])
            for entry in status if isinstance(entry, dict) and entry.get("ip")]


def handles(service_class, lb_class: str) -> bool:
    """MetalLB's filterByLoadBalancerClass: no class ⇒ ours iff we run without --lb-class."""
    if service_class is None:
        return lb_class == ""
    return service_class == lb_class


class BalancerFacts:
    """What a speaker reads of a Service (key, class, type, status IPs): the same reading as
    ``ServiceFacts``, without the fields only the controller needs (it runs for every Service on
    every membership change)."""

    __slots__ = ("key", "type", "lb_class", "ingress")

    def __init__(self, obj: dict) -> None:
        meta = _mapping(obj.get("metadata"))
        spec = _mapping(obj.get("spec"))
        self.key = key_of(_text(meta.get("namespace")), _text(meta.get("name")))
        self.type = _text(spec.get("type")) or "ClusterIP"
        self.lb_class = spec.get("loadBalancerClass")
        self.ingress = _ingress(obj)

    def handled(self, lb_class: str) -> bool:
        return handles(self.lb_class, lb_class)


class ServiceFacts:
    """The fields of one Service the engine decides from."""

    __slots__ = ("obj", "key", "namespace", "name", "type", "lb_class", "annotations", "labels", "spec",
                 "cluster_ips", "policy", "primary_family", "ports", "sharing_key", "backend_key",
                 "ingress", "pool_annotation")

    def __init__(self, obj: dict) -> None:
        meta = _mapping(obj.get("metadata"))
        spec = _mapping(obj.get("spec"))
        self.obj = obj
        self.spec = spec
        self.namespace = _text(meta.get("namespace"))
        self.name = _text(meta.get("name"))
        self.key = key_of(self.namespace, self.name)
        self.type = _text(spec.get("type")) or "ClusterIP"
        self.lb_class = spec.get("loadBalancerClass")
        self.annotations = _mapping(meta.get("annotations"))
        self.labels = _mapping(meta.get("labels"))
        cluster_ips = spec.get("clusterIPs")
        if not cluster_ips or not isinstance(cluster_ips, list):
            single = spec.get("clusterIP")
            cluster_ips = [single] if single and isinstance(single, str) else []
        elif not all(isinstance(ip, str) for ip in cluster_ips):
            cluster_ips = [ip for ip in cluster_ips if isinstance(ip, str)]
        self.cluster_ips = cluster_ips  # the Service's own list when clean: never mutated
        self.policy = _text(spec.get("ipFamilyPolicy")) or SINGLE_STACK
        families = spec.get("ipFamilies")
        self.primary_family = IPV6 if isinstance(families, list) and families and families[0] == "IPv6" else IPV4
        self.ports = _ports(spec.get("ports"))
        self.sharing_key = self._sharing_key()
        if spec.get("externalTrafficPolicy") == "Local":
            selector = _mapping(spec.get("selector"))
            self.backend_key = ",".join("%s=%s" % kv for kv in sorted(selector.items(), key=_first_as_text))
        else:
            self.backend_key = ""
        self.ingress = _ingress(obj)
        self.pool_annotation = self.annotations.get(POOL_ANNOTATION)

    def _sharing_key(self) -> str:
        return annotation(self.annotations, ALLOW_SHARED_IP)

    def handled(self, lb_class: str) -> bool:
        return handles(self.lb_class, lb_class)

    def ref(self) -> ServiceRef:
        return ServiceRef(self.namespace, self.labels, self.policy, self.primary_family)

    def family(self) -> int:
        """ipfamily.ForService (raises FamilyError)."""
        return family_of(self.cluster_ips or [self.spec.get("clusterIP") or ""])

    def desired_pool(self) -> str:
        return annotation(self.annotations, ADDRESS_POOL)

    def desired_ips(self) -> tuple[list[str], int | None]:
        """getDesiredLbIPs: requested IPs (canonical) and their family; raises ValueError."""
        requested = annotation(self.annotations, LOAD_BALANCER_IPS)
        spec_ip = self.spec.get("loadBalancerIP") or ""
        if not requested and not spec_ip:
            return [], None
        if requested and spec_ip:
            raise ValueError("service can not have both %s and svc.Spec.LoadBalancerIP"
                             % (STABLE + LOAD_BALANCER_IPS))
        if requested:
            ips = []
            for part in requested.split(","):
                parsed = parse_ip(part.strip())
                if parsed is None:
                    raise ValueError("invalid %s: %s" % (STABLE + LOAD_BALANCER_IPS, go_quote(requested)))
                ips.append(format_ip(*parsed))
            return ips, family_of(ips)
        parsed = parse_ip(spec_ip)
        if parsed is None:
            raise ValueError("invalid spec.loadBalancerIP %s" % go_quote(spec_ip))
        return [format_ip(*parsed)], parsed[0]

    def deprecated_annotations(self) -> list[str]:
        return sorted(k for k in self.annotations if isinstance(k, str) and k.startswith(DEPRECATED))
