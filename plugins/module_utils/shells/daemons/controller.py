# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller daemon: watch → snapshot → engine → write.

A thin loop around the engine (``converge``); it decides nothing itself. Single worker
thread, so the allocator needs no locking; informers feed a coalescing work queue. Only the
replica holding the Lease writes; a replica that gains the lease rebuilds its allocator from
the Services' statuses before assigning anything (restarts never move an IP).
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from ...engine.addresses import pool_capacity
from ...engine.allocator.allocator import Allocator
from ...engine.config.allocation import allocation_config
from ...engine.config.modes import DEFAULT_BGP_TYPE
from ...engine.config.sources import CONTROLLER
from ...adapters.kube.config_reads import config_informers
from ...adapters.kube.informer import Informer, start_and_sync
from ...adapters.kube.lease import LeaseElector
from ...adapters.kube.service_view import trim_service
from ...adapters.kube.status_objects import StatusObjects
from ...adapters.kube.writer import EventRecorder, ServiceWriter, StatusSyncer
from ...engine import converge
from ...engine.vocabulary import object_key
from .metrics import ControllerMetrics
from .workqueue import RESYNC_ALL, WorkQueue

try:
    from kubernetes import client as k8s_client
except ImportError:  # pragma: no cover - the CLI checks first
    k8s_client = None

LOG = logging.getLogger("metal_lb.controller")
CONFIG_KEY = "\x00config"


class Controller:
    def __init__(self, api_client, *, namespace: str = "metallb-system", lb_class: str = "",
                 identity: str = "", lease_name: str = "metallb-controller", lease_duration: float = 15.0,
                 renew_deadline: float = 10.0, retry_period: float = 2.0,
                 metrics: ControllerMetrics | None = None, bgp_type: str = DEFAULT_BGP_TYPE) -> None:
        self.namespace = namespace
        self.bgp_type = bgp_type
        self.lb_class = lb_class
        self.identity = identity or "%s_%d" % (socket.gethostname(), os.getpid())
        self.metrics = metrics or ControllerMetrics()
        core = k8s_client.CoreV1Api(api_client)
        custom = k8s_client.CustomObjectsApi(api_client)
        self._queue = WorkQueue()
        self._writer = StatusSyncer(ServiceWriter(core), self._write_failed)
        self._events = EventRecorder(core, "metallb-controller", self.identity)
        self._status = StatusObjects(custom, namespace)
        self._allocator = Allocator()
        self._config = None
        self._config_errors: list[str] = []
        self._reported: list[str] = []
        self._stop = threading.Event()
        self._leading = threading.Event()
        self._needs_rebuild = True
        svc = Informer("services", core.list_service_for_all_namespaces, self._on_service,
                       kind="Service", api_version="v1", transform=trim_service)
        self._services = svc
        # What the controller reads is config.sources' list (it never reads Secrets).
        self._informers = [svc] + config_informers(CONTROLLER, core, custom, namespace, self._on_config)
        self._elector = LeaseElector(
            k8s_client.CoordinationV1Api(api_client), namespace, lease_name, self.identity,
            lease_duration=lease_duration, renew_deadline=renew_deadline, retry_period=retry_period,
            on_started=self._on_leading, on_stopped=self._on_not_leading)

    # -- event handlers (informer threads) ---------------------------------------
    def _on_service(self, _type: str, key: str, _new, _old) -> None:
        self._queue.add(key)

    def _on_config(self, _type: str, _key: str, _new, _old) -> None:
        self._queue.add(CONFIG_KEY)

    def _on_leading(self) -> None:
        self.metrics.is_leader.set(1)
        self._needs_rebuild = True
        self._leading.set()
        self._queue.add(CONFIG_KEY)

    def _on_not_leading(self) -> None:
        self.metrics.is_leader.set(0)
        self._leading.clear()

    # -- lifecycle -------------------------------------------------------------------
    def run(self) -> None:
        if not start_and_sync(self._informers, self._stop, LOG):
            return
        self._elector.start()
        while not self._stop.is_set():
            batch = self._queue.get_batch(timeout=1.0)
            if batch is None:
                return
            if not batch or not self._leading.is_set():
                if batch and not self._leading.is_set():
                    for key in batch:  # keep the work for when we lead
                        self._queue.add_after(key, 1.0)
                continue
            self._process(batch)

    def stop(self) -> None:
        """Step down cleanly (release the lease) so a standby takes over at once."""
        self._stop.set()
        self._queue.close()
        self._events.flush(2.0)
        self._writer.shutdown()
        self._elector.stop(release=True)
        for informer in self._informers:
            informer.stop()

    # -- the loop body ----------------------------------------------------------------
    def _config_objects(self) -> list[dict]:
        objects: list[dict] = []
        for informer in self._informers[1:]:
            objects.extend(informer.items())
        return objects

    def _reload_config(self) -> bool:
        """Parse the config objects; adopt the pools only if they are valid (problems in objects
        the controller does not allocate from are logged and never stop it). True if the pools
        changed."""
        result = allocation_config(self._config_objects(), namespace=self.namespace, bgp_type=self.bgp_type,
                                   secrets_read=False)
        if result.reported != self._reported:
            for line in result.reported:
                LOG.warning("configuration problem (not used for allocation; allocating goes on): %s", line)
            self._reported = result.reported
        errors = result.errors
        if errors:
            self.metrics.config_stale.set(1)
            if errors != self._config_errors:
                for line in errors:
                    LOG.error("configuration invalid, keeping the last valid one: %s", line)
            self._config_errors = errors
            self._status.configuration_state("controller", "controller", "", errors)
            return False
        self._config_errors = []
        self._status.configuration_state("controller", "controller", "", [])
        self.metrics.config_stale.set(0)
        self.metrics.config_loaded.set(1)
        if self._config is not None and result.config == self._config:
            return False
        self._config = result.config
        self._allocator.set_pools(result.config.pools)
        LOG.info("configuration loaded: %d pools", len(result.config.pools))
        return True

    def _process(self, batch: list[str]) -> None:
        full = False
        if CONFIG_KEY in batch:
            batch = [key for key in batch if key != CONFIG_KEY]
            try:
                full = self._reload_config()
            except Exception as exc:  # noqa: BLE001 - never let a write failure kill the loop
                LOG.warning("configuration state not written: %s", exc)
                self._queue.add_after(CONFIG_KEY, 2.0)
        if self._config is None:
            return
        if self._needs_rebuild:
            self._allocator = Allocator()
            self._allocator.set_pools(self._config.pools)
            self._needs_rebuild = False
            full = True
        if full or RESYNC_ALL in batch:
            services = {object_key(s): s for s in self._services.items()}
            results = converge.reprocess_all(self._allocator, self._config, list(services.values()),
                                             lb_class=self.lb_class)
            self._apply(results, services)
        else:
            services = {key: self._services.get(key) for key in batch}
            reprocess = False
            for key, svc in services.items():
                result = converge.converge_service(self._allocator, self._config, key, svc,
                                                   lb_class=self.lb_class)
                self._apply({key: result}, services)
                reprocess = reprocess or result.reprocess_all
            if reprocess:
                self._queue.add(RESYNC_ALL)
        self._publish_pools()

    def _apply(self, results: dict, services: dict) -> None:
        for key, result in results.items():
            svc = services.get(key)
            self.metrics.updates.inc()
            if svc is None:
                continue
            for event in result.events:
                self._events.record(svc, event.type, event.reason, event.message)
            if result.changed:
                self._writer.submit(key, svc, result.ips, result.pool)
            else:
                self._queue.forget(key)

    def _write_failed(self, key: str, exc: Exception) -> None:
        """A status write failed (API outage, conflicts): reconcile the key again later."""
        self.metrics.update_errors.inc()
        delay = self._queue.retry(key)
        LOG.warning("service %s: status not written (%s); retry in %.1fs", key, exc, delay)

    def _publish_pools(self) -> None:
        names = set(self._config.pools)
        for name, pool in self._config.pools.items():
            counters = self._allocator.counters(name)
            total_v4, total_v6 = pool_capacity(pool)
            self.metrics.set_pool(name, total_v4, total_v6, counters.assigned_v4, counters.assigned_v6)
            try:
                self._status.pool_counters(name, counters.assigned_v4, counters.assigned_v6,
                                           counters.available_v4, counters.available_v6)
            except Exception as exc:  # noqa: BLE001
                LOG.debug("pool %s status not written: %s", name, exc)
        self.metrics.forget_pools(names)
        self._status.forget_pools(names)
