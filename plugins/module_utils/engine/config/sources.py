# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What configuration is read, from where, and by whom: the one list.

The controller's and the speaker's informers and the modules' snapshot are all built from
``SOURCES``, so the three readers cannot drift apart. Everyone reads the metallb.io
configuration, the Namespaces and Nodes it refers to and the legacy ConfigMap it may come
from; the BGP password Secrets are read by the speakers (their protocols use them) and the
modules, never by the controller. The controller allocates from pools only
(``ALLOCATION_KINDS``): a problem in any other object is reported and never stops it
(``config.allocation``), as in MetalLB.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import vocabulary as v

CONTROLLER = "controller"
SPEAKER = "speaker"
MODULES = "modules"
EVERYONE = frozenset({CONTROLLER, SPEAKER, MODULES})
CONFIG_NAMESPACE = "config"  # the namespace of the metallb.io configuration
CLUSTER = "cluster"  # cluster-scoped kinds

# The kinds the controller allocates from; errors in any other kind never stop it.
ALLOCATION_KINDS = frozenset({v.IP_ADDRESS_POOL})
LEGACY_CONFIGMAP = "config"  # the pre-CRD ConfigMap's name


@dataclass(frozen=True)
class Source:
    """One kind of object the engine decides from."""

    kind: str
    api_version: str  # "v1" or "<group>/<version>"
    plural: str
    scope: str  # CONFIG_NAMESPACE or CLUSTER
    readers: frozenset
    field_selector: str = ""
    optional: bool = False  # a reader without access (403) reads no objects of it

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def custom(self) -> bool:
        """A metallb.io custom resource (read through the custom objects API)."""
        return bool(self.group)


def _crd(kind: str, readers: frozenset) -> Source:
    return Source(kind, v.api_version(kind), v.plural(kind), CONFIG_NAMESPACE, readers)


_SPEAKERS_AND_MODULES = frozenset({SPEAKER, MODULES})

SOURCES: tuple[Source, ...] = (
    _crd(v.IP_ADDRESS_POOL, EVERYONE),
    _crd(v.L2_ADVERTISEMENT, EVERYONE),
    _crd(v.BGP_ADVERTISEMENT, EVERYONE),
    _crd(v.BGP_PEER, EVERYONE),
    _crd(v.COMMUNITY, EVERYONE),
    _crd(v.BFD_PROFILE, EVERYONE),
    Source("Namespace", "v1", "namespaces", CLUSTER, EVERYONE),
    Source("Node", "v1", "nodes", CLUSTER, EVERYONE),
    Source("ConfigMap", "v1", "configmaps", CONFIG_NAMESPACE, EVERYONE,
           field_selector="metadata.name=%s" % LEGACY_CONFIGMAP),
    # Every Secret: one of the wrong type named by a passwordSecret is reported as such.
    Source("Secret", "v1", "secrets", CONFIG_NAMESPACE, _SPEAKERS_AND_MODULES, optional=True),
)


def sources_for(reader: str) -> tuple[Source, ...]:
    """The sources ``reader`` (CONTROLLER, SPEAKER or MODULES) reads, in ``SOURCES`` order."""
    return tuple(s for s in SOURCES if reader in s.readers)


def source(kind: str) -> Source:
    for s in SOURCES:
        if s.kind == kind:
            return s
    raise KeyError(kind)
