# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine install of the role metal.lb.daemon (tasks_from: engine) through ansible-playbook, into a
temporary root on this machine: a release named by the engine's digest, the launcher on the venv's Python,
`current` pointing at it; the installed `metal-lb` runs; a second run changes nothing. No cluster needed."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from playbook_runs import output, playbook, recap

pytestmark = pytest.mark.integration


def engine_play(tmp_path, root) -> str:
    path = tmp_path / "engine.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "engine", "ansible.builtin.include_role": {"name": "metal.lb.daemon", "tasks_from": "engine"},
        "vars": {"daemon_name": "speaker", "daemon_root": str(root), "daemon_wheelhouse": str(tmp_path / "wh")}}],
        "handlers": [{"name": "restart", "ansible.builtin.debug": {"msg": "RESTART speaker"},
                      "listen": "restart metal-lb speaker"}]}]))
    return str(path)


def test_engine_release_runs_and_a_second_run_changes_nothing(tmp_path):
    root = tmp_path / "opt"
    root.mkdir()
    (tmp_path / "wh").mkdir()
    os.symlink(os.path.dirname(os.path.dirname(sys.executable)), root / "venv")  # the project's venv stands in
    first = playbook(tmp_path, engine_play(tmp_path, root))
    assert first.returncode == 0, output(first)
    assert "RESTART speaker" in first.stdout
    current = root / "current"
    release = os.path.realpath(current)
    assert os.path.dirname(release) == str(root / "releases")
    launcher = current / "bin" / "metal-lb"
    with open(launcher, encoding="utf-8") as handle:
        assert handle.readline().strip() == "#!%s/venv/bin/python" % root
    assert (current / "plugins" / "module_utils" / "engine" / "__pycache__").is_dir()  # compiled at install
    ran = subprocess.run([str(launcher), "speaker", "--help"], capture_output=True, text=True, timeout=60,
                         check=False)
    assert ran.returncode == 0 and "--membership-key-file" in ran.stdout, ran.stderr

    second = playbook(tmp_path, engine_play(tmp_path, root))
    assert second.returncode == 0 and recap(second)["changed"] == 0, output(second)
    assert "RESTART speaker" not in second.stdout

    (root / "releases" / "stale").mkdir()
    third = playbook(tmp_path, engine_play(tmp_path, root))
    assert third.returncode == 0 and not (root / "releases" / "stale").exists(), output(third)
    assert os.path.realpath(current) == release
