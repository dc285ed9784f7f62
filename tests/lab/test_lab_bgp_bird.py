# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""test_lab_bgp.py's end-to-end tests again with BIRD 2 as the lab's router (same description:
ECMP, BFD 3 × 100 ms, graceful-restart helper)."""

from __future__ import annotations

import functools

from routers import BirdRouter
from test_lab_bgp import *  # noqa: F401,F403 - the same tests, collected again for this module's lab
from test_lab_bgp import ROUTER_SPEC

LAB_OPTIONS = {"router": functools.partial(BirdRouter, spec=ROUTER_SPEC), "speakers": True}
