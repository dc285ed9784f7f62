# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab fixtures: skip cleanly without root or tools; one namespace lab per module, torn down
always; responder processes started inside a host namespace and stopped by PID.

``cluster``: the whole lab of ``lab/cluster.py`` (API, controller, kube-proxy emulation, pods and,
when the module sets ``LAB_OPTIONS = {"speakers": True}``, one speaker per node), built once per
test module with that module's ``LAB_OPTIONS`` and torn down after it, also on failure."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time

import pytest

import netlab

V4_NET, V6_NET = "198.51.100.0/24", "2001:db8:0:1::/64"


@pytest.fixture(scope="session")
def lab_requirements():
    reason = netlab.missing_requirements()
    if reason:
        pytest.skip(reason)
    overlaps = netlab.host_route_overlaps([V4_NET, V6_NET])
    if overlaps:
        pytest.skip("this machine routes lab prefixes (%s); refusing to build the lab" % ", ".join(overlaps))


@pytest.fixture(scope="module")
def cluster(request, lab_requirements):
    from lab.cluster import LabCluster, missing_requirements, speaker_available

    reason = missing_requirements()
    if reason:
        pytest.skip(reason)
    options = dict(getattr(request.module, "LAB_OPTIONS", {}))
    if options.get("speakers") and not speaker_available():
        pytest.skip("`bin/metal-lb speaker --help` does not work yet: the speaker is not available")
    lab = LabCluster(**options)
    with lab:
        yield lab
    assert netlab.leftover_namespaces(lab.net.prefix) == []


@pytest.fixture
def clean_client(cluster):
    """Forget the client's neighbour entries (pinned ones too) before and after a test."""
    cluster.flush_client_neighbors()
    yield cluster
    cluster.flush_client_neighbors()


@pytest.fixture(scope="module")
def l2lab(lab_requirements):
    """Bridge + ``node1`` (198.51.100.11, 2001:db8:0:1::11) + ``client`` (.100 / ::100)."""
    lab = netlab.Lab()
    with lab:
        lab.add_host("node1", ("198.51.100.11/24", "2001:db8:0:1::11/64"))
        lab.add_host("client", ("198.51.100.100/24", "2001:db8:0:1::100/64"))
        yield lab
    assert netlab.leftover_namespaces(lab.prefix) == []


class ResponderProcess:
    """The runner in a host namespace; ``status()`` asks it (SIGUSR1) for its counters."""

    def __init__(self, lab: netlab.Lab, host: netlab.Host, announce: list[str], rescan: float, workdir: str):
        self.lab, self.host = lab, host
        self.status_path = os.path.join(workdir, "status-%s-%d.json" % (host.role, time.monotonic_ns()))
        argv = [
            sys.executable,
            str(netlab.L2_RUNNER),
            "respond",
            "--seconds",
            "300",
            "--rescan",
            str(rescan),
            "--status",
            self.status_path,
        ]
        for item in announce:
            argv += ["--announce", item]
        self.proc = lab.start(
            host, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=netlab.child_env()
        )
        self.interfaces = self._wait_ready(15.0)

    def _wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("READY "):
                return json.loads(line[6:])
        self.lab.stop(self.proc)
        raise AssertionError(
            "responder did not start: %s" % (self.proc.stderr.read() if self.proc.stderr else "")
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def status(self, timeout: float = 5.0) -> dict:
        if os.path.exists(self.status_path):
            os.unlink(self.status_path)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.status_path):
                with open(self.status_path) as fh:
                    return json.load(fh)
            time.sleep(0.02)
        raise AssertionError("responder did not report its status")

    def stop(self) -> int | None:
        return self.lab.stop(self.proc)


@pytest.fixture
def start_responder(l2lab):
    """``start_responder(host, ["198.51.100.200", "2001:db8:0:1::200@eth0"], rescan=10.0)``."""
    started: list[ResponderProcess] = []
    with tempfile.TemporaryDirectory(prefix="mlb-l2-") as workdir:

        def start(host: netlab.Host, announce: list[str], rescan: float = 10.0) -> ResponderProcess:
            proc = ResponderProcess(l2lab, host, announce, rescan, workdir)
            started.append(proc)
            return proc

        try:
            yield start
        finally:
            for proc in started:
                proc.stop()
