# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List + watch one resource into a local cache of plain dicts.

The daemons decide from dicts (the engine never sees client model classes), so lists are
read with ``_preload_content=False`` and watches with ``deserialize=False``: this skips the
client's slow model deserialisation and keeps camelCase field names. A watch that expires
(410 Gone) or breaks is resumed by a fresh list; every other error backs off and relists,
never crashes, and never forgets the cache (the daemons keep working from the last view).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Optional

try:
    from kubernetes import watch as k8s_watch
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - the daemons check HAS_KUBERNETES first
    k8s_watch = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0


LOG = logging.getLogger("metal_lb.informer")

# on_change(event_type, key, new_object_or_None, old_object_or_None)
ChangeHandler = Callable[[str, str, Optional[dict], Optional[dict]], None]


def object_key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return "%s/%s" % (namespace, meta.get("name")) if namespace else str(meta.get("name"))


def start_and_sync(informers, stop: threading.Event, log: logging.Logger | None = None) -> bool:
    """Start every informer and wait until each has listed once; False if ``stop`` is set first.
    The daemons decide nothing before this: a partial view would move or drop IPs."""
    for informer in informers:
        informer.start()
    for informer in informers:
        while not informer.synced.wait(1.0):
            if stop.is_set():
                return False
            if log is not None:
                log.info("waiting for the API: %s not listed yet", informer.name)
    return True


class Informer:
    """A cache of one resource kept current by list+watch on a background thread."""

    def __init__(
        self,
        name: str,
        list_fn: Callable,
        on_change: ChangeHandler,
        *,
        args: tuple = (),
        kwargs: dict | None = None,
        kind: str = "",
        api_version: str = "",
        watch_timeout: int = 300,
        backoff_min: float = 0.2,
        backoff_max: float = 30.0,
        transform: Callable[[dict], dict] | None = None,
    ) -> None:
        self.name = name
        self._list_fn = list_fn
        self._args = args
        self._kwargs = dict(kwargs or {})
        self._on_change = on_change
        self._kind = kind
        self._api_version = api_version
        self._watch_timeout = watch_timeout
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._transform = transform
        self._cache: dict[str, dict] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watch = None
        self.synced = threading.Event()
        self.relists = 0
        self.errors = 0
        self._thread = threading.Thread(target=self._run, name="informer-%s" % name, daemon=True)

    # -- public -------------------------------------------------------------
    def start(self) -> Informer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._watch is not None:
            self._watch.stop()

    def items(self) -> list[dict]:
        with self._lock:
            return list(self._cache.values())

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._cache.get(key)

    # -- internals ------------------------------------------------------------
    def _stamp(self, obj: dict) -> dict:
        """Fill kind/apiVersion (lists omit them) and apply the transform, like client-go's
        SetTransform: the cache then holds only what the daemon reads."""
        if self._transform is not None:
            obj = self._transform(obj)
        if self._kind and "kind" not in obj:
            obj["kind"] = self._kind
        if self._api_version and "apiVersion" not in obj:
            obj["apiVersion"] = self._api_version
        return obj

    def _relist(self) -> str:
        resp = self._list_fn(*self._args, _preload_content=False, **self._kwargs)
        body = json.loads(resp.data)
        fresh = {}
        for item in body.get("items") or []:
            fresh[object_key(item)] = self._stamp(item)
        with self._lock:
            old = self._cache
            self._cache = fresh
        for key, obj in fresh.items():
            before = old.get(key)
            if before is None:
                self._on_change("ADDED", key, obj, None)
            elif (before.get("metadata") or {}).get("resourceVersion") != (obj.get("metadata") or {}).get(
                "resourceVersion"
            ):
                self._on_change("MODIFIED", key, obj, before)
        for key, before in old.items():
            if key not in fresh:
                self._on_change("DELETED", key, None, before)
        self.relists += 1
        self.synced.set()
        return str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _apply(self, event: dict) -> str | None:
        kind = event.get("type")
        obj = event.get("object") or {}
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        if kind == "BOOKMARK":
            return rv
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, dict):
            return None
        obj = self._stamp(obj)
        key = object_key(obj)
        with self._lock:
            before = self._cache.get(key)
            if kind == "DELETED":
                self._cache.pop(key, None)
            else:
                self._cache[key] = obj
        if kind == "DELETED":
            self._on_change("DELETED", key, None, before or obj)
        else:
            self._on_change("ADDED" if before is None else "MODIFIED", key, obj, before)
        return rv

    def _run(self) -> None:
        backoff = self._backoff_min
        while not self._stop.is_set():
            try:
                rv = self._relist()
                backoff = self._backoff_min
                while not self._stop.is_set():
                    self._watch = k8s_watch.Watch()
                    for event in self._watch.stream(
                        self._list_fn,
                        *self._args,
                        resource_version=rv,
                        allow_watch_bookmarks=True,
                        timeout_seconds=self._watch_timeout,
                        deserialize=False,
                        _request_timeout=self._watch_timeout + 30,
                        **self._kwargs,
                    ):
                        new_rv = self._apply(event)
                        if new_rv:
                            rv = new_rv
                        if self._stop.is_set():
                            break
            except KeyError:
                # kubernetes' Watch.stream(deserialize=False) raises KeyError('raw_object') on an
                # ERROR event (a 410 Expired in practice) instead of ApiException: relist now.
                self.errors += 1
                LOG.info("informer %s: watch ended with an error event, relisting", self.name)
                continue
            except ApiException as exc:
                self.errors += 1
                if getattr(exc, "status", 0) == 410:
                    LOG.info("informer %s: watch expired, relisting", self.name)
                    continue
                LOG.warning("informer %s: API error %s, retrying in %.1fs", self.name, exc.status, backoff)
            except Exception as exc:  # noqa: BLE001 - network faults of every kind end in a relist
                self.errors += 1
                if self._stop.is_set():
                    return
                LOG.warning("informer %s: %s, retrying in %.1fs", self.name, exc, backoff)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self._backoff_max)
