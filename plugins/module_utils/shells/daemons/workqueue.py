# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A coalescing work queue with per-key retry backoff (client-go's workqueue, reduced).

Many watch events for one Service collapse into one reconcile; a failed key comes back
after an exponential delay instead of spinning; ``RESYNC_ALL`` asks for a full
reprocess-all pass, which supersedes every queued single key.
"""

from __future__ import annotations

import heapq
import threading
import time

RESYNC_ALL = "\x00all"


class WorkQueue:
    def __init__(self, backoff_min: float = 0.05, backoff_max: float = 30.0) -> None:
        self._cond = threading.Condition()
        self._ready: dict[str, None] = {}  # insertion-ordered set
        self._delayed: list[tuple[float, str]] = []
        self._failures: dict[str, int] = {}
        self._backoff_min = backoff_min
        self._backoff_max = backoff_max
        self._closed = False

    def add(self, key: str) -> None:
        with self._cond:
            self._ready[key] = None
            self._cond.notify()

    def add_after(self, key: str, delay: float) -> None:
        with self._cond:
            heapq.heappush(self._delayed, (time.monotonic() + delay, key))
            self._cond.notify()

    def retry(self, key: str) -> float:
        """Re-queue ``key`` after its next backoff delay; returns the delay."""
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = min(self._backoff_min * (2 ** failures), self._backoff_max)
        self.add_after(key, delay)
        return delay

    def forget(self, key: str) -> None:
        with self._cond:
            self._failures.pop(key, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._ready)

    def get_batch(self, timeout: float | None = None) -> list[str] | None:
        """Block until work is ready; return all ready keys (None when closed).

        When RESYNC_ALL is queued the batch is just ``[RESYNC_ALL]`` and the single keys
        queued with it are dropped: the full pass covers them.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                while self._delayed and self._delayed[0][0] <= now:
                    key = heapq.heappop(self._delayed)[1]
                    self._ready[key] = None
                if self._ready:
                    if RESYNC_ALL in self._ready:
                        self._ready.clear()
                        return [RESYNC_ALL]
                    batch = list(self._ready)
                    self._ready.clear()
                    return batch
                wait = None
                if self._delayed:
                    wait = max(0.0, self._delayed[0][0] - now)
                if deadline is not None:
                    remaining = deadline - now
                    if remaining <= 0:
                        return []
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)
