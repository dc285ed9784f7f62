# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""What the real API server does to a Service on create/update: defaults, validation of the fields a
load balancer cares about, cluster IP and node port allocation.

Follows k8s ``pkg/registry/core/service/storage/alloc.go`` (``initIPFamilyFields``: ipFamilyPolicy
defaults to SingleStack, headless selector-less services to RequireDualStack; ipFamilies default to
the family of the first ``--service-cidr``; requested clusterIPs are kept and checked against the
ranges and the allocated set), ``pkg/apis/core/v1/defaults.go`` (type, sessionAffinity, protocol,
targetPort, externalTrafficPolicy, internalTrafficPolicy, allocateLoadBalancerNodePorts) and the
update rules a controller can observe: clusterIPs and nodePorts the update omits are kept, clusterIP
is immutable, node ports are released when the type no longer needs them, loadBalancerClass is
immutable while the type stays LoadBalancer.

The caller holds the store lock: allocation happens after every check passed, right before commit.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from .errors import FieldError, Invalid, duplicate, forbidden, invalid, not_supported, required

NODE_PORT_RANGE = (30000, 32767)
TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
POLICIES = ["PreferDualStack", "RequireDualStack", "SingleStack"]
_FAMILY = {4: "IPv4", 6: "IPv6"}


def _family(ip: str) -> str | None:
    try:
        return _FAMILY[ipaddress.ip_address(ip).version]
    except ValueError:
        return None


def _needs_node_ports(spec: dict) -> bool:
    if spec.get("type") == "NodePort":
        return True
    return spec.get("type") == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


class ServiceAllocator:
    """Cluster IP ranges (one per family) and the node port range, with what is allocated."""

    def __init__(self, cidrs: list[str]) -> None:
        self.ranges: dict[str, ipaddress._BaseNetwork] = {}
        for text in cidrs:
            network = ipaddress.ip_network(text.strip(), strict=False)
            family = _FAMILY[network.version]
            if family in self.ranges:
                raise ValueError(f"--service-cidr: more than one {family} range ({text})")
            self.ranges[family] = network
        if not self.ranges:
            raise ValueError("--service-cidr: at least one range is required")
        self.default_family = next(iter(self.ranges))
        self.ips: dict[str, set[str]] = {f: set() for f in self.ranges}
        self.ports: set[int] = set()
        self._random = random.Random()

    @property
    def dual_stack(self) -> bool:
        return len(self.ranges) == 2

    # ------------------------------------------------------------------ bookkeeping
    def reserve_existing(self, svc: dict) -> None:
        """Rebuild the allocation tables from a stored Service (start-up with --state)."""
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or ():
            family = _family(ip)
            if family in self.ips:
                self.ips[family].add(str(ipaddress.ip_address(ip)))
        for port in spec.get("ports") or ():
            if port.get("nodePort"):
                self.ports.add(port["nodePort"])
        if spec.get("healthCheckNodePort"):
            self.ports.add(spec["healthCheckNodePort"])

    def release(self, svc: dict) -> None:
        spec = svc.get("spec") or {}
        for ip in spec.get("clusterIPs") or ():
            family = _family(ip)
            if family in self.ips:
                self.ips[family].discard(str(ipaddress.ip_address(ip)))
        for port in spec.get("ports") or ():
            self.ports.discard(port.get("nodePort"))
        self.ports.discard(spec.get("healthCheckNodePort"))

    def first_ip(self) -> str:
        network = self.ranges[self.default_family]
        return str(network.network_address + 1)

    def _next_ip(self, family: str, taken: set[str]) -> str:
        network = self.ranges[family]
        size = network.num_addresses
        low, high = 1, size - (2 if network.version == 4 else 1)
        if high < low:
            raise Invalid("", "Service", "", [invalid("spec.clusterIPs", [], "range is full")])
        start = self._random.randint(low, high)
        for step in range(high - low + 1):
            offset = low + (start - low + step) % (high - low + 1)
            candidate = str(network.network_address + offset)
            if candidate not in self.ips[family] and candidate not in taken:
                return candidate
        raise ServiceIPsFull(family, network)

    def _next_port(self, taken: set[int]) -> int:
        low, high = NODE_PORT_RANGE
        start = self._random.randint(low, high)
        for step in range(high - low + 1):
            port = low + (start - low + step) % (high - low + 1)
            if port not in self.ports and port not in taken:
                return port
        raise ServiceIPsFull("nodePort", None)

    # ------------------------------------------------------------------ create / update
    def prepare(self, svc: dict, old: dict | None, dry_run: bool) -> None:
        """Default, validate and allocate (in place). Raises Invalid; allocates nothing on error."""
        name = svc["metadata"].get("name") or ""
        spec = svc.setdefault("spec", {})
        old_spec = (old or {}).get("spec") or {}
        errors: list[FieldError] = []
        self._defaults(spec)
        if old is not None:
            self._keep_allocated(spec, old_spec)
        self._validate(spec, old_spec if old is not None else None, errors)
        if errors:
            raise Invalid("", "Service", name, errors)
        self._families(spec, old_spec if old is not None else None, errors)
        if errors:
            raise Invalid("", "Service", name, errors)
        new_ips, new_ports = self._allocate(spec, old_spec if old is not None else None, errors)
        if errors:
            raise Invalid("", "Service", name, errors)
        if old is not None:
            freed = {
                ip for ip in old_spec.get("clusterIPs") or () if ip not in (spec.get("clusterIPs") or ())
            }
            freed_ports = {p.get("nodePort") for p in old_spec.get("ports") or ()} | {
                old_spec.get("healthCheckNodePort")
            }
            freed_ports -= {p.get("nodePort") for p in spec.get("ports") or ()} | {
                spec.get("healthCheckNodePort")
            }
        else:
            freed, freed_ports = set(), set()
        if dry_run:
            return
        for ip in new_ips:
            self.ips[_family(ip)].add(ip)
        self.ports.update(new_ports)
        for ip in freed:
            family = _family(ip)
            if family in self.ips:
                self.ips[family].discard(ip)
        for port in freed_ports:
            self.ports.discard(port)

    @staticmethod
    def _defaults(spec: dict) -> None:
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("sessionAffinity") == "ClientIP":
            config = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
            config.setdefault("timeoutSeconds", 10800)
        for port in spec.get("ports") or ():
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if port.get("targetPort") in (None, 0, "") and isinstance(port.get("port"), int):
                    port["targetPort"] = port["port"]
        if spec["type"] in ("NodePort", "LoadBalancer"):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)

    @staticmethod
    def _keep_allocated(spec: dict, old_spec: dict) -> None:
        """An update that omits allocated values keeps them (k8s ``patchAllocatedValues``)."""
        needs_ip = spec.get("type") != "ExternalName"
        if needs_ip and old_spec.get("type") != "ExternalName":
            if not spec.get("clusterIP") and not spec.get("clusterIPs"):
                if old_spec.get("clusterIP"):
                    spec["clusterIP"] = old_spec["clusterIP"]
                if old_spec.get("clusterIPs"):
                    spec["clusterIPs"] = list(old_spec["clusterIPs"])
            elif spec.get("clusterIP") == old_spec.get("clusterIP") and not spec.get("clusterIPs"):
                spec["clusterIPs"] = list(old_spec.get("clusterIPs") or [])
            if "ipFamilies" not in spec and old_spec.get("ipFamilies"):
                spec["ipFamilies"] = list(old_spec["ipFamilies"])
        old_types_ports = old_spec.get("type") in ("NodePort", "LoadBalancer")
        if _needs_node_ports(spec) and old_types_ports:
            old_ports = {
                (p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                for p in old_spec.get("ports") or ()
            }
            for port in spec.get("ports") or ():
                if isinstance(port, dict) and not port.get("nodePort"):
                    kept = old_ports.get((port.get("port"), port.get("protocol", "TCP")))
                    if kept:
                        port["nodePort"] = kept
        elif old_types_ports and not _needs_node_ports(spec):
            # type changed away from NodePort/LoadBalancer: node ports the user did not change go away
            old_ports = {p.get("nodePort") for p in old_spec.get("ports") or ()}
            for port in spec.get("ports") or ():
                if isinstance(port, dict) and port.get("nodePort") in old_ports:
                    port.pop("nodePort", None)
        if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
            if not spec.get("healthCheckNodePort") and old_spec.get("healthCheckNodePort"):
                spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]
        elif spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
            spec.pop("healthCheckNodePort", None)
        if spec.get("type") != "LoadBalancer" and old_spec.get("type") == "LoadBalancer":
            if spec.get("loadBalancerClass") == old_spec.get("loadBalancerClass"):
                spec.pop("loadBalancerClass", None)
            if spec.get("allocateLoadBalancerNodePorts") == old_spec.get("allocateLoadBalancerNodePorts"):
                spec.pop("allocateLoadBalancerNodePorts", None)
        if spec.get("type") not in ("NodePort", "LoadBalancer") and old_types_ports:
            if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
                spec.pop("externalTrafficPolicy", None)

    def _validate(self, spec: dict, old_spec: dict | None, errors: list[FieldError]) -> None:
        type_ = spec.get("type")
        if type_ not in TYPES:
            errors.append(not_supported("spec.type", type_, TYPES))
            return
        ports = spec.get("ports")
        headless = spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [None])[0] == "None"
        if type_ == "ExternalName":
            if not spec.get("externalName"):
                errors.append(required("spec.externalName"))
        elif not ports and not headless:
            errors.append(required("spec.ports"))
        names = set()
        for i, port in enumerate(ports or ()):
            path = f"spec.ports[{i}]"
            if not isinstance(port, dict):
                errors.append(invalid(path, port, "must be an object"))
                continue
            number = port.get("port")
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
                errors.append(invalid(path + ".port", number, "must be between 1 and 65535, inclusive"))
            if port.get("protocol") not in ("TCP", "UDP", "SCTP"):
                errors.append(not_supported(path + ".protocol", port.get("protocol"), ["SCTP", "TCP", "UDP"]))
            if len(ports) > 1 and not port.get("name"):
                errors.append(required(path + ".name"))
            elif port.get("name") in names:
                errors.append(duplicate(path + ".name", port.get("name")))
            names.add(port.get("name"))
            node_port = port.get("nodePort")
            if node_port and type_ in ("ClusterIP", "ExternalName"):
                errors.append(forbidden(path + ".nodePort", f"may not be used when `type` is '{type_}'"))
            elif node_port is not None and (not isinstance(node_port, int) or not 0 <= node_port <= 65535):
                errors.append(
                    invalid(path + ".nodePort", node_port, "must be between 1 and 65535, inclusive")
                )
        if spec.get("loadBalancerClass") and type_ != "LoadBalancer":
            errors.append(
                forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
            )
        if (
            old_spec is not None
            and type_ == "LoadBalancer"
            and old_spec.get("type") == "LoadBalancer"
            and spec.get("loadBalancerClass") != old_spec.get("loadBalancerClass")
        ):
            errors.append(
                invalid("spec.loadBalancerClass", spec.get("loadBalancerClass"), "may not change once set")
            )
        lb_ip = spec.get("loadBalancerIP")
        if lb_ip and type_ == "LoadBalancer" and _family(lb_ip) is None:
            errors.append(
                invalid(
                    "spec.loadBalancerIP",
                    lb_ip,
                    "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                )
            )
        for key in ("externalTrafficPolicy", "internalTrafficPolicy"):
            if key in spec and spec[key] not in ("Cluster", "Local"):
                errors.append(not_supported("spec." + key, spec[key], ["Cluster", "Local"]))
        if type_ == "ExternalName":
            return
        cluster_ip = spec.get("clusterIP") or ""
        cluster_ips = spec.get("clusterIPs")
        if cluster_ips is None:
            cluster_ips = [cluster_ip] if cluster_ip else []
            if cluster_ips:
                spec["clusterIPs"] = list(cluster_ips)
        elif not isinstance(cluster_ips, list):
            errors.append(invalid("spec.clusterIPs", cluster_ips, "must be a list"))
            return
        elif cluster_ip and cluster_ips and cluster_ips[0] != cluster_ip:
            errors.append(invalid("spec.clusterIPs", cluster_ips, "first value must match `spec.clusterIP`"))
        elif not cluster_ip and cluster_ips:
            spec["clusterIP"] = cluster_ips[0]
        if len(cluster_ips) > 2:
            errors.append(invalid("spec.clusterIPs", cluster_ips, "may only hold up to 2 values"))
        families_seen = set()
        for i, ip in enumerate(cluster_ips):
            path = f"spec.clusterIPs[{i}]"
            if ip == "None":
                if i > 0:
                    errors.append(invalid(path, ip, "must be empty when the first value is 'None'"))
                continue
            family = _family(ip) if isinstance(ip, str) else None
            if family is None:
                errors.append(
                    invalid(path, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
                )
                continue
            if family in families_seen:
                errors.append(invalid(path, ip, "may specify no more than one IP for each IP family"))
            families_seen.add(family)
        families = spec.get("ipFamilies")
        if families is not None:
            if not isinstance(families, list) or len(families) > 2:
                errors.append(invalid("spec.ipFamilies", families, "may only hold up to 2 values"))
            else:
                for i, family in enumerate(families):
                    if family not in ("IPv4", "IPv6"):
                        errors.append(not_supported(f"spec.ipFamilies[{i}]", family, ["IPv4", "IPv6"]))
                    elif family in families[:i]:
                        errors.append(duplicate(f"spec.ipFamilies[{i}]", family))
                for i, ip in enumerate(cluster_ips):
                    if ip != "None" and i < len(families) and _family(ip) and _family(ip) != families[i]:
                        errors.append(
                            invalid(
                                f"spec.clusterIPs[{i}]",
                                ip,
                                f"expected an {families[i]} value as indicated by `ipFamilies[{i}]`",
                            )
                        )
        policy = spec.get("ipFamilyPolicy")
        if policy is not None and policy not in POLICIES:
            errors.append(not_supported("spec.ipFamilyPolicy", policy, POLICIES))
        if old_spec is not None and old_spec.get("type") != "ExternalName":
            old_ips = old_spec.get("clusterIPs") or []
            if old_ips and cluster_ips and cluster_ips[0] != old_ips[0]:
                errors.append(invalid("spec.clusterIPs[0]", cluster_ips[0], "may not change once set"))
            if old_ips and len(old_ips) > 1 and len(cluster_ips) > 1 and cluster_ips[1] != old_ips[1]:
                errors.append(invalid("spec.clusterIPs[1]", cluster_ips[1], "may not change once set"))

    def _families(self, spec: dict, old_spec: dict | None, errors: list[FieldError]) -> None:
        """initIPFamilyFields from alloc.go."""
        if spec.get("type") == "ExternalName":
            return
        if spec.get("ipFamilyPolicy") is None:
            if old_spec is not None and old_spec.get("ipFamilyPolicy"):
                spec["ipFamilyPolicy"] = old_spec["ipFamilyPolicy"]
            elif spec.get("clusterIP") == "None" and not spec.get("selector"):
                spec["ipFamilyPolicy"] = "RequireDualStack"
            else:
                spec["ipFamilyPolicy"] = "SingleStack"
        policy = spec["ipFamilyPolicy"]
        ips = spec.get("clusterIPs") or []
        families = list(spec.get("ipFamilies") or [])
        if old_spec is not None:
            if policy == "SingleStack":
                if ips == (old_spec.get("clusterIPs") or []) and len(ips) > 1:
                    spec["clusterIPs"] = ips = ips[:1]
                if families == (old_spec.get("ipFamilies") or []) and len(families) > 1:
                    families = families[:1]
            else:
                if len(ips) < len(old_spec.get("clusterIPs") or []):
                    errors.append(
                        invalid(
                            "spec.ipFamilyPolicy",
                            policy,
                            "must be 'SingleStack' to release the secondary cluster IP",
                        )
                    )
                if len(families) < len(old_spec.get("ipFamilies") or []):
                    errors.append(
                        invalid(
                            "spec.ipFamilyPolicy",
                            policy,
                            "must be 'SingleStack' to release the secondary IP family",
                        )
                    )
        if policy == "SingleStack":
            if len(ips) == 2:
                errors.append(
                    invalid(
                        "spec.ipFamilyPolicy",
                        policy,
                        "must be 'RequireDualStack' or "
                        "'PreferDualStack' when multiple cluster IPs are specified",
                    )
                )
            if len(families) == 2:
                errors.append(
                    invalid(
                        "spec.ipFamilyPolicy",
                        policy,
                        "must be 'RequireDualStack' or "
                        "'PreferDualStack' when multiple IP families are specified",
                    )
                )
        for i, ip in enumerate(ips):
            if ip == "None":
                break
            family = _family(ip)
            if i >= len(families):
                if family not in self.ranges:
                    errors.append(
                        invalid(f"spec.clusterIPs[{i}]", ips, f"{family} is not configured on this cluster")
                    )
                else:
                    families.append(family)
        if errors:
            return
        if spec.get("clusterIP") == "None" and not spec.get("selector"):
            if not families:
                families = [self.default_family]
            if len(families) < 2 and policy != "SingleStack":
                families.append("IPv6" if families[0] == "IPv4" else "IPv4")
            spec["ipFamilies"] = families
            return
        if policy == "RequireDualStack" and not self.dual_stack:
            errors.append(
                invalid(
                    "spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack services"
                )
            )
        for i, family in enumerate(families):
            if family not in self.ranges:
                errors.append(invalid(f"spec.ipFamilies[{i}]", family, "not configured on this cluster"))
        if errors:
            return
        if not families:
            families = [self.default_family]
        if policy != "SingleStack" and len(families) == 1 and self.dual_stack:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        spec["ipFamilies"] = families

    def _allocate(
        self, spec: dict, old_spec: dict | None, errors: list[FieldError]
    ) -> tuple[list[str], list[int]]:
        new_ips: list[str] = []
        new_ports: list[int] = []
        if spec.get("type") != "ExternalName" and (spec.get("clusterIPs") or [""])[0] != "None":
            old_ips = set((old_spec or {}).get("clusterIPs") or ())
            ips = list(spec.get("clusterIPs") or [])
            for i, family in enumerate(spec.get("ipFamilies") or ()):
                if i < len(ips) and ips[i]:
                    ip = str(ipaddress.ip_address(ips[i]))
                    if ips[i] in old_ips:
                        continue
                    network = self.ranges[family]
                    if ipaddress.ip_address(ip) not in network:
                        errors.append(
                            invalid(
                                "spec.clusterIPs",
                                spec.get("clusterIPs"),
                                f"failed to allocate IP {ips[i]}: the provided IP ({ips[i]}) is not in "
                                f"the valid range. The range of valid IPs is {network}",
                            )
                        )
                    elif ip in self.ips[family] or ip in new_ips:
                        errors.append(
                            invalid(
                                "spec.clusterIPs",
                                spec.get("clusterIPs"),
                                f"failed to allocate IP {ips[i]}: provided IP is already allocated",
                            )
                        )
                    else:
                        new_ips.append(ip)
                        ips[i] = ip
                else:
                    ip = self._next_ip(family, set(new_ips))
                    new_ips.append(ip)
                    if i < len(ips):
                        ips[i] = ip
                    else:
                        ips.append(ip)
            spec["clusterIPs"] = ips
            spec["clusterIP"] = ips[0] if ips else ""
        elif spec.get("clusterIP") == "None" or (spec.get("clusterIPs") or [""])[0] == "None":
            spec["clusterIP"] = "None"
            spec["clusterIPs"] = ["None"]
        old_node_ports = {p.get("nodePort") for p in (old_spec or {}).get("ports") or ()}
        old_node_ports.add((old_spec or {}).get("healthCheckNodePort"))
        old_node_ports.discard(None)
        for i, port in enumerate(spec.get("ports") or ()):
            wanted = port.get("nodePort")
            if wanted:
                if wanted in old_node_ports:
                    continue
                if not NODE_PORT_RANGE[0] <= wanted <= NODE_PORT_RANGE[1]:
                    errors.append(
                        invalid(
                            f"spec.ports[{i}].nodePort",
                            wanted,
                            "provided port is not in the valid range. The range of valid ports is "
                            "{}-{}".format(*NODE_PORT_RANGE),
                        )
                    )
                elif wanted in self.ports or wanted in new_ports:
                    errors.append(
                        invalid(f"spec.ports[{i}].nodePort", wanted, "provided port is already allocated")
                    )
                else:
                    new_ports.append(wanted)
            elif _needs_node_ports(spec):
                port["nodePort"] = self._next_port(set(new_ports))
                new_ports.append(port["nodePort"])
        if spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
            wanted = spec.get("healthCheckNodePort")
            if not wanted:
                spec["healthCheckNodePort"] = self._next_port(set(new_ports))
                new_ports.append(spec["healthCheckNodePort"])
            elif wanted not in old_node_ports:
                if wanted in self.ports or wanted in new_ports:
                    errors.append(
                        invalid("spec.healthCheckNodePort", wanted, "provided port is already allocated")
                    )
                else:
                    new_ports.append(wanted)
        return new_ips, new_ports


class ServiceIPsFull(Exception):
    def __init__(self, what: str, network: Any) -> None:
        super().__init__("failed to allocate a {}: range {} is full".format(what, network or "30000-32767"))


def validate_status(svc: dict) -> list[FieldError]:
    """status.loadBalancer.ingress entries must carry valid IPs (real API validation)."""
    errors: list[FieldError] = []
    ingress = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    if not isinstance(ingress, list):
        return [invalid("status.loadBalancer.ingress", ingress, "must be a list")]
    for i, entry in enumerate(ingress):
        path = f"status.loadBalancer.ingress[{i}]"
        if not isinstance(entry, dict):
            errors.append(invalid(path, entry, "must be an object"))
            continue
        ip = entry.get("ip")
        if ip and _family(ip) is None:
            errors.append(
                invalid(path + ".ip", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
            )
        mode = entry.get("ipMode")
        if mode is not None:
            if not ip:
                errors.append(forbidden(path + ".ipMode", "may not be specified when `ip` is not"))
            elif mode not in ("VIP", "Proxy"):
                errors.append(not_supported(path + ".ipMode", mode, ["Proxy", "VIP"]))
    return errors
