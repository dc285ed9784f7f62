# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceL2Status objects (metallb.io/v1beta1): which node announces a Service in layer 2.

MetalLB's rules (``layer2_status_controller.go``): one object per announced Service, created by
the announcing node (``generateName: l2-``, labels ``metallb.io/node``, ``metallb.io/service-name``,
``metallb.io/service-namespace``; ``status.node/serviceName/serviceNamespace`` are immutable,
``status.interfaces`` only when the advertisement names interfaces); a node that stops
announcing deletes its object and a new leader deletes the other nodes' objects.

Writes never block the speaker: ``set`` records the desired state per Service and a worker
thread converges it, the latest desire replacing any not yet written, failures retried with
exponential backoff, and all writes paced by a token bucket so a failover of many Services
costs a bounded number of API calls per second (never O(services) per second). A steady state
costs no calls at all: the worker compares against the informer's cache first and reads the
API (one label-selected list) only when it is about to write.
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
import time
from collections.abc import Callable

from ...engine.vocabulary import (GROUP, SERVICE_L2_STATUS, STATUS_NODE_LABEL, STATUS_SERVICE_NAME_LABEL,
                                  STATUS_SERVICE_NAMESPACE_LABEL, plural, version)

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover
    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.l2status")
KIND = SERVICE_L2_STATUS
VERSION = version(KIND)
PLURAL = plural(KIND)
NODE_LABEL = STATUS_NODE_LABEL
NAME_LABEL = STATUS_SERVICE_NAME_LABEL
NAMESPACE_LABEL = STATUS_SERVICE_NAMESPACE_LABEL
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = 10  # seconds: a black-holed API must not hold the writer forever
_ABSENT = object()


def desired_status(node: str, svc_namespace: str, svc_name: str, interfaces: tuple[str, ...]) -> dict:
    status: dict = {"node": node, "serviceName": svc_name, "serviceNamespace": svc_namespace}
    if interfaces:
        status["interfaces"] = [{"name": name} for name in interfaces]
    return status


def object_service(obj: dict) -> str | None:
    """``namespace/name`` of the Service a status object is about (labels first, then status)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    status = obj.get("status") or {}
    ns = labels.get(NAMESPACE_LABEL) or status.get("serviceNamespace")
    name = labels.get(NAME_LABEL) or status.get("serviceName")
    return "%s/%s" % (ns, name) if ns and name else None


def object_node(obj: dict) -> str | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return labels.get(NODE_LABEL) or (obj.get("status") or {}).get("node")


class TokenBucket:
    """``rate`` operations per second on average, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(rate, 0.001)
        self.burst = max(burst, 1)
        self._clock = clock
        self._tokens = float(self.burst)
        self._stamp = clock()

    def delay(self) -> float:
        """Seconds to wait before the next operation (0: take a token now)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class L2StatusWriter:
    """Converges ServiceL2Status objects of this node to what the speaker announces.

    ``cached(key)`` returns the status objects the informer holds for a Service key;
    ``set(key, interfaces)`` says this node announces it, ``set(key, None)`` that it does not.
    """

    # The status kind it writes (kube.bgp_status reuses the worker for ServiceBGPStatus).
    kind = KIND
    plural = PLURAL
    version = VERSION
    generate_name = "l2-"
    exclusive = True  # one object per Service: the announcing node removes the other nodes' objects

    def __init__(self, custom_api, namespace: str, node: str, cached: Callable[[str], list[dict]], *,
                 qps: float = 20.0, burst: int = 50, backoff_min: float = 0.2, backoff_max: float = 30.0,
                 on_error: Callable[[str, Exception], None] | None = None) -> None:
        self._api = custom_api
        self.namespace = namespace
        self.node = node
        self._cached = cached
        self._bucket = TokenBucket(qps, burst)
        self._backoff = (backoff_min, backoff_max)
        self._on_error = on_error
        self._cond = threading.Condition()
        self._desired: dict[str, tuple[str, ...] | None] = {}
        self._ready: dict[str, None] = {}
        self._delayed: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._busy = False
        self._stop = False
        self.writes = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="l2status", daemon=True)

    # ------------------------------------------------------------------ API (speaker thread)
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread.ident is not None:  # a speaker stopped before it ran never started it
            self._thread.join(timeout)

    def set(self, key: str, wanted: tuple[str, ...] | None) -> None:
        """Desired state of Service ``key``: announced here on ``wanted`` interfaces (() = all), or None
        (``bgp_status``: the peers it is advertised to)."""
        with self._cond:
            stored = self._desired.get(key, _ABSENT)
            if stored == wanted and key in self._failures:
                return  # already scheduled for a retry: keep its backoff (API outage)
            if (stored == wanted or (stored is _ABSENT and wanted is None)) and self._in_sync(key, wanted):
                return
            self._desired[key] = wanted
            self._ready[key] = None
            self._cond.notify()

    def recheck(self, key: str) -> None:
        """The objects of ``key`` changed behind our back (informer event): converge it again."""
        with self._cond:
            if key in self._desired:
                self._ready[key] = None
                self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._ready and not self._delayed and not self._busy

    def desired(self) -> dict[str, tuple[str, ...] | None]:
        with self._cond:
            return dict(self._desired)

    # ------------------------------------------------------------------ decisions (no I/O)
    def _status(self, svc_namespace: str, svc_name: str, wanted: tuple[str, ...]) -> dict:
        return desired_status(self.node, svc_namespace, svc_name, wanted)

    def _in_sync(self, key: str, wanted: tuple[str, ...] | None) -> bool:
        """Does the informer cache already show the desired state for ``key``?"""
        objs = self._cached(key)
        mine = [o for o in objs if object_node(o) == self.node]
        if wanted is None:
            return not mine
        if len(mine) != 1 or (self.exclusive and len(objs) != 1):
            return False
        ns, name = key.split("/", 1)
        return (mine[0].get("status") or {}) == self._status(ns, name, wanted)

    # ------------------------------------------------------------------ worker
    def _next(self) -> str | None:
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    _due, key = heapq.heappop(self._delayed)
                    self._ready[key] = None
                if self._ready:
                    key = next(iter(self._ready))
                    del self._ready[key]
                    self._busy = True
                    return key
                wait = self._delayed[0][0] - now if self._delayed else None
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while True:
            key = self._next()
            if key is None:
                return
            try:
                with self._cond:
                    wanted = self._desired.get(key)
                    known = key in self._desired
                if known and not self._in_sync(key, wanted):
                    self._converge(key, wanted)
                with self._cond:
                    self._failures.pop(key, None)
                    if wanted is None and self._desired.get(key, ()) is None and self._in_sync(key, None):
                        self._desired.pop(key, None)  # nothing of ours left: forget the key
            except Exception as exc:  # noqa: BLE001 - API down, conflicts: retry later, never crash
                self.errors += 1
                with self._cond:
                    failures = self._failures.get(key, 0)
                    self._failures[key] = failures + 1
                    delay = min(self._backoff[0] * (2 ** failures), self._backoff[1])
                    heapq.heappush(self._delayed, (time.monotonic() + delay, key))
                if self._on_error is not None:
                    self._on_error(key, exc)
                LOG.debug("%s for %s not written (%s); retry in %.1fs", self.kind, key, exc, delay)
            finally:
                with self._cond:
                    self._busy = False

    def _pace(self) -> None:
        while True:
            delay = self._bucket.delay()
            if delay <= 0:
                return
            with self._cond:
                if self._stop:
                    raise RuntimeError("stopping")
                self._cond.wait(delay)

    def _list(self, key: str) -> list[dict]:
        ns, name = key.split("/", 1)
        selector = "%s=%s,%s=%s" % (NAMESPACE_LABEL, ns, NAME_LABEL, name)
        resp = self._api.list_namespaced_custom_object(GROUP, self.version, self.namespace, self.plural,
                                                       label_selector=selector, _preload_content=False,
                                                       _request_timeout=REQUEST_TIMEOUT)
        return json.loads(resp.data).get("items") or []

    def _delete(self, obj: dict) -> None:
        self._pace()
        try:
            self._api.delete_namespaced_custom_object(GROUP, self.version, self.namespace, self.plural,
                                                      obj["metadata"]["name"], _preload_content=False,
                                                      _request_timeout=REQUEST_TIMEOUT)
            self.writes += 1
        except ApiException as exc:
            if exc.status != 404:
                raise

    def _converge(self, key: str, wanted: tuple[str, ...] | None) -> None:
        objs = self._list(key)  # fresh: the cache may lag behind our own last write
        ns, name = key.split("/", 1)
        mine = [o for o in objs if object_node(o) == self.node]
        if wanted is None:
            for obj in mine:
                self._delete(obj)
            return
        if self.exclusive:
            for obj in objs:
                if object_node(obj) != self.node:
                    self._delete(obj)
        want = self._status(ns, name, wanted)
        keep = None
        for obj in mine:
            if keep is None and (obj.get("status") or {}).get("node") in (None, self.node):
                keep = obj
            else:
                self._delete(obj)
        if keep is None:
            body = {"apiVersion": "%s/%s" % (GROUP, self.version), "kind": self.kind,
                    "metadata": {"generateName": self.generate_name, "namespace": self.namespace,
                                 "labels": {NODE_LABEL: self.node, NAME_LABEL: name, NAMESPACE_LABEL: ns}}}
            self._pace()
            keep = json.loads(self._api.create_namespaced_custom_object(
                GROUP, self.version, self.namespace, self.plural, body, _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT).data)
            self.writes += 1
        current = keep.get("status") or {}
        if current != want:
            self._pace()
            # A merge patch replaces lists wholesale; a field we no longer want is removed with null.
            patch = {"status": dict({field: None for field in current if field not in want}, **want)}
            self._api.patch_namespaced_custom_object_status(
                GROUP, self.version, self.namespace, self.plural, keep["metadata"]["name"], patch,
                _content_type=MERGE_PATCH, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            self.writes += 1
