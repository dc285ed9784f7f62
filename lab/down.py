# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make lab-down``: remove what a lab left behind (``make lab KEEP=1``, a crashed run).

Only what a lab recorded in /run/metal-lb-lab/: its processes (by PID, checked against their
start time; a lab host's container goes with its PID 1), namespaces and files, and build/lab/ of
lab hosts whose lab is gone. A lab whose builder is still running (a test session) is left
alone; ``--force`` removes it too.
"""

from __future__ import annotations

import argparse
import os
import sys

from . import hosts, netns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab-down")
    parser.add_argument("--force", action="store_true", help="also labs whose builder is still running")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab-down: needs root (the lab's namespaces belong to root)")
        return 2
    removed, skipped = netns.remove_recorded_labs(force=args.force)
    directory = hosts.remove_stale_directory()  # the lab hosts' key and inventory, once their lab is gone
    if directory:
        removed.append(directory)
    for item in removed:
        print("lab-down: removed %s" % item)
    for item in skipped:
        print("lab-down: left %s alone; --force (make lab-down FORCE=1) removes it" % item)
    if not removed and not skipped:
        print("lab-down: nothing to tear down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
