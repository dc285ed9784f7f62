# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The seam between the speaker's generic loop and an announcement protocol (MetalLB's speaker
``Protocol``): layer 2 is the first implementation (``layer2_protocol``), BGP the next.

The loop owns the informers, the configuration, membership and status reporting; it hands each
protocol the same ``Snapshot`` and applies, per Service, what the protocol decided through
``set_balancer``/``delete_balancer``. A protocol owns everything of its own: sockets, caches of
its status objects, its status writer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol as Interface

from ...engine.model import Config


@dataclass(frozen=True)
class Snapshot:
    """What one pass decides from: the informers' objects, the live members and who asks."""

    services: Sequence[Mapping]
    config: Config
    nodes: Mapping[str, Mapping]
    endpoint_slices: Sequence[Mapping]
    members: Collection[str] | None  # None: membership off, every Node counts (MetalLB without memberlist)
    my_node: str
    lb_class: str = ""
    ignore_exclude_lb: bool = False
    secrets: Mapping[str, Mapping] = field(default_factory=dict)  # "namespace/name" -> Secret (BGP passwords)


class Decision(Interface):
    """A protocol's outcome for one Service: ``announce`` is truthy when this node announces it,
    else ``reason`` says why not (MetalLB's reasons)."""

    key: str
    ips: tuple[str, ...]
    reason: str | None

    @property
    def announce(self) -> object: ...


# event(service object, type, reason, message): the loop records it (rate limited)
EventSink = Callable[[Mapping, str, str, str], None]


class Protocol(Interface):
    name: str

    def informers(self) -> list:
        """Extra informers the loop starts and syncs with its own (e.g. the protocol's status objects)."""

    def start(self) -> None:
        """Called once the loop runs (before the caches sync)."""

    def set_config(self, config: Config) -> None:
        """A new valid configuration."""

    def set_node(self, node: Mapping | None) -> None:
        """This node's Node object changed (labels, addresses)."""

    def should_announce(self, snapshot: Snapshot) -> Mapping[str, Decision]:
        """Every load-balancer Service of the snapshot → this node's decision, by key."""

    def set_balancer(self, key: str, service: Mapping | None, decision: Decision) -> None:
        """Announce ``key`` as ``decision`` says (called only when ``decision.announce``)."""

    def delete_balancer(self, key: str, reason: str) -> None:
        """Stop announcing ``key`` (nothing happens if it is not announced)."""

    def keys(self) -> set[str]:
        """Services this protocol still holds something for (announcements, status objects)."""

    def announced(self) -> dict[str, tuple[str, ...]]:
        """Service key → its LB IPs, for every Service announced here."""

    def sync(self, services: Mapping[str, Mapping | None]) -> None:
        """End of a pass: apply what the pass changed (all at once)."""

    def burst(self) -> list[str]:
        """Re-announce everything now (gratuitous packets); the IPs concerned."""

    def status(self) -> dict:
        """This protocol's part of the status file."""

    def idle(self) -> bool:
        """No write of the protocol's is pending."""

    def stop(self) -> None:
        """Withdraw everything, close sockets, stop writers."""
