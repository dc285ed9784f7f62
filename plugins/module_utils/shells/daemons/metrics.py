# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus metrics under MetalLB's names, so existing dashboards and alerts keep working.

Each daemon gets its own registry (tests run several in one process) and serves it with
prometheus-client's HTTP server; port 0 disables serving.
"""

from __future__ import annotations

try:
    from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

    HAS_PROMETHEUS = True
except ImportError:  # pragma: no cover - reported by the CLI
    HAS_PROMETHEUS = False


def k8s_client_metrics(registry) -> tuple:
    """MetalLB's k8s client metrics, which both daemons export: updates, update errors, config
    loaded, config stale."""
    return (
        Counter("metallb_k8s_client_updates", "Number of k8s object updates that have been processed.",
                registry=registry),
        Counter("metallb_k8s_client_update_errors", "Number of k8s object updates that failed for some reason.",
                registry=registry),
        Gauge("metallb_k8s_client_config_loaded_bool",
              "1 if the MetalLB configuration was successfully loaded at least once.", registry=registry),
        Gauge("metallb_k8s_client_config_stale_bool",
              "1 if running on a stale configuration, because the latest config failed to load.",
              registry=registry),
    )


class ControllerMetrics:
    """The controller's series (MetalLB's names)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.addresses_total = Gauge("metallb_allocator_addresses_total",
                                     "Number of usable IP addresses, per pool", ["pool"], registry=r)
        self.ipv4_total = Gauge("metallb_allocator_ipv4_addresses_total",
                                "Number of usable IPv4 addresses, per pool", ["pool"], registry=r)
        self.ipv6_total = Gauge("metallb_allocator_ipv6_addresses_total",
                                "Number of usable IPv6 addresses, per pool", ["pool"], registry=r)
        self.in_use = Gauge("metallb_allocator_addresses_in_use_total",
                            "Number of IP addresses in use, per pool", ["pool"], registry=r)
        self.ipv4_in_use = Gauge("metallb_allocator_ipv4_addresses_in_use_total",
                                 "Number of IPv4 addresses in use, per pool", ["pool"], registry=r)
        self.ipv6_in_use = Gauge("metallb_allocator_ipv6_addresses_in_use_total",
                                 "Number of IPv6 addresses in use, per pool", ["pool"], registry=r)
        self.updates, self.update_errors, self.config_loaded, self.config_stale = k8s_client_metrics(r)
        self.is_leader = Gauge("metal_lb_controller_leader_bool",
                               "1 if this replica holds the controller lease.", registry=r)
        self._pools: set[str] = set()

    def set_pool(self, pool: str, total_v4: int, total_v6: int, used_v4: int, used_v6: int) -> None:
        self._pools.add(pool)
        self.addresses_total.labels(pool).set(total_v4 + total_v6)
        self.ipv4_total.labels(pool).set(total_v4)
        self.ipv6_total.labels(pool).set(total_v6)
        self.in_use.labels(pool).set(used_v4 + used_v6)
        self.ipv4_in_use.labels(pool).set(used_v4)
        self.ipv6_in_use.labels(pool).set(used_v6)

    def forget_pools(self, keep: set[str]) -> None:
        """Pool series are deleted when a pool disappears, as in MetalLB."""
        for pool in self._pools - keep:
            for gauge in (self.addresses_total, self.ipv4_total, self.ipv6_total,
                          self.in_use, self.ipv4_in_use, self.ipv6_in_use):
                try:
                    gauge.remove(pool)
                except KeyError:
                    pass
        self._pools &= keep


def serve(registry, port: int, addr: str = "0.0.0.0") -> object | None:
    """Serve ``registry`` on ``addr:port``; 0 disables (MetalLB's ``--port 0``)."""
    if not port:
        return None
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server
