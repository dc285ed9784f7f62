# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab fixtures: skip cleanly without root or tools; one namespace lab per module, torn down
always; responder processes started inside a host namespace and stopped by PID.

``cluster``: the whole lab of ``lab/cluster.py`` (API, controller, kube-proxy emulation, pods and,
when the module sets ``LAB_OPTIONS = {"speakers": True}``, one speaker per node), built once per
test module with that module's ``LAB_OPTIONS`` and torn down after it, also on failure."""

from __future__ import annotations

import tempfile

import pytest

import netlab
from responder_process import ResponderProcess

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
