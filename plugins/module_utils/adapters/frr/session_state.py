# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""FRR's ``show bgp vrf all neighbors json`` → what the speaker reports of each session: state,
since when it is established, UPDATEs and prefixes sent, BFD state (FRR 8.4's field names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NEIGHBORS_COMMAND = "show bgp vrf all neighbors json"


@dataclass(frozen=True)
class SessionState:
    vrf: str  # "" = default
    peer: str  # the neighbor as FRR names it (address or interface)
    state: str  # FRR's bgpState: Idle, Connect, Active, OpenSent, OpenConfirm, Established
    established_epoch: int = 0  # when the session came up (epoch seconds), 0 if not up
    updates_sent: int = 0
    prefixes_sent: int = 0
    bfd: str = ""  # BFD session state (up, down, init, ...) or "" without BFD

    @property
    def up(self) -> bool:
        return self.state == "Established"


def _int(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def sessions_from_json(data) -> dict[tuple[str, str], SessionState]:
    """(vrf, peer) → SessionState for every neighbor in ``data``; anything unexpected is skipped."""
    out: dict[tuple[str, str], SessionState] = {}
    if not isinstance(data, Mapping):
        return out
    for vrf_name, vrf in data.items():
        if not isinstance(vrf, Mapping):
            continue
        vrf_key = "" if vrf_name == "default" else str(vrf_name)
        for peer, info in vrf.items():
            if not isinstance(info, Mapping) or "bgpState" not in info:
                continue
            state = str(info.get("bgpState"))
            families = info.get("addressFamilyInfo")
            sent = sum(_int(af.get("sentPrefixCounter")) for af in families.values()
                       if isinstance(af, Mapping)) if isinstance(families, Mapping) else 0
            stats = info.get("messageStats")
            bfd = info.get("peerBfdInfo")
            out[(vrf_key, str(peer))] = SessionState(
                vrf_key, str(peer), state,
                _int(info.get("bgpTimerUpEstablishedEpoch")) if state == "Established" else 0,
                _int(stats.get("updatesSent")) if isinstance(stats, Mapping) else 0, sent,
                str(bfd.get("status") or "").lower() if isinstance(bfd, Mapping) else "")
    return out
