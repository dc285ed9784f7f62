# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write what the engine decided: Service status/annotation and Events.

Every write carries the resourceVersion it was computed from (optimistic concurrency); a
409 re-reads the object and re-applies the same decision, because the allocator already
holds the IPs and only the object's other fields can have moved. Writes are skipped when
the object already says what we want, so a steady state costs no API calls.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Sequence
from datetime import datetime, timezone

from ...engine.vocabulary import POOL_ANNOTATION

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover
    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.writer")
MERGE_PATCH = "application/merge-patch+json"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def current_ingress(svc: dict) -> list[str]:
    ingress = (((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress")) or []
    return [entry.get("ip") for entry in ingress if isinstance(entry, dict) and entry.get("ip")]


def current_pool(svc: dict) -> str | None:
    return ((svc.get("metadata") or {}).get("annotations") or {}).get(POOL_ANNOTATION)


class StaleDecision(Exception):
    """A Service changed after the snapshot a decision was made from (the API answered 409)."""

    def __init__(self, namespace: str, name: str) -> None:
        super().__init__("%s/%s" % (namespace, name))


class ServiceWriter:
    """Brings a Service's ingress and pool annotation to the decided values.

    On a 409 the daemon (the only writer: it holds the Lease) re-reads and re-applies its
    decision. ``reapply_on_conflict=False`` raises StaleDecision instead, for writers beside a
    running controller (the assign module): the conflicting write may be the controller's own
    assignment, and re-applying a decision from an older snapshot could give one IP twice.
    """

    def __init__(self, core_api, retries: int = 5, reapply_on_conflict: bool = True) -> None:
        self._api = core_api
        self._retries = retries
        self._reapply = reapply_on_conflict
        self.writes = 0
        self.conflicts = 0

    def _read(self, namespace: str, name: str) -> dict | None:
        try:
            return json.loads(self._api.read_namespaced_service(name, namespace, _preload_content=False).data)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def write(self, svc: dict, ips: Sequence[str], pool: str | None) -> dict | None:
        """Return the object as stored after the write (None if the Service is gone).

        One merge patch on ``/status`` carries the pool annotation too: for Services the API
        server keeps metadata changes made through the status subresource (only the spec is
        reset), which is what MetalLB's single UpdateStatus relies on as well.
        """
        meta = svc.get("metadata") or {}
        namespace, name = meta.get("namespace"), meta.get("name")
        obj = svc
        for _attempt in range(self._retries):
            body: dict = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}}
            if current_pool(obj) != pool:
                body["metadata"]["annotations"] = {POOL_ANNOTATION: pool}
            if current_ingress(obj) != list(ips):
                body["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips] if ips else None}}
            if len(body) == 1 and len(body["metadata"]) == 1:
                return obj
            try:
                obj = json.loads(self._api.patch_namespaced_service_status(
                    name, namespace, body, _content_type=MERGE_PATCH, _preload_content=False).data)
                self.writes += 1
                return obj
            except ApiException as exc:
                if exc.status == 404:
                    return None
                if exc.status != 409:
                    raise
                self.conflicts += 1
                if not self._reapply:
                    raise StaleDecision(namespace, name) from exc
                fresh = self._read(namespace, name)
                if fresh is None:
                    return None
                obj = fresh
        raise RuntimeError("service %s/%s: gave up after %d conflicting writes" % (namespace, name, self._retries))


class StatusSyncer:
    """Writes Service decisions on a few threads, at most one write per Service at a time.

    The latest decision for a Service replaces any not yet written, so a slow write can
    never land after (and undo) a newer decision; failures go back to the caller's retry.
    """

    def __init__(self, writer: ServiceWriter, on_error, workers: int = 4) -> None:
        self._writer = writer
        self._on_error = on_error
        self._lock = threading.Lock()
        self._desired: dict[str, tuple] = {}
        self._busy: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="status")

    def submit(self, key: str, svc: dict, ips: Sequence[str], pool: str | None) -> None:
        with self._lock:
            self._desired[key] = (svc, list(ips), pool)
            if key in self._busy:
                return
            self._busy.add(key)
        self._pool.submit(self._work, key)

    def idle(self) -> bool:
        with self._lock:
            return not self._busy

    def _work(self, key: str) -> None:
        while True:
            with self._lock:
                item = self._desired.pop(key, None)
                if item is None:
                    self._busy.discard(key)
                    return
            try:
                self._writer.write(*item)
            except Exception as exc:  # noqa: BLE001 - reported to the loop, which retries with backoff
                self._on_error(key, exc)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


class EventRecorder:
    """Kubernetes Events on an object, aggregated like client-go (count + lastTimestamp).

    ``record`` only queues: a background thread writes, so a slow or unreachable API never
    delays a reconcile (an Event is informational; losing one on shutdown is acceptable).
    """

    def __init__(self, core_api, component: str, instance: str = "", ttl: float = 600.0,
                 background: bool = True, max_queue: int = 10000) -> None:
        self._api = core_api
        self.component = component
        self.instance = instance
        self._ttl = ttl
        self._seen: dict[tuple, tuple[str, int, float]] = {}
        self._lock = threading.Lock()
        self.failures = 0
        self.dropped = 0
        self._queue: queue.Queue | None = queue.Queue(max_queue) if background else None
        if self._queue is not None:
            threading.Thread(target=self._drain, name="events", daemon=True).start()

    def record(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        if self._queue is None:
            self.send(obj, event_type, reason, message)
            return
        try:
            self._queue.put_nowait((obj, event_type, reason, message))
        except queue.Full:
            self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until queued events are written (tests, orderly shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue is not None and self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                self.send(*item)
            finally:
                self._queue.task_done()

    def send(self, obj: dict, event_type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid"), namespace, meta.get("name"), event_type, reason, message)
        now = time.monotonic()
        with self._lock:
            seen = self._seen.get(key)
            if seen and now - seen[2] > self._ttl:
                seen = None
        try:
            if seen:
                name, count = seen[0], seen[1]
                body = {"count": count + 1, "lastTimestamp": _now()}
                self._api.patch_namespaced_event(name, namespace, body, _content_type=MERGE_PATCH,
                                                 _preload_content=False)
                with self._lock:
                    self._seen[key] = (name, count + 1, now)
                return
            stamp = _now()
            name = "%s.%s" % (meta.get("name"), uuid.uuid4().hex[:16])
            body = {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace},
                "involvedObject": {
                    "apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind", "Service"),
                    "name": meta.get("name"), "namespace": namespace, "uid": meta.get("uid"),
                    "resourceVersion": meta.get("resourceVersion"),
                },
                "reason": reason,
                "message": message,
                "type": event_type,
                "source": {"component": self.component},
                "reportingComponent": self.component,
                "reportingInstance": self.instance,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "count": 1,
            }
            self._api.create_namespaced_event(namespace, body, _preload_content=False)
            with self._lock:
                self._seen[key] = (name, 1, now)
                if len(self._seen) > 10000:
                    self._seen.clear()
        except Exception as exc:  # noqa: BLE001 - an event is never worth failing a reconcile
            self.failures += 1
            LOG.debug("event %s/%s %s not recorded: %s", namespace, meta.get("name"), reason, exc)
