# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's playbooks against the lab hosts, as a user runs them.

    ip netns exec <prefix>-admin ansible-playbook -i build/lab/inventory.yml playbooks/site.yml

from the admin namespace, over SSH, with the collection found on Ansible's collections path
(build/lab-collections/ansible_collections/metal/lb is this checkout) and the lab's settings in the
inventory (``INVENTORY_VARS``: the admin kubeconfig, the demo's pool, no apt refresh). The lab has no
network beyond itself, like many bare-metal clusters: the daemons' wheelhouse is built beforehand on
this machine (``playbooks/wheelhouse.yml``, for the Python of the lab image) into build/wheelhouse,
where the roles find it complete and download nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import image, topology

ROOT = Path(__file__).resolve().parents[1]
COLLECTIONS = ROOT / "build" / "lab-collections"
WHEELHOUSE = ROOT / "build" / "wheelhouse"
PLAYBOOK_TIMEOUT = 1800.0
# The same probe the daemon role runs on a host: major, minor, machine, glibc.
PYTHON_PROBE = "import platform, sys; print(sys.version_info[0], sys.version_info[1], platform.machine(), " \
               "platform.libc_ver()[1])"


def ansible_binary(name: str) -> str:
    """ansible-playbook beside the running Python (the project venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def inventory_vars(kubeconfig: str) -> dict:
    """The lab's metal_lb_* settings, written into build/lab/inventory.yml beside its hosts."""
    return {
        "metal_lb_kubeconfig": kubeconfig,
        "metal_lb_wheelhouse": str(WHEELHOUSE),
        # the image carries the packages; the hosts reach no repository
        "metal_lb_apt_update_cache": False,
        "metal_lb_pool_name": "lab-pool",
        "metal_lb_pool_addresses": [topology.POOL_V4],
    }


def collections_path() -> str:
    """A collections path on which ``metal.lb`` is this checkout."""
    link = COLLECTIONS / "ansible_collections" / "metal" / "lb"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.is_symlink() or os.readlink(link) != str(ROOT):
        tmp = link.with_name("lb.new")
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(ROOT)
        os.replace(tmp, link)
    return str(COLLECTIONS)


def ansible_env() -> dict:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")
    env.pop("ANSIBLE_CONFIG", None)
    return env


def image_python() -> dict:
    """The lab image's Python as the daemon role sees it on a host (run in the image, read-only)."""
    out = subprocess.run(["chroot", str(image.IMAGE), "/usr/bin/python3", "-c", PYTHON_PROBE],
                         capture_output=True, text=True, timeout=60, check=False)
    fields = out.stdout.split()
    if out.returncode != 0 or len(fields) != 4:
        raise RuntimeError("cannot read the lab image's Python: %s" % (out.stderr or out.stdout).strip()[-500:])
    return {"major": int(fields[0]), "minor": int(fields[1]), "machine": fields[2], "glibc": fields[3]}


def build_wheelhouse(log=print) -> None:
    """playbooks/wheelhouse.yml on this machine (which reaches a package index) for the image's Python;
    a complete wheelhouse is kept and not downloaded again."""
    started = time.monotonic()
    target = image_python()
    argv = [ansible_binary("ansible-playbook"), "-i", "localhost,", "-c", "local", str(ROOT / "playbooks" /
            "wheelhouse.yml"), "-e", json.dumps({"metal_lb_wheelhouse": str(WHEELHOUSE),
                                                 "metal_lb_wheelhouse_pythons": [target],
                                                 "ansible_python_interpreter": sys.executable})]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False, env=ansible_env(), cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError("building the wheelhouse failed (playbooks/wheelhouse.yml): %s"
                           % (out.stdout[-2500:] + out.stderr[-1000:]))
    counts = recap(out.stdout).get("localhost", {})
    log("wheelhouse %s for Python %d.%d %s: %s (%.0f s)" % (
        WHEELHOUSE, target["major"], target["minor"], target["machine"],
        "downloaded" if counts.get("changed") else "already complete", time.monotonic() - started))


def recap(stdout: str) -> dict[str, dict[str, int]]:
    """PLAY RECAP: {host: {ok, changed, unreachable, failed, skipped, rescued, ignored}}."""
    found: dict[str, dict[str, int]] = {}
    lines = stdout.splitlines()
    try:
        start = max(i for i, line in enumerate(lines) if line.startswith("PLAY RECAP"))
    except ValueError:
        return found
    for line in lines[start + 1:]:
        match = re.match(r"^(\S+)\s+:\s+(.*)$", line)
        if match:
            found[match.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match.group(2))}
    return found


@dataclass
class PlaybookRun:
    playbook: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def changed(self) -> dict[str, int]:
        return {host: counts.get("changed", 0) for host, counts in self.recap.items()}

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and bool(self.recap) and all(
            c.get("failed", 0) == 0 and c.get("unreachable", 0) == 0 for c in self.recap.values())

    def failure(self) -> str:
        """The failed tasks' messages (the tail of the output otherwise)."""
        failed = [line for line in self.stdout.splitlines() if line.startswith(("fatal:", "failed:"))]
        return "\n".join(line[:1500] for line in failed[-3:]) or (self.stdout[-2500:] + self.stderr[-1000:])


def run_playbook(lab_hosts, name: str = "site.yml", extra_args: tuple[str, ...] = ()) -> PlaybookRun:
    """``ansible-playbook -i build/lab/inventory.yml playbooks/<name>`` in the admin namespace."""
    path = str(ROOT / "playbooks" / name)
    started = time.monotonic()
    out = lab_hosts.run_in_admin(ansible_binary("ansible-playbook"), "-i", lab_hosts.inventory, path,
                                 *extra_args, timeout=PLAYBOOK_TIMEOUT, env=ansible_env(), cwd=str(ROOT))
    return PlaybookRun(name, out.returncode, time.monotonic() - started, out.stdout, out.stderr, recap(out.stdout))
