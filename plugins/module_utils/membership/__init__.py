# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Speaker membership: who is alive, learned over authenticated UDP, not from the API server.

``messages`` is the wire format, ``detector`` the pure state machine, ``transport`` the asyncio
UDP endpoint and ``service`` the small API the speaker uses. Design and the library evaluation
that led to it: docs/dev/membership-evaluation.md.
"""
