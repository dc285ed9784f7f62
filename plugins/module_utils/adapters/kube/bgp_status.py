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

from ...engine.vocabulary import SERVICE_BGP_STATUS, plural, version
from .l2_status import L2StatusWriter

KIND = SERVICE_BGP_STATUS
VERSION = version(KIND)
PLURAL = plural(KIND)


def desired_status(node: str, svc_namespace: str, svc_name: str, peers: tuple[str, ...]) -> dict:
    return {"node": node, "serviceName": svc_name, "serviceNamespace": svc_namespace, "peers": sorted(peers)}


class BGPStatusWriter(L2StatusWriter):
    """Converges this node's ServiceBGPStatus objects to the peers each Service is advertised to."""

    kind = KIND
    plural = PLURAL
    version = VERSION
    generate_name = "bgp-"
    exclusive = False  # every advertising node has its own object

    def set(self, key: str, wanted: tuple[str, ...] | None) -> None:
        """``wanted``: the peers Service ``key`` is advertised to (None or empty: no object)."""
        super().set(key, tuple(sorted(wanted)) if wanted else None)

    def _status(self, svc_namespace: str, svc_name: str, wanted: tuple[str, ...]) -> dict:
        return desired_status(self.node, svc_namespace, svc_name, wanted)
