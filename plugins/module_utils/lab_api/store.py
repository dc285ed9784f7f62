# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Objects, the global resourceVersion counter, the bounded watch history and the watchers.

One lock guards everything (the HTTP layer holds it for a whole read-modify-write, so writes are
serialised exactly like etcd transactions on one key range). Stored objects are never mutated after
commit, so readers and watch queues may share them without copying.

Watchers get their events through a per-watch ``queue.SimpleQueue``; a watch thread blocks on its
queue, so an idle server uses no CPU. The history is global (one counter for all resources, as in
etcd); a watch that asks for a resourceVersion older than the oldest event still held gets 410
Expired, exactly the situation the real watch cache reports as "too old resource version".
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

# (group, plural): the storage key of one resource, independent of the served version.
ResourceKey = tuple


@dataclass(frozen=True)
class Change:
    """One committed write. ``obj`` is the new state (for DELETED: the last state, with the
    deletion's resourceVersion, as the real API sends it); ``prev`` the state before."""

    rv: int
    key: ResourceKey
    type: str
    obj: dict
    prev: dict | None


def _ident(obj: dict) -> tuple[str, str]:
    meta = obj["metadata"]
    return meta.get("namespace") or "", meta["name"]


class Watcher:
    """A subscription to one resource (optionally one namespace); events arrive on ``queue``."""

    CLOSED = object()

    def __init__(self, key: ResourceKey, namespace: str | None, limit: int) -> None:
        self.key = key
        self.namespace = namespace
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.limit = limit
        self.overflowed = False
        self.closed = False

    def offer(self, change: Change) -> None:
        if self.closed:
            return
        if self.namespace and (change.obj["metadata"].get("namespace") or "") != self.namespace:
            return
        if self.queue.qsize() >= self.limit:
            # A reader this far behind is dropped (the real API closes slow watchers too); the
            # client sees the stream end and re-watches or relists.
            self.overflowed = True
            self.close()
            return
        self.queue.put(change)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put(self.CLOSED)


class Expired(Exception):
    """The requested resourceVersion is older than the history: the client must relist."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Store:
    def __init__(
        self, history_size: int = 10000, initial_rv: int | None = None, watch_queue_limit: int = 100000
    ) -> None:
        self.lock = threading.RLock()
        self.advanced = threading.Condition(self.lock)
        # Without saved state the counter starts from the clock (microseconds), so a client that
        # still holds a resourceVersion from before a restart is told 410 (relist) instead of
        # waiting for the counter to catch up with it.
        self.rv = initial_rv if initial_rv is not None else int(time.time() * 1_000_000)
        self.floor = self.rv  # a watch may resume from any rv >= floor
        self.objects: dict[ResourceKey, dict[tuple[str, str], dict]] = collections.defaultdict(dict)
        self.history: collections.deque = collections.deque(maxlen=max(1, history_size))
        self.last_write: dict[ResourceKey, int] = {}
        self.watchers: dict[ResourceKey, set[Watcher]] = collections.defaultdict(set)
        self.watch_queue_limit = watch_queue_limit
        self.closed = False

    # ------------------------------------------------------------------ reads
    def get(self, key: ResourceKey, namespace: str, name: str) -> dict | None:
        return self.objects.get(key, {}).get((namespace or "", name))

    def list(self, key: ResourceKey, namespace: str | None = None) -> list[dict]:
        bucket = self.objects.get(key, {})
        items = [obj for (ns, _name), obj in bucket.items() if namespace is None or ns == namespace]
        items.sort(key=_ident)
        return items

    def count(self, key: ResourceKey) -> int:
        return len(self.objects.get(key, {}))

    # ------------------------------------------------------------------ writes (caller holds lock)
    def _commit(self, key: ResourceKey, type_: str, obj: dict, prev: dict | None) -> Change:
        change = Change(self.rv, key, type_, obj, prev)
        if len(self.history) == self.history.maxlen:
            self.floor = self.history[0].rv
        self.history.append(change)
        self.last_write[key] = self.rv
        for watcher in list(self.watchers.get(key, ())):
            watcher.offer(change)
            if watcher.closed:
                self.watchers[key].discard(watcher)
        self.advanced.notify_all()
        return change

    def put(self, key: ResourceKey, obj: dict) -> dict:
        """Create or replace ``obj`` (a fresh dict the caller no longer touches); sets its rv."""
        with self.lock:
            ident = _ident(obj)
            prev = self.objects[key].get(ident)
            self.rv += 1
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objects[key][ident] = obj
            self._commit(key, "MODIFIED" if prev is not None else "ADDED", obj, prev)
            return obj

    def remove(self, key: ResourceKey, namespace: str, name: str) -> dict | None:
        with self.lock:
            prev = self.objects.get(key, {}).pop((namespace or "", name), None)
            if prev is None:
                return None
            self.rv += 1
            gone = dict(prev)
            gone["metadata"] = dict(prev["metadata"], resourceVersion=str(self.rv))
            self._commit(key, "DELETED", gone, prev)
            return prev

    def drop_resource(self, key: ResourceKey) -> list[dict]:
        """Delete every object of a resource (a CRD went away); watchers see DELETED events."""
        with self.lock:
            removed = []
            for ns, name in list(self.objects.get(key, {})):
                obj = self.remove(key, ns, name)
                if obj is not None:
                    removed.append(obj)
            for watcher in list(self.watchers.pop(key, ())):
                watcher.close()
            return removed

    # ------------------------------------------------------------------ watch
    def subscribe(
        self, key: ResourceKey, namespace: str | None, since: int | None
    ) -> tuple[Watcher, list[Change]]:
        """Register a watcher and return the events it must see first.

        ``since`` None ⇒ synthetic ADDED for every current object (the real API's behaviour for
        resourceVersion unset or "0"); otherwise every change after ``since`` from the history,
        or ``Expired`` when the history no longer reaches back that far.
        """
        with self.lock:
            if self.closed:
                raise Expired(since or 0, self.floor)
            initial: list[Change] = []
            if since is None:
                for obj in self.list(key, namespace):
                    initial.append(Change(int(obj["metadata"]["resourceVersion"]), key, "ADDED", obj, None))
            else:
                if since < self.floor:
                    raise Expired(since, self.floor)
                for change in reversed(self.history):
                    if change.rv <= since:
                        break
                    if change.key == key and (
                        not namespace or (change.obj["metadata"].get("namespace") or "") == namespace
                    ):
                        initial.append(change)
                initial.reverse()
            watcher = Watcher(key, namespace, self.watch_queue_limit)
            self.watchers[key].add(watcher)
            return watcher, initial

    def unsubscribe(self, watcher: Watcher) -> None:
        with self.lock:
            self.watchers.get(watcher.key, set()).discard(watcher)
            watcher.closed = True

    def wait_for_rv(self, rv: int, timeout: float) -> bool:
        """Block until the counter reaches ``rv`` (a list asking for a future version)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.rv < rv:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.advanced.wait(left)
            return True

    def close(self) -> None:
        """Shutdown: end every watch stream."""
        with self.lock:
            self.closed = True
            for watchers in self.watchers.values():
                for watcher in list(watchers):
                    watcher.close()
            self.watchers.clear()

    # ------------------------------------------------------------------ persistence
    def snapshot(self) -> dict:
        with self.lock:
            return {
                "resourceVersion": self.rv,
                "resources": [
                    {"group": key[0], "plural": key[1], "items": list(bucket.values())}
                    for key, bucket in self.objects.items()
                    if bucket
                ],
            }

    def load(self, items: Iterable[tuple[ResourceKey, dict]], rv: int) -> None:
        """Restore objects saved by ``snapshot`` (no events; the history starts empty at ``rv``)."""
        with self.lock:
            for key, obj in items:
                self.objects[key][_ident(obj)] = obj
            self.rv = rv
            self.floor = rv
