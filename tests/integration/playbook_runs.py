# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook runs of the collection's roles and playbooks (localhost, connection local)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from test_modules import ANSIBLE_PLAYBOOK, TIMEOUT, collections_root


def ansible_env(tmp_path) -> dict:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_HOME=str(tmp_path / ".ansible"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop("ANSIBLE_CONFIG", None)
    return env


def playbook(tmp_path, path: str, extra_vars: dict | None = None, check: bool = False,
             inventory: str = "localhost,", args: tuple = ()) -> subprocess.CompletedProcess:
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("ansible-playbook is not installed")
    argv = [ANSIBLE_PLAYBOOK, "-i", inventory, "-c", "local", str(path), *args]
    if extra_vars:
        variables = tmp_path / ("vars-%d.json" % len(list(tmp_path.glob("vars-*.json"))))
        variables.write_text(json.dumps(extra_vars))
        argv += ["-e", "@%s" % variables]
    argv += ["--check", "--diff"] if check else []
    return subprocess.run(argv, cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def role_play(tmp_path, role: str, variables: dict, check: bool = False) -> subprocess.CompletedProcess:
    path = tmp_path / ("%s.yml" % role)
    path.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                 "roles": [{"role": "metal.lb.%s" % role, "vars": variables}]}]))
    return playbook(tmp_path, path, check=check)


def recap(proc: subprocess.CompletedProcess, host: str = "localhost") -> dict:
    """The PLAY RECAP counters of ``host`` (ok, changed, failed, ...)."""
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith(host + " ")), "")
    counts = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}
    assert counts, "no PLAY RECAP line for %s:\n%s\n%s" % (host, proc.stdout[-3000:], proc.stderr[-3000:])
    return counts


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout[-6000:] + proc.stderr[-3000:]
