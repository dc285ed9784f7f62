# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make lab-down`` (``lab.netns.remove_recorded_labs``): what a lab left behind when its builder
died is removed — its processes by recorded PID, its namespaces and files — and a lab whose
builder still runs is left alone. Uses a state directory of its own, so it never touches another
lab. Needs root and ``ip netns``; skips otherwise."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import netlab

pytestmark = pytest.mark.lab


@pytest.fixture
def recorded_lab(lab_requirements, tmp_path):
    """A lab with a namespace, a sleeping process and a file, recorded in a private state dir."""
    lab = netlab.Lab(state_dir=str(tmp_path / "state"))
    with lab:
        host = lab.add_host("down", ("198.51.100.77/24",))
        proc = lab.start(host, ["sleep", "300"])
        leftover = tmp_path / ("%s-file" % lab.prefix)
        leftover.write_text("x")
        lab.paths.append(str(leftover))
        lab.save_state()
        yield lab, proc, leftover
        proc.poll()


def pretend_builder_died(lab) -> None:
    with open(lab.state_path) as fh:
        state = json.load(fh)
    gone = subprocess.Popen(["true"])
    gone.wait()
    state["owner"] = {"pid": gone.pid, "start": -1}  # no process has that start time
    with open(lab.state_path, "w") as fh:
        json.dump(state, fh)


def test_a_lab_whose_builder_runs_is_left_alone(recorded_lab):
    lab, proc, leftover = recorded_lab
    removed, skipped = netlab.remove_recorded_labs(state_dir=lab.state_dir)
    assert removed == [] and len(skipped) == 1 and lab.prefix in skipped[0]
    assert proc.poll() is None and leftover.exists()
    assert sorted(netlab.leftover_namespaces(lab.prefix)) == sorted(lab.namespaces)


def test_a_lab_whose_builder_died_is_removed_completely(recorded_lab):
    lab, proc, leftover = recorded_lab
    pretend_builder_died(lab)
    removed, skipped = netlab.remove_recorded_labs(state_dir=lab.state_dir)
    assert skipped == []
    assert "process %d" % proc.pid in removed
    assert proc.wait(10) is not None
    assert netlab.leftover_namespaces(lab.prefix) == []
    assert not leftover.exists()
    assert not os.path.exists(lab.state_path)
    lab.namespaces.clear()  # already gone; the fixture's teardown has nothing left to do


def test_nothing_recorded_nothing_removed(tmp_path):
    assert netlab.remove_recorded_labs(state_dir=str(tmp_path / "absent")) == ([], [])


def test_only_the_named_lab_is_removed_even_while_its_builder_runs(recorded_lab, tmp_path):
    """``python -m lab down --hosts-dir``: one lab by its prefix; every other recorded lab stays."""
    lab, proc, leftover = recorded_lab
    other = netlab.Lab(state_dir=lab.state_dir)
    with other:
        other_proc = other.start(None, ["sleep", "300"])
        pretend_builder_died(other)
        removed, skipped = netlab.remove_recorded_labs(state_dir=lab.state_dir, force=True, prefix=lab.prefix)
        assert skipped == [] and "process %d" % proc.pid in removed
        assert proc.wait(10) is not None and netlab.leftover_namespaces(lab.prefix) == []
        assert other_proc.poll() is None and os.path.exists(other.state_path)
        assert sorted(netlab.leftover_namespaces(other.prefix)) == sorted(other.namespaces)
    lab.namespaces.clear()


def test_a_detached_lab_is_left_to_its_own_down(recorded_lab):
    """A lab left running on purpose (``python -m lab up --hosts-dir``) survives a plain ``make lab-down``
    of another engineer's lab; its own down (by prefix) or --force removes it."""
    lab, proc, leftover = recorded_lab
    lab.detached = True
    lab.save_state()
    pretend_builder_died(lab)
    removed, skipped = netlab.remove_recorded_labs(state_dir=lab.state_dir)
    assert removed == [] and len(skipped) == 1 and lab.prefix in skipped[0]
    assert proc.poll() is None and leftover.exists()
    removed, skipped = netlab.remove_recorded_labs(state_dir=lab.state_dir, force=True, prefix=lab.prefix)
    assert "process %d" % proc.pid in removed and netlab.leftover_namespaces(lab.prefix) == []
    lab.namespaces.clear()
