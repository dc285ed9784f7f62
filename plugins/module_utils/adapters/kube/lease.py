# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One active controller among replicas, through a coordination.k8s.io Lease.

Same rules as client-go's leader election: a candidate takes the lease when it is free or
its holder has not renewed within ``leaseDurationSeconds``; the leader renews every
``retry_period`` and gives up leadership if it cannot renew for ``renew_deadline``; on
shutdown the leader releases the lease (empty holder) so a standby takes over at once.
Every write carries the lease's resourceVersion, so two candidates can never both win.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover
    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.lease")


def _now_micro() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_micro(value: str | None) -> float | None:
    """RFC 3339 as the API server writes it (``...Z``) or as a client may echo it (``+00:00``)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def lease_is_free(spec: dict, identity: str, now: float) -> bool:
    """Pure rule: may ``identity`` take (or keep) a lease with this spec at time ``now``?"""
    holder = spec.get("holderIdentity") or ""
    if not holder or holder == identity:
        return True
    renewed = _parse_micro(spec.get("renewTime")) or _parse_micro(spec.get("acquireTime"))
    duration = spec.get("leaseDurationSeconds") or 0
    return renewed is None or now > renewed + float(duration)


class LeaseElector:
    """Runs on its own thread; calls ``on_started`` / ``on_stopped`` on leadership changes."""

    def __init__(
        self,
        coordination_api,
        namespace: str,
        name: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
        on_started: Callable[[], None] = lambda: None,
        on_stopped: Callable[[], None] = lambda: None,
    ) -> None:
        self._api = coordination_api
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._on_started = on_started
        self._on_stopped = on_stopped
        self._stop = threading.Event()
        self.is_leader = threading.Event()
        self._last_renew = 0.0
        self._thread = threading.Thread(target=self._run, name="lease-%s" % name, daemon=True)

    def start(self) -> LeaseElector:
        self._thread.start()
        return self

    def stop(self, release: bool = True) -> None:
        """Stop competing; safe before ``start`` (a daemon stopped during its start-up sync)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.retry_period + 5)
        if release and self.is_leader.is_set():
            self._release()
        if self.is_leader.is_set():
            self.is_leader.clear()
            self._on_stopped()

    # -- internals ------------------------------------------------------------
    def _body(self, existing: dict | None, acquiring: bool) -> dict:
        now = _now_micro()
        spec = dict((existing or {}).get("spec") or {})
        transitions = spec.get("leaseTransitions") or 0
        if acquiring and spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = now
            transitions += 1 if spec.get("holderIdentity") else 0
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(max(1, round(self.lease_duration))),
            renewTime=now,
            leaseTransitions=transitions,
        )
        meta = {"name": self.name, "namespace": self.namespace}
        if existing:
            meta["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": spec}

    def _get(self) -> dict | None:
        try:
            resp = self._api.read_namespaced_lease(self.name, self.namespace, _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(resp.data)

    def _try_acquire_or_renew(self) -> bool:
        existing = self._get()
        if existing is None:
            self._api.create_namespaced_lease(self.namespace, self._body(None, True), _preload_content=False)
            return True
        if not lease_is_free(existing.get("spec") or {}, self.identity, time.time()):
            return False
        self._api.replace_namespaced_lease(
            self.name, self.namespace, self._body(existing, True), _preload_content=False
        )
        return True

    def _release(self) -> None:
        try:
            existing = self._get()
            if existing and (existing.get("spec") or {}).get("holderIdentity") == self.identity:
                body = self._body(existing, False)
                body["spec"]["holderIdentity"] = ""
                body["spec"]["leaseDurationSeconds"] = 1
                self._api.replace_namespaced_lease(self.name, self.namespace, body, _preload_content=False)
                LOG.info("lease %s/%s released", self.namespace, self.name)
        except Exception as exc:  # noqa: BLE001 - best effort on shutdown
            LOG.warning("lease %s/%s: release failed: %s", self.namespace, self.name, exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            ok = None  # None: the API could not be asked; False: another holder owns the lease
            try:
                ok = self._try_acquire_or_renew()
            except ApiException as exc:
                if exc.status != 409:  # 409: someone else wrote first; just retry
                    LOG.warning("lease %s/%s: API error %s", self.namespace, self.name, exc.status)
            except Exception as exc:  # noqa: BLE001 - API outages must not kill the elector
                LOG.warning("lease %s/%s: %s", self.namespace, self.name, exc)
            now = time.monotonic()
            if ok:
                self._last_renew = now
                if not self.is_leader.is_set():
                    LOG.info("lease %s/%s acquired by %s", self.namespace, self.name, self.identity)
                    self.is_leader.set()
                    self._on_started()
            elif self.is_leader.is_set() and (ok is False or now - self._last_renew > self.renew_deadline):
                LOG.warning("lease %s/%s: lost (held elsewhere or not renewed for %.0fs), stepping down",
                            self.namespace, self.name, self.renew_deadline)
                self.is_leader.clear()
                self._on_stopped()
            self._stop.wait(self.retry_period)
