# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speaker membership: who is alive, learned over authenticated UDP, not from the API server.

``messages`` is the wire format, ``detector`` the pure state machine, ``transport`` the asyncio
UDP endpoint and ``service`` the small API the speaker uses (``MembershipThread`` for the threaded
daemon, ``MembershipService`` inside an asyncio loop). Design and the library evaluation that led
to it: docs/dev/membership-evaluation.md.
"""

from __future__ import annotations

from .detector import DetectorConfig
from .service import MembershipService, MembershipThread
from .transport import DEFAULT_PORT, DROP_REASONS, MembershipConfigError, load_keys, parse_bind

__all__ = ["DEFAULT_PORT", "DROP_REASONS", "DetectorConfig", "MembershipConfigError", "MembershipService",
           "MembershipThread", "load_keys", "parse_bind"]
