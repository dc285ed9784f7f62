# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes Events a node's BGP sessions are worth: one per change, never one per poll.

MetalLB names a session coming up ``sessionUp`` and going down ``sessionDown`` (its BGP
speaker's log events); metal.lb records them as Events on the BGPPeer, so ``kubectl describe
bgppeer`` shows which node lost its router and when. A BFD session going down while BGP still
holds (the link is dying, the hold timer has not run out) is worth one too: ``bfdSessionDown``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

SESSION_UP = "sessionUp"
SESSION_DOWN = "sessionDown"
BFD_DOWN = "bfdSessionDown"
BFD_UP = "bfdSessionUp"


@dataclass(frozen=True)
class Observed:
    """What the speaker read of one session: BGP established or not, BFD state ("" without BFD)."""

    up: bool
    bfd: str = ""


@dataclass(frozen=True)
class SessionEvent:
    peer_name: str  # the BGPPeer the Event is recorded on
    type: str  # Normal / Warning
    reason: str
    message: str


def session_events(node: str, names: Mapping[tuple[str, str], str], before: Mapping[tuple[str, str], Observed],
                   after: Mapping[tuple[str, str], Observed]) -> list[SessionEvent]:
    """The Events between two reads of FRR's sessions, keyed (vrf, neighbor); ``names``: the BGPPeer of
    each key (a session of no BGPPeer, e.g. one being removed, gets none). A session seen for the first
    time counts as down before it: a new speaker reports the sessions it finds up once."""
    events = []
    for key in sorted(after):
        name = names.get(key)
        if not name:
            continue
        vrf, peer = key
        where = 'BGP session of node "%s" with %s%s' % (node, peer, " (VRF %s)" % vrf if vrf else "")
        old, new = before.get(key, Observed(False)), after[key]
        if new.up and not old.up:
            events.append(SessionEvent(name, "Normal", SESSION_UP, where + " established"))
        elif old.up and not new.up:
            events.append(SessionEvent(name, "Warning", SESSION_DOWN, where + " down"))
        if old.bfd and new.bfd and new.bfd != old.bfd:  # BFD configured before and after: a real change
            if new.bfd == "up":
                events.append(SessionEvent(name, "Normal", BFD_UP, "BFD for the %s up" % where))
            elif old.bfd == "up":
                events.append(SessionEvent(name, "Warning", BFD_DOWN, "BFD for the %s %s" % (where, new.bfd)))
    for key in sorted(set(before) - set(after)):
        name = names.get(key)
        if name and before[key].up:  # FRR dropped the neighbor while it was up (its BGPPeer is being changed)
            vrf, peer = key
            events.append(SessionEvent(name, "Warning", SESSION_DOWN, 'BGP session of node "%s" with %s%s down'
                                       % (node, peer, " (VRF %s)" % vrf if vrf else "")))
    return events
