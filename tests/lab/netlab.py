# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's namespace builder for the tests: ``lab/netns.py`` of the checkout (the same code
``make lab`` uses), plus the paths of the test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab.netns import *  # noqa: E402,F401,F403
from lab.netns import ALLOWED_NETWORKS, MAC_RE, REQUIRED_TOOLS, STATE_DIR  # noqa: E402,F401
from lab.netns import child_env as _child_env  # noqa: E402

L2_RUNNER = ROOT / "tests" / "lab" / "l2_responder_runner.py"


def child_env() -> dict:
    """Environment for Python helpers run inside a namespace: the same import path as ours."""
    return dict(_child_env(), PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
