# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make lab-down``: remove what a lab left behind (``make lab KEEP=1``, a crashed run).

Only what a lab recorded in /run/metal-lb-lab/: its processes (by PID, checked against their
start time; a lab host's container goes with its PID 1), namespaces and files, and build/lab/ of
lab hosts whose lab is gone. A lab whose builder is still running (a test session) is left
alone; ``--force`` removes it too. ``--hosts-dir DIR`` removes only the lab whose hosts use DIR
(recorded in DIR/lab.json) and DIR, whoever built it: other labs on the machine are left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from . import hosts, netns


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab-down")
    parser.add_argument("--force", action="store_true", help="also labs whose builder is still running")
    parser.add_argument("--hosts-dir", default=None, help="only the lab whose hosts use this directory")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("lab-down: needs root (the lab's namespaces belong to root)")
        return 2
    if args.hosts_dir:
        removed, skipped = remove_lab_of(args.hosts_dir), []
    else:
        removed, skipped = netns.remove_recorded_labs(force=args.force)
    # the lab hosts' key and inventory, once their lab is gone
    directory = hosts.remove_stale_directory(*([args.hosts_dir] if args.hosts_dir else []))
    if directory:
        removed.append(directory)
    for item in removed:
        print("lab-down: removed %s" % item)
    for item in skipped:
        print("lab-down: left %s alone; --force (make lab-down FORCE=1) removes it" % item)
    if not removed and not skipped:
        print("lab-down: nothing to tear down")
    return 0


def remove_lab_of(hosts_dir: str) -> list[str]:
    """The lab recorded in ``hosts_dir``/lab.json, even while its builder runs (it is ours to end)."""
    try:
        with open(os.path.join(hosts_dir, "lab.json")) as fh:
            prefix = json.load(fh).get("prefix")
    except (OSError, ValueError):
        return []
    if not prefix:
        return []
    # Ansible's SSH connection masters in the lab's admin namespace end with it (nothing else there)
    admin = "%s-admin" % prefix
    for pid in netns.run(["ip", "netns", "pids", admin], check=False).stdout.split():
        try:
            with open("/proc/%s/comm" % pid) as fh:
                if fh.read().strip() == "ssh":
                    os.kill(int(pid), signal.SIGTERM)
        except (OSError, ValueError):
            pass
    return netns.remove_recorded_labs(force=True, prefix=prefix)[0]


if __name__ == "__main__":
    sys.exit(main())
