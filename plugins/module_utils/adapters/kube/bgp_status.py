# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceBGPStatus objects (metallb.io/v1beta1): the peers a node advertises a Service to.

MetalLB's rules (``bgp_status_controller.go``): one object per (Service, node), created by that
node (``generateName: bgp-``, the ServiceL2Status labels), ``status.peers`` the sorted names of
the BGPPeers currently given one of the Service's prefixes, deleted when there are none. Unlike
layer 2, every announcing node has its own object: a node never touches another node's.

The paced, retrying, cache-first worker is layer 2's (``l2_status.L2StatusWriter``); only what an
object should hold differs. ``set(key, peers)`` with the peer names, ``set(key, None)``: none.
"""

from __future__ import annotations

import json

from ...engine.vocabulary import GROUP, SERVICE_BGP_STATUS, plural, version
from .l2_status import MERGE_PATCH, NAME_LABEL, NAMESPACE_LABEL, NODE_LABEL, REQUEST_TIMEOUT, L2StatusWriter, \
    object_node

KIND = SERVICE_BGP_STATUS
VERSION = version(KIND)
PLURAL = plural(KIND)


def desired_status(node: str, svc_namespace: str, svc_name: str, peers: tuple[str, ...]) -> dict:
    return {"node": node, "serviceName": svc_name, "serviceNamespace": svc_namespace, "peers": sorted(peers)}


class BGPStatusWriter(L2StatusWriter):
    """Converges this node's ServiceBGPStatus objects to the peers each Service is advertised to."""

    plural = PLURAL
    version = VERSION

    def set(self, key: str, wanted: tuple[str, ...] | None) -> None:
        """``wanted``: the peers Service ``key`` is advertised to (None or empty: no object)."""
        super().set(key, tuple(sorted(wanted)) if wanted else None)

    def _in_sync(self, key: str, wanted: tuple[str, ...] | None) -> bool:
        peers = wanted
        mine = [o for o in self._cached(key) if object_node(o) == self.node]
        if peers is None:
            return not mine
        if len(mine) != 1:
            return False
        ns, name = key.split("/", 1)
        return (mine[0].get("status") or {}) == desired_status(self.node, ns, name, peers)

    def _converge(self, key: str, wanted: tuple[str, ...] | None) -> None:
        peers = wanted
        mine = [o for o in self._list(key) if object_node(o) == self.node]  # fresh, not the cache
        if peers is None:
            for obj in mine:
                self._delete(obj)
            return
        ns, name = key.split("/", 1)
        want = desired_status(self.node, ns, name, peers)
        keep = None
        for obj in mine:
            if keep is None and (obj.get("status") or {}).get("node") in (None, self.node):
                keep = obj
            else:
                self._delete(obj)
        if keep is None:
            body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": KIND,
                    "metadata": {"generateName": "bgp-", "namespace": self.namespace,
                                 "labels": {NODE_LABEL: self.node, NAME_LABEL: name, NAMESPACE_LABEL: ns}}}
            self._pace()
            keep = json.loads(self._api.create_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, body, _preload_content=False,
                _request_timeout=REQUEST_TIMEOUT).data)
            self.writes += 1
        if (keep.get("status") or {}) != want:
            self._pace()
            self._api.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, PLURAL, keep["metadata"]["name"], {"status": want},
                _content_type=MERGE_PATCH, _preload_content=False, _request_timeout=REQUEST_TIMEOUT)
            self.writes += 1
