# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker daemon's generic loop: watch → snapshot → each protocol decides → apply.

A thin loop. Informers keep a cache of Services, EndpointSlices, Nodes and the configuration
(``config.sources``); one worker thread turns a batch of changed keys into a ``Snapshot`` and
hands it to every protocol it owns (``protocol.Protocol``; layer 2 is ``layer2_protocol``),
then applies each protocol's decision per Service with ``set_balancer``/``delete_balancer``.
What is protocol specific (sockets, status objects, their Events) lives in the protocol; the
loop keeps the configuration, membership settling, the ConfigurationState, metrics and the
status file.

Liveness comes from membership (UDP), not from the API: a change of the live set re-runs the
decisions on the cached snapshot, so announcements and failover keep working while the API
server is unreachable. The speaker joins membership only once its caches are synced (before
that it could not announce what its peers would then stop announcing) and starts announcing
when it becomes live in its own view: the moment its peers count it live too, so a restarted
node takes its IPs back without a gap. An invalid configuration keeps the last valid one. API
writes happen only on changes, off the worker thread, paced.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence

from ...engine.config.modes import DEFAULT_BGP_TYPE
from ...engine.config.parse import parse_config
from ...engine.bgp.sessions import secrets_by_name
from ...engine.config.sources import SPEAKER
from ...adapters.kube.config_reads import config_informers
from ...adapters.kube.informer import Informer, start_and_sync
from ...adapters.kube.l2_status import TokenBucket
from ...adapters.kube.service_view import trim_service
from ...adapters.kube.speaker_views import (CoreReads, trim_config_object, trim_endpoint_slice, trim_namespace,
                                            trim_node, trim_secret)
from ...adapters.kube.status_objects import StatusObjects
from ...adapters.kube.writer import EventRecorder
from ...adapters.layer2.announcer import Announcer
from ...engine.election import network_unavailable, pool_for
from ...adapters.membership.transport import MembershipConfigError, parse_bind
from ...engine.vocabulary import CONFIG_KINDS, MEMBERSHIP_ANNOTATION, SERVICE_NAME_LABEL, key_of
from . import status_file
from .layer2_protocol import Announced, Layer2
from .protocol import Protocol, Snapshot
from .speaker_metrics import SpeakerMetrics
from .workqueue import RESYNC_ALL, WorkQueue

try:
    from kubernetes import client as k8s_client
except ImportError:  # pragma: no cover - the CLI checks first
    k8s_client = None

LOG = logging.getLogger("metal_lb.speaker")
CONFIG_KEY = "\x00config"
SERVICE_DELETED = "serviceDeleted"
__all__ = ["Announced", "Speaker", "membership_address", "view_settled"]  # Announced: the layer-2 record


def membership_address(node: dict, default_port: int, prefer_v6: bool = False) -> tuple[str, int] | None:
    """Where a node's speaker listens for membership: the ``metal.lb/membership-address`` annotation
    (``ADDR:PORT``; lets several speakers share a host, as in tests) or the node's InternalIP on
    this speaker's own port (every speaker of a cluster uses the same port, as MetalLB's 7946)."""
    meta = node.get("metadata") or {}
    annotated = (meta.get("annotations") or {}).get(MEMBERSHIP_ANNOTATION)
    if annotated:
        try:
            return parse_bind(annotated, default_port)
        except MembershipConfigError:
            LOG.warning("node %s: annotation %s=%r is not ADDR:PORT; ignored", meta.get("name"),
                        MEMBERSHIP_ANNOTATION, annotated)
    addresses = [a.get("address") for a in (node.get("status") or {}).get("addresses") or ()
                 if isinstance(a, dict) and a.get("type") == "InternalIP" and a.get("address")]
    if not addresses:
        return None
    addresses.sort(key=lambda a: (":" in a) != prefer_v6)
    return addresses[0], default_port


def _node_relevant(node: dict | None) -> tuple:
    """The parts of a Node the election and membership use (status heartbeats are ignored)."""
    if node is None:
        return ()
    meta = node.get("metadata") or {}
    addresses = tuple(sorted((a.get("type"), a.get("address")) for a in (node.get("status") or {}).get(
        "addresses") or () if isinstance(a, dict)))
    return (tuple(sorted((meta.get("labels") or {}).items())), network_unavailable(node),
            (meta.get("annotations") or {}).get(MEMBERSHIP_ANNOTATION), addresses)


# Change on every datagram: kept out of the status file, which is rewritten only when it changes.
_VOLATILE_VIEW_KEYS = frozenset({"since", "clock_offset_ms"})


def view_settled(view: dict, node: str) -> bool:
    """A starting speaker may act on its membership ``view`` once it counts itself live and knows
    the state of every other speaker (live, or down/left; unknown or still in its stable period
    is not settled)."""
    return bool((view.get(node) or {}).get("live")) and all(
        entry.get("live") or entry.get("state") in ("down", "left") for entry in view.values())


class Speaker:
    """One node's speaker. ``run()`` is the worker loop (a thread of the caller's); ``stop()``
    performs the planned handover (membership leave first, then withdraw and stop).
    ``membership`` (a ``MembershipThread``) is best passed unstarted: ``run()`` starts it once the
    caches are synced; ``join_error`` is set if that fails.

    ``protocols``: the protocol objects the loop owns; without any, the loop builds layer 2 from
    ``announcer``, ``responder`` and ``status_qps``/``status_burst``. ``protocol_factories`` add
    more (BGP): each is called with the custom-objects API, ``node``, ``namespace``, ``metrics``,
    ``event`` and ``resync``."""

    def __init__(self, api_client, *, node: str, namespace: str = "metallb-system", lb_class: str = "",
                 membership=None, membership_port: int = 7946, membership_v6: bool = False,
                 announcer: Announcer | None = None, metrics: SpeakerMetrics | None = None,
                 responder=None, status_file: str = "", ignore_exclude_lb: bool = False,
                 status_qps: float = 20.0, status_burst: int = 50, startup_grace: float = 0.0,
                 startup_timeout: float = 0.0,
                 event_qps: float = 5.0, event_burst: int = 50,
                 protocols: Sequence[Protocol] | None = None,
                 protocol_factories: Sequence[Callable[..., Protocol]] = ()) -> None:
        self.node = node
        self.namespace = namespace
        self.lb_class = lb_class
        self.membership = membership
        self._membership_port = membership_port
        self._membership_v6 = membership_v6
        self.metrics = metrics or SpeakerMetrics(node, membership.stats if membership is not None else None)
        self.status_file = status_file
        self.ignore_exclude_lb = ignore_exclude_lb
        self.startup_grace = startup_grace
        self.startup_timeout = max(startup_timeout, startup_grace)
        self._published_at: float | None = None  # when this speaker joined membership
        self._settled = membership is None
        self._leaving = False
        core = CoreReads(api_client)  # not CoreV1Api: its pydantic models alone cost ~22 MB
        custom = k8s_client.CustomObjectsApi(api_client)
        self._queue = WorkQueue()
        self._events = EventRecorder(core, "metallb-speaker", node)
        # A take-over of many Services would write one Event each at once: pace them (client-go's
        # recorder rate-limits too); an Event over the budget is dropped and counted.
        self._event_budget = TokenBucket(event_qps, event_burst)
        self.events_dropped = 0
        self._config_status = StatusObjects(custom, namespace)
        self._config = None
        self._config_errors: list[str] | None = None
        self._config_state_lock = threading.Lock()
        self._config_state_wanted: list[str] | None = None
        self._config_state_event = threading.Event()
        self._config_retry = 0
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._status_file_content: dict | None = None
        self._status_file_warned = False
        self._own_node: tuple = ()
        if protocols is None:
            protocols = [Layer2(custom, node=node, namespace=namespace, metrics=self.metrics, event=self._event,
                                resync=self.resync, announcer=announcer, responder=responder,
                                status_qps=status_qps, status_burst=status_burst)]
        self.protocols: list[Protocol] = list(protocols)
        for factory in protocol_factories:  # protocols that need the loop's event sink and resync (BGP)
            self.protocols.append(factory(custom, node=node, namespace=namespace, metrics=self.metrics,
                                          event=self._event, resync=self.resync))
        # Every cache holds only what the speaker reads (kube.speaker_views, kube.service_view).
        self._services = Informer("services", core.list_service_for_all_namespaces, self._on_service,
                                  kind="Service", api_version="v1", transform=trim_service)
        self._slices = Informer("endpointslices", core.list_endpoint_slice_for_all_namespaces,
                                self._on_slice, kind="EndpointSlice", api_version="discovery.k8s.io/v1",
                                transform=trim_endpoint_slice)
        self._nodes = Informer("nodes", core.list_node, self._on_node, kind="Node", api_version="v1",
                               transform=trim_node)
        # config.sources' list for the speaker; Nodes have their own informer (membership, election).
        trims = {kind: trim_config_object for kind in CONFIG_KINDS + ("ConfigMap",)}
        trims.update(Namespace=trim_namespace, Secret=trim_secret)
        self._config_informers = config_informers(SPEAKER, core, custom, namespace, self._on_config,
                                                  transforms=trims, skip=("Node",))
        self._informers = [self._services, self._slices, self._nodes,
                           *(i for p in self.protocols for i in p.informers()), *self._config_informers]
        self.join_error: Exception | None = None

    @property
    def layer2(self) -> Layer2 | None:
        return next((p for p in self.protocols if isinstance(p, Layer2)), None)

    def resync(self) -> None:
        """Run a full pass soon (a protocol's local facts changed, e.g. its interfaces)."""
        self._queue.add(RESYNC_ALL)

    # -- informer / membership callbacks (their threads) ------------------------------------
    def _on_service(self, _type: str, key: str, _new, _old) -> None:
        self._queue.add(key)

    def _on_slice(self, _type: str, _key: str, new, old) -> None:
        obj = new or old or {}
        meta = obj.get("metadata") or {}
        name = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if name:
            self._queue.add(key_of(meta.get("namespace"), name))

    def _on_node(self, _type: str, _key: str, new, old) -> None:
        if _node_relevant(new) == _node_relevant(old):
            return
        self._publish_known_members()
        self._queue.add(CONFIG_KEY)  # node labels feed the parser (and the election: full pass)
        self._queue.add(RESYNC_ALL)

    def _on_config(self, _type: str, _key: str, _new, _old) -> None:
        self._queue.add(CONFIG_KEY)

    def _on_members(self, live: frozenset) -> None:
        LOG.info("membership changed: live %s; re-running the election", ", ".join(sorted(live)) or "(none)")
        self._queue.add(RESYNC_ALL)

    def _publish_known_members(self) -> None:
        if self.membership is None:
            return
        known = {}
        for node in self._nodes.items():
            name = (node.get("metadata") or {}).get("name")
            addr = membership_address(node, self._membership_port, self._membership_v6)
            if name and addr is not None:
                known[name] = addr
        self.membership.set_known_members(known)

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> None:
        for protocol in self.protocols:
            protocol.start()
        threading.Thread(target=self._config_state_loop, name="configstate", daemon=True).start()
        if not start_and_sync(self._informers, self._stop, LOG):
            return
        self._publish_known_members()
        if self.membership is not None:
            if not self._join_membership():
                return
            self._published_at = time.monotonic()
            self._queue.add_after(RESYNC_ALL, self.startup_grace)
            self._queue.add_after(RESYNC_ALL, self.startup_timeout)
        self._queue.add(CONFIG_KEY)
        self._queue.add(RESYNC_ALL)
        while not self._stop.is_set():
            batch = self._queue.get_batch(timeout=1.0)
            if batch is None:
                return
            if not batch:
                self._idle.set()
                continue
            self._idle.clear()
            try:
                self._process(batch)
            except Exception:  # noqa: BLE001 - a bug in one pass must not stop announcing
                LOG.exception("speaker pass failed; retrying with a full pass")
                self._queue.add_after(RESYNC_ALL, 1.0)

    def _join_membership(self) -> bool:
        """Start membership now that the caches are synced (unless the caller already did): its
        first ALIVE and SYNC go to every known peer at once, so peers count this node live exactly
        ``stable_period`` after now, when this node's own view counts itself live."""
        try:
            if getattr(self.membership, "service", None) is None:
                self.membership.start()
            self.membership.add_listener(self._on_members)
        except Exception as exc:  # noqa: BLE001 - bind errors, a stopped loop: the CLI reports it
            self.join_error = exc
            LOG.error("membership could not start: %s", exc)
            return False
        return True

    def burst(self) -> list[str]:
        """A fresh gratuitous burst for every IP announced here (SIGUSR1, ``metal.lb.announce``)."""
        ips = [ip for protocol in self.protocols for ip in protocol.burst()]
        LOG.info("gratuitous burst requested for %d IP(s)", len(ips))
        return ips

    def stop(self, drain_timeout: float = 1.5) -> None:
        """Planned handover: leave membership first (peers elect a new leader at once), let the
        empty live set withdraw our announcements and status objects, then stop."""
        if self.membership is not None:
            self._leaving = True  # its loop stops: no more view() calls into it
            try:
                # LEAVE goes out first (peers re-elect at once), then the live set empties and
                # the next pass withdraws everything here and deletes our status objects.
                self.membership.stop(graceful=True)
            except Exception as exc:  # noqa: BLE001
                LOG.warning("membership leave failed: %s", exc)
            self._queue.add(RESYNC_ALL)
            deadline = time.monotonic() + drain_timeout
            while time.monotonic() < deadline and (len(self._queue) or not self._protocols_idle()):
                time.sleep(0.02)
        self._stop.set()
        self._queue.close()
        for protocol in self.protocols:
            protocol.stop()
        self._events.flush(1.0)
        for informer in self._informers:
            informer.stop()
        if self.status_file:
            status_file.remove(self.status_file)

    def _protocols_idle(self) -> bool:
        return all(protocol.idle() for protocol in self.protocols)

    # -- the loop body ----------------------------------------------------------------------
    def _members(self) -> frozenset[str] | None:
        if self.membership is None:
            return None  # MetalLB with memberlist disabled: every Node is a candidate
        if self._stop.is_set():
            return frozenset()
        if not self._settled and not self._startup_settled():
            return frozenset()
        return self.membership.live_members()

    def _startup_settled(self) -> bool:
        """Just started, a speaker that sees only itself would announce everything for a moment.
        It announces nothing until it is live in its own view (its stable period passed: when its
        peers count it live and withdraw its IPs) and every known speaker is settled in that view
        (live, or down/left), at least ``startup_grace`` after joining; or once
        ``startup_timeout`` passed (nodes without a speaker stay unknown)."""
        if self._published_at is None:
            return False
        waited = time.monotonic() - self._published_at
        if waited >= self.startup_timeout:
            self._settled = True
        elif waited >= self.startup_grace:
            try:
                view = self.membership.view()
            except Exception:  # noqa: BLE001 - stopping
                return False
            self._settled = view_settled(view, self.node)
        if not self._settled:
            self._queue.add_after(RESYNC_ALL, 0.2)
        else:
            LOG.info("membership settled after %.1fs: announcing", waited)
        return self._settled

    def _announced(self) -> dict[str, tuple[str, ...]]:
        """Service key → LB IPs, over every protocol."""
        out: dict[str, tuple[str, ...]] = {}
        for protocol in self.protocols:
            out.update(protocol.announced())
        return out

    def _reload_config(self) -> bool:
        """Parse; adopt only a valid config that keeps every announced IP inside a pool (MetalLB's
        speaker SetConfig). True if the config changed."""
        objects = list(self._nodes.items())
        for informer in self._config_informers:
            objects.extend(informer.items())
        # this speaker's BGP is FRR's: the fields only MetalLB's native speaker rejects are valid here
        result = parse_config(objects, namespace=self.namespace, bgp_type=DEFAULT_BGP_TYPE)
        errors = [str(e) for e in result.errors]
        if not errors:
            orphans = sorted(k for k, ips in self._announced().items() if pool_for(result.config, ips) is None)
            if orphans:
                delay = min(0.5 * (2 ** self._config_retry), 30.0)
                self._config_retry += 1
                self.metrics.config_stale.set(1)
                LOG.warning("new configuration not adopted yet: announced service(s) %s would have IPs "
                            "outside every pool; keeping the last one, retry in %.1fs", ", ".join(orphans),
                            delay)
                self._queue.add_after(CONFIG_KEY, delay)
                return False
        self._config_retry = 0
        logged = self._config_errors
        self._write_config_state(errors)
        if errors:
            self.metrics.config_stale.set(1)
            if errors != logged:
                for line in errors:
                    LOG.error("configuration invalid, keeping the last valid one: %s", line)
            return False
        self.metrics.config_stale.set(0)
        self.metrics.config_loaded.set(1)
        if self._config is not None and result.config == self._config:
            return False
        self._config = result.config
        for protocol in self.protocols:
            protocol.set_config(result.config)
        LOG.info("configuration loaded: %d pools, %d L2 advertisements, %d BGP advertisements, %d BGP peers",
                 len(result.config.pools), len(result.config.l2_advertisements),
                 len(result.config.bgp_advertisements), len(result.config.peers))
        return True

    def _write_config_state(self, errors: list[str]) -> None:
        """ConfigurationState ``speaker-<node>``, written off the worker thread: a black-holed API
        must never delay an election."""
        if errors == self._config_errors:
            return
        self._config_errors = errors
        with self._config_state_lock:
            self._config_state_wanted = list(errors)
        self._config_state_event.set()

    def _config_state_loop(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            self._config_state_event.wait(1.0)
            with self._config_state_lock:
                errors, self._config_state_wanted = self._config_state_wanted, None
                self._config_state_event.clear()
            if errors is None:
                continue
            try:
                self._config_status.configuration_state("speaker-%s" % self.node, "speaker", self.node, errors)
                delay = 0.5
            except Exception as exc:  # noqa: BLE001 - informational; retried with backoff
                LOG.debug("ConfigurationState not written (%s); retry in %.1fs", exc, delay)
                with self._config_state_lock:
                    if self._config_state_wanted is None:
                        self._config_state_wanted = errors
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 30.0)
                self._config_state_event.set()

    def _process(self, batch: list[str]) -> None:
        """Always a full pass: services sharing an IP are elected together, so one Service's
        change can move another's announcement; the decisions are cheap next to any API call."""
        if CONFIG_KEY in batch or RESYNC_ALL in batch:  # RESYNC_ALL swallows the keys queued with it
            self._reload_config()
        if self._config is None:
            return  # no config yet: nothing happens (MetalLB)
        nodes = {(n.get("metadata") or {}).get("name"): n for n in self._nodes.items()}
        own = nodes.get(self.node)
        if _node_relevant(own) != self._own_node:
            self._own_node = _node_relevant(own)
            for protocol in self.protocols:
                protocol.set_node(own)
        members = self._members()
        snapshot = Snapshot(self._services.items(), self._config, nodes, self._slices.items(), members, self.node,
                            self.lb_class, self.ignore_exclude_lb, self._secrets())
        for protocol in self.protocols:
            decisions = protocol.should_announce(snapshot)
            services = {key: self._services.get(key) for key in decisions}
            for key in sorted(set(decisions) | protocol.keys()):
                decision = decisions.get(key)
                if decision is not None and decision.announce:
                    protocol.set_balancer(key, services.get(key), decision)
                else:
                    reason = SERVICE_DELETED if decision is None else decision.reason
                    protocol.delete_balancer(key, reason or "loadBalancerIPChanged")
            protocol.sync(services)
        self.metrics.updates.inc()
        self._write_status_file(members)

    def _secrets(self) -> dict:
        """The Secrets a BGPPeer's passwordSecret may name, ``namespace/name`` → object."""
        return secrets_by_name((obj for informer in self._config_informers for obj in informer.items()
                                if obj.get("kind") == "Secret"), self.namespace)

    def _event(self, svc, event_type: str, reason: str, message: str) -> None:
        if self._event_budget.delay() > 0:
            self.events_dropped += 1
            LOG.debug("event %s on %s dropped (rate limit)", reason, (svc.get("metadata") or {}).get("name"))
            return
        self._events.record(svc, event_type, reason, message)

    # -- the status file (read by metal.lb.announce) ----------------------------------------
    def status(self, members: frozenset[str] | None = None) -> dict:
        """What this node announces and sees, as the ``metal.lb.announce`` module reports it."""
        membership: dict = {"enabled": self.membership is not None}
        if self.membership is not None and not self._leaving:
            membership["live"] = sorted(members if members is not None else self.membership.live_members())
            membership["ready"] = bool(self.membership.ready)
            try:
                view = self.membership.view()
                membership["view"] = {name: {k: v for k, v in entry.items() if k not in _VOLATILE_VIEW_KEYS}
                                      for name, entry in sorted(view.items())}
            except Exception:  # noqa: BLE001 - stopping
                membership["view"] = {}
        out = {"version": status_file.VERSION, "node": self.node, "pid": os.getpid(),
               "namespace": self.namespace, "config_loaded": self._config is not None,
               "announced": {}, "membership": membership, "responder": {"enabled": False}}
        for protocol in self.protocols:
            for key, value in protocol.status().items():
                if key == "announced":
                    out["announced"].update(value)
                else:
                    out[key] = value
        return out

    def _write_status_file(self, members) -> None:
        if not self.status_file:
            return
        content = self.status(members)
        if content == self._status_file_content:
            return
        try:
            status_file.write(self.status_file, content)
            self._status_file_content = content
        except OSError as exc:
            if not self._status_file_warned:
                LOG.warning("status file %s not written: %s", self.status_file, exc)
                self._status_file_warned = True
            self._status_file_content = None

    def wait_idle(self, timeout: float) -> bool:
        """Tests: True once the queue drained and the protocols' writes are done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._idle.is_set() and not len(self._queue) and self._protocols_idle():
                return True
            time.sleep(0.02)
        return False
