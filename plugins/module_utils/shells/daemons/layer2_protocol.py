# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Layer 2, the speaker's first protocol: who answers ARP/NDP for each LB IP, and the rest of it.

``should_announce`` is ``engine.layer2_decisions.desired`` (which calls ``engine.election``); the
protocol then owns what follows from the decisions on this node: the ``Announcer`` (what the
raw-socket responder answers for, and the gratuitous bursts on take-over), the responder
itself, the ServiceL2Status objects (their cache and their paced writer) and the layer-2
Events. Events only on transitions (take-over, failure), not on every pass as MetalLB does, so
the number of writes per second does not grow with the number of Services.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ...engine.go_quote import go_quote
from ...engine.model import Config
from ...adapters.kube.l2_status import L2StatusWriter
from ...adapters.kube.service_statuses import ServiceStatuses
from ...adapters.layer2.announcer import Announcer
from .protocol import EventSink, Snapshot
from ...engine.layer2_decisions import ServiceL2, desired

LOG = logging.getLogger("metal_lb.speaker")
NAME = "layer2"


@dataclass(frozen=True)
class Announced:
    """What this node announces for one Service: its LB IPs and the (IP, interfaces) it leads
    (interfaces () = all)."""

    ips: tuple[str, ...]
    active: tuple[tuple[str, tuple[str, ...]], ...]  # (ip, allowed interfaces; () = all)


class Layer2:
    """The layer-2 ``Protocol`` of one node."""

    name = NAME

    def __init__(self, custom_api, *, node: str, namespace: str, metrics, event: EventSink,
                 resync: Callable[[], None], announcer: Announcer | None = None, responder=None,
                 status_qps: float = 20.0, status_burst: int = 50) -> None:
        self.node = node
        self.metrics = metrics
        self.announcer = announcer or Announcer(metrics=metrics)
        self.responder = responder
        self._event = event
        self._resync = resync
        self._config: Config | None = None
        self._announced: dict[str, Announced] = {}
        self._failed: set[tuple[str, str]] = set()  # (service, ip) whose interfaces are missing here
        self._local_names: frozenset[str] | None = None
        self._service_statuses = ServiceStatuses(L2StatusWriter, custom_api, namespace, node, qps=status_qps,
                                                 burst=status_burst, on_error=self._status_failed)
        self._statuses = self._service_statuses.writer
        if responder is not None:
            responder.on_interfaces = self._on_interfaces

    # -- callbacks (informer / responder threads) ---------------------------------------------
    def _on_interfaces(self, names: frozenset[str]) -> None:
        if names != self._local_names:
            self._local_names = frozenset(names)
            self._resync()

    def _status_failed(self, key: str, exc: Exception) -> None:
        self.metrics.update_errors.inc()
        LOG.warning("ServiceL2Status for %s not written: %s (will retry)", key, exc)

    # -- Protocol ---------------------------------------------------------------------------
    def informers(self) -> list:
        return self._service_statuses.informers()

    def start(self) -> None:
        self._statuses.start()

    def set_config(self, config: Config) -> None:
        self._config = config

    def set_node(self, node: Mapping | None) -> None:
        """Layer 2 reads this node's labels from the snapshot's Nodes: nothing to keep."""

    def should_announce(self, snapshot: Snapshot) -> dict[str, ServiceL2]:
        return desired(snapshot.services, snapshot.config, snapshot.nodes, snapshot.endpoint_slices,
                       snapshot.members, snapshot.my_node, lb_class=snapshot.lb_class,
                       ignore_exclude_lb=snapshot.ignore_exclude_lb)

    def keys(self) -> set[str]:
        return set(self._announced) | set(self._statuses.desired()) | self._service_statuses.own_keys()

    def announced(self) -> dict[str, tuple[str, ...]]:
        return {key: ann.ips for key, ann in self._announced.items()}

    def set_balancer(self, key: str, service: Mapping | None, decision: ServiceL2) -> None:
        prev = self._announced.get(key)
        if prev is not None and prev.ips != decision.ips:
            self._withdraw(key, prev, "loadBalancerIPChanged")
            prev = None
        new = Announced(decision.ips, decision.announce)
        if new != prev:
            for ip, _names in prev.active if prev else ():
                if ip not in dict(new.active):
                    self.metrics.set_announced(key, ip, False)
            for ip, _names in new.active:
                self.metrics.set_announced(key, ip, True)
            self._announced[key] = new
            if prev is None and service is not None:
                LOG.info("announcing %s (%s) from %s", key, ", ".join(ip for ip, _n in new.active), self.node)
                self._event(service, "Normal", "nodeAssigned", "announcing from node %s with protocol %s"
                            % (go_quote(self.node), go_quote(NAME)))
        self._statuses.set(key, decision.interfaces)

    def delete_balancer(self, key: str, reason: str) -> None:
        prev = self._announced.get(key)
        if prev is not None:
            self._withdraw(key, prev, reason)
        self._statuses.set(key, None)

    def sync(self, services: Mapping[str, Mapping | None]) -> None:
        # One call for the whole node: new IPs get their gratuitous burst, dropped IPs stop being
        # answered, unchanged IPs are left alone.
        self.announcer.set_leading(self.leading())
        self._report_unannounceable(services)

    def burst(self) -> list[str]:
        return self.announcer.burst()

    def idle(self) -> bool:
        return self._statuses.idle()

    def stop(self) -> None:
        self._announced.clear()
        self.announcer.set_leading({})
        if self.responder is not None:
            self.responder.stop()
        self._service_statuses.stop()

    def status(self) -> dict:
        """The status file's ``announced`` IPs and ``responder``."""
        ips = {ip: {"interfaces": list(names), "services": []} for ip, names in sorted(self.leading().items())}
        for key, ann in sorted(self._announced.items()):
            for ip, _names in ann.active:
                ips[ip]["services"].append(key)
        responder: dict = {"enabled": self.responder is not None}
        if self.responder is not None:
            try:
                responder["interfaces"] = self.responder.interfaces()
            except RuntimeError:  # its thread changed the ports while we read: next pass
                responder["interfaces"] = {}
            # IPs whose advertisement names interfaces none of which exists here (announceFailed)
            responder["unannounceable"] = sorted({ip for _key, ip in self._failed})
        return {"announced": ips, "responder": responder}

    # -- internals ------------------------------------------------------------------------------
    def leading(self) -> dict[str, tuple[str, ...]]:
        """IP -> interfaces this node answers on (() = all), over every Service it announces."""
        out: dict[str, tuple[str, ...]] = {}
        for ann in self._announced.values():
            for ip, names in ann.active:
                if ip in out and (not out[ip] or not names):
                    out[ip] = ()
                else:
                    out[ip] = tuple(sorted(set(out.get(ip, ())) | set(names)))
        return out

    def _report_unannounceable(self, services: Mapping[str, Mapping | None]) -> None:
        """Warning ``announceFailed`` once per (service, IP) whose named interfaces do not exist
        here; the IP stays registered and is answered as soon as such an interface appears."""
        failing = set(self.responder.unannounceable()) if self.responder is not None else set()
        now = {(key, ip) for key, ann in self._announced.items() for ip, _n in ann.active if ip in failing}
        for key, ip in sorted(now - self._failed):
            svc = services.get(key)
            if svc is not None:
                self._event(svc, "Warning", "announceFailed",
                            "the interfaces specified by LB IP %s doesn't exist in assigned node %s with "
                            "protocol %s" % (go_quote(ip), go_quote(self.node), go_quote(NAME)))
        self._failed = now

    def _withdraw(self, key: str, prev: Announced, reason: str) -> None:
        LOG.info("withdrawing %s (%s): %s", key, ", ".join(ip for ip, _names in prev.active) or "no IP", reason)
        for ip, _interfaces in prev.active:
            self.metrics.set_announced(key, ip, False)
        del self._announced[key]
