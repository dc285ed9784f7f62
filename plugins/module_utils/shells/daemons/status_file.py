# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker's status file: what a node announces, written by the speaker and read by
``metal.lb.announce``. One module for both sides, so the format has one definition."""

from __future__ import annotations

import json
import os
import time

VERSION = 1
DEFAULT_PATH = "/run/metal-lb/speaker-{node}.json"


def path_for(template: str, node: str) -> str:
    """``template`` with ``{node}`` replaced ('' stays '': no status file)."""
    return template.replace("{node}", node) if template else ""


def write(path: str, content: dict) -> None:
    """Replace the file atomically (readers never see half of it), world-readable; raises OSError."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(dict(content, version=VERSION, updated=time.time()), handle, indent=1, sort_keys=True)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read(path: str) -> dict | None:
    """The status file, None when absent. ValueError for a file that is not one."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError("status file %s cannot be read: %s" % (path, exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("announced"), dict):
        raise ValueError("status file %s is not a metal-lb speaker status file" % path)
    return data


def bgp_sessions(content: dict, now: float | None = None) -> list[dict]:
    """The node's BGP sessions from a status file's ``bgp`` part, as ``metal.lb.announce`` and
    ``metal-lb status`` report them: peer, state, uptime (seconds, None when down), prefixes sent,
    BFD state. The file keeps when a session came up, not its uptime, so it changes only when a
    session does."""
    now = time.time() if now is None else now
    out = []
    for s in ((content or {}).get("bgp") or {}).get("sessions") or ():
        if not isinstance(s, dict):
            continue
        since = s.get("established_epoch") or 0
        out.append({"name": s.get("name"), "peer": s.get("peer"), "vrf": s.get("vrf") or "",
                    "state": s.get("state"),
                    "uptime": max(int(now - since), 0) if s.get("state") == "Established" and since else None,
                    "prefixes_sent": s.get("prefixes_sent", 0), "prefixes": len(s.get("prefixes") or ()),
                    "updates_sent": s.get("updates_sent", 0), "bfd": s.get("bfd") or None})
    return out
