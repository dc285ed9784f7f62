# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One node's status objects of one kind (ServiceL2Status, ServiceBGPStatus): the informer's view
of them indexed by Service, and the writer that converges them.

The writer compares against this index before it calls the API (a steady state costs nothing),
and an object changed behind its back (another node, a user) makes it look at that Service again.
"""

from __future__ import annotations

import threading

from ...engine.vocabulary import GROUP
from .informer import Informer
from .l2_status import L2StatusWriter, object_node, object_service
from .speaker_views import trim_l2_status


class ServiceStatuses:
    """``writer``: an ``L2StatusWriter`` (or subclass) fed by this index.

    ``informer``: its watch (None without an API)."""

    def __init__(self, writer_class: type[L2StatusWriter], custom_api, namespace: str, node: str, *,
                 qps: float, burst: int, on_error) -> None:
        self.node = node
        self._index: dict[str, dict[str, dict]] = {}  # Service key -> {object key: object}
        self._lock = threading.Lock()
        self.writer = writer_class(custom_api, namespace, node, self.cached, qps=qps, burst=burst,
                                   on_error=on_error)
        self.informer = Informer(writer_class.plural, custom_api.list_namespaced_custom_object, self._on_event,
                                 args=(GROUP, writer_class.version, namespace, writer_class.plural),
                                 transform=trim_l2_status) if custom_api is not None else None

    def informers(self) -> list[Informer]:
        return [self.informer] if self.informer is not None else []

    def stop(self) -> None:
        self.writer.stop()
        for informer in self.informers():
            informer.stop()

    def cached(self, svc_key: str) -> list[dict]:
        with self._lock:
            return list(self._index.get(svc_key, {}).values())

    def own_keys(self) -> set[str]:
        """Services with an object of this node (e.g. left from before a restart)."""
        with self._lock:
            return {svc for svc, objs in self._index.items()
                    if any(object_node(o) == self.node for o in objs.values())}

    def _on_event(self, _type: str, key: str, new, old) -> None:
        with self._lock:
            for obj in (old, new):
                svc = object_service(obj) if obj else None
                if svc is None:
                    continue
                bucket = self._index.setdefault(svc, {})
                if obj is new:
                    bucket[key] = new
                else:
                    bucket.pop(key, None)
                if not bucket:
                    self._index.pop(svc, None)
        for obj in (old, new):
            svc = object_service(obj) if obj else None
            if svc:
                self.writer.recheck(svc)
