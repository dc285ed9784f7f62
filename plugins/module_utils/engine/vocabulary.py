# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API vocabulary metal.lb speaks: group, kinds, versions, plurals, label and
annotation keys, and the ``namespace/name`` key of an object.

Written once here so that the engine, the adapters, the daemons and the modules cannot spell
a name two ways. Plain constants and one pure function: every layer may import it.
"""

from __future__ import annotations

from collections.abc import Mapping

GROUP = "metallb.io"
V1BETA1 = "v1beta1"
V1BETA2 = "v1beta2"

# Configuration kinds in the order the parser reads them.
IP_ADDRESS_POOL = "IPAddressPool"
L2_ADVERTISEMENT = "L2Advertisement"
BGP_ADVERTISEMENT = "BGPAdvertisement"
BGP_PEER = "BGPPeer"
COMMUNITY = "Community"
BFD_PROFILE = "BFDProfile"
CONFIG_KINDS = (IP_ADDRESS_POOL, L2_ADVERTISEMENT, BGP_ADVERTISEMENT, BGP_PEER, COMMUNITY, BFD_PROFILE)

# Status kinds written by the daemons.
CONFIGURATION_STATE = "ConfigurationState"
SERVICE_L2_STATUS = "ServiceL2Status"
SERVICE_BGP_STATUS = "ServiceBGPStatus"

# kind -> (plural, the version metal.lb reads and writes: BGPPeer in its storage version)
KINDS: dict[str, tuple[str, str]] = {
    IP_ADDRESS_POOL: ("ipaddresspools", V1BETA1),
    L2_ADVERTISEMENT: ("l2advertisements", V1BETA1),
    BGP_ADVERTISEMENT: ("bgpadvertisements", V1BETA1),
    BGP_PEER: ("bgppeers", V1BETA2),
    COMMUNITY: ("communities", V1BETA1),
    BFD_PROFILE: ("bfdprofiles", V1BETA1),
    CONFIGURATION_STATE: ("configurationstates", V1BETA1),
    SERVICE_L2_STATUS: ("servicel2statuses", V1BETA1),
    SERVICE_BGP_STATUS: ("servicebgpstatuses", V1BETA1),
}


def plural(kind: str) -> str:
    return KINDS[kind][0]


def version(kind: str) -> str:
    return KINDS[kind][1]


def api_version(kind: str) -> str:
    """``metallb.io/<version>`` of a metallb.io kind."""
    return "%s/%s" % (GROUP, KINDS[kind][1])


# Service annotations: MetalLB's stable prefix, and the deprecated one still read as a fallback.
STABLE_PREFIX = GROUP + "/"
DEPRECATED_PREFIX = "metallb.universe.tf/"
POOL_ANNOTATION = STABLE_PREFIX + "ip-allocated-from-pool"
ALLOW_SHARED_IP = STABLE_PREFIX + "allow-shared-ip"
ALLOW_SHARED_IP_DEPRECATED = DEPRECATED_PREFIX + "allow-shared-ip"

# Labels of the status objects.
STATUS_NODE_LABEL = GROUP + "/node"
STATUS_SERVICE_NAME_LABEL = GROUP + "/service-name"
STATUS_SERVICE_NAMESPACE_LABEL = GROUP + "/service-namespace"
COMPONENT_TYPE_LABEL = GROUP + "/component-type"
NODE_NAME_LABEL = GROUP + "/node-name"

# Kubernetes' own keys.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # an EndpointSlice's Service
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
BASIC_AUTH_SECRET = "kubernetes.io/basic-auth"

# metal.lb's own keys.
MEMBERSHIP_ANNOTATION = "metal.lb/membership-address"  # on a Node: where its speaker listens
LAST_APPLIED_ANNOTATION = "metal.lb/last-applied-spec"  # on an object metal.lb.config wrote


def key_of(namespace, name) -> str:
    """The ``namespace/name`` key the work queues, the allocator and every report use."""
    return "%s/%s" % (namespace, name)


def object_key(obj: Mapping) -> str:
    """``key_of`` an object's metadata (``None/None`` for an object without one, never a raise)."""
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    if not isinstance(meta, Mapping):
        return key_of(None, None)
    return key_of(meta.get("namespace"), meta.get("name"))
