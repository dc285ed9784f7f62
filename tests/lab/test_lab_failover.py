# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Failover in the namespace lab, watched from the client by ARP and TCP probes every 10 ms:
the leader's speaker SIGKILLed, its cable cut, a planned SIGTERM; the old leader coming back (no
bounce) and flapping; the API server stopped for 60 s. Outage figures are printed, never asserted
(benchmarks/failover.py measures them); the assertions are about who answers.

Needs root, ``ip netns``, arping, ndisc6, tcpdump, nft, curl (``make deps``) and
``bin/metal-lb speaker``; skips otherwise.
"""

from __future__ import annotations

import signal
import sys
import time

import pytest

from lab import probe
from lab.topology import hash_order
from lab.cluster import wait_for

pytestmark = pytest.mark.lab

LAB_OPTIONS = {"speakers": True, "strict_arp": True}
API_OUTAGE = 60.0
STABLE = 2.0  # the speaker's default membership stable period (seconds)



@pytest.fixture(scope="module")
def vip(cluster) -> str:
    cluster.apply_config()
    cluster.create_service("web", replicas=3)
    ip = cluster.wait_ingress("web", timeout=60)[0]
    assert cluster.wait_kube_proxy(ip)
    return ip


@pytest.fixture
def leader(cluster, vip) -> str:
    """Every speaker running, every link up, the hash leader announcing alone."""
    for node in cluster.node_addrs:
        cluster.cut_link(node, up=True)
        if node not in cluster.speakers:
            cluster.start_speaker(node)
    expected = hash_order(cluster.node_addrs, vip)[0]
    assert cluster.wait_announcer(vip, lambda nodes: nodes == {expected}, 40) == {expected}
    cluster.flush_client_neighbors()
    assert cluster.curl(vip) is not None  # the client's neighbour entry now points at the leader
    return expected


def answered_by(data: dict, names: dict, start: float, end: float) -> list[str]:
    """The nodes answering ARP between ``start`` and ``end``, in order, consecutive repeats merged."""
    seq: list[str] = []
    for t, mac in data["arp"]:
        if start <= t <= end and (not seq or seq[-1] != names.get(mac, mac)):
            seq.append(names.get(mac, mac))
    return seq


def report(what: str, data: dict, event: float, old_mac: str) -> None:
    arp, _ = probe.outage(data["arp"], event, lambda m: True, lambda m: m != old_mac)
    tcp, _ = probe.outage(data["tcp"], event, lambda ok: ok)
    print(
        "\n%s: ARP outage %s, TCP outage %s"
        % (
            what,
            "%.0f ms" % (arp * 1000) if arp is not None else "-",
            "%.0f ms" % (tcp * 1000) if tcp is not None else "-",
        )
    )


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_the_next_node_takes_over_when_the_leaders_speaker_stops(cluster, vip, leader, how):
    successor = hash_order(cluster.node_addrs, vip)[1]
    names = cluster.mac_to_node()
    run = cluster.start_probe(vip, seconds=60)
    time.sleep(0.3)
    event = time.monotonic()
    cluster.kill_speaker(leader, signal.SIGKILL if how == "SIGKILL" else signal.SIGTERM)
    assert cluster.wait_announcer(vip, lambda nodes: nodes == {successor}, 15) == {successor}
    data = run.stop()
    assert answered_by(data, names, event, time.monotonic())[-1] == successor
    assert successor in answered_by(data, names, event, time.monotonic())
    assert cluster.curl(vip) is not None
    report(how, data, event, cluster.hosts[leader].mac)


def test_the_next_node_takes_over_when_the_leaders_link_is_cut(cluster, vip, leader):
    successor = hash_order(cluster.node_addrs, vip)[1]
    run = cluster.start_probe(vip, seconds=60)
    time.sleep(0.3)
    event = time.monotonic()
    cluster.cut_link(leader)
    assert cluster.wait_announcer(vip, lambda nodes: nodes == {successor}, 15) == {successor}
    # the client's neighbour entry still named the old leader: the gratuitous ARP moved it
    assert wait_for(lambda: cluster.curl(vip, timeout=1), 10, 0.1)
    data = run.stop()
    report("link cut", data, event, cluster.hosts[leader].mac)
    cluster.cut_link(leader, up=True)  # heal: one announcer again, never two for long
    assert wait_for(lambda: len(cluster.announcing_nodes(vip, count=2)) == 1, 20, 0.5)


def test_no_bounce_when_the_old_leader_returns_or_flaps(cluster, vip, leader):
    successor = hash_order(cluster.node_addrs, vip)[1]
    names = cluster.mac_to_node()
    cluster.kill_speaker(leader)
    assert cluster.wait_announcer(vip, lambda nodes: nodes == {successor}, 15) == {successor}
    run = cluster.start_probe(vip, seconds=90, interval=0.02)
    start = time.monotonic()
    for _ in range(3):  # flapping: up for less than the stable period, then killed again
        cluster.start_speaker(leader)
        time.sleep(STABLE / 2)
        cluster.kill_speaker(leader)
        time.sleep(0.3)
    flapped = time.monotonic()
    cluster.start_speaker(leader)  # and now it stays
    wait_for(lambda: cluster.announcing_nodes(vip, count=1) == {leader}, 20, 0.3)
    time.sleep(3.0)
    data = run.stop()
    assert answered_by(data, names, start, flapped) == [successor]  # the flapping node never took it
    after = answered_by(data, names, flapped, time.monotonic())
    assert after in ([successor], [successor, leader]), after  # at most one move, and no way back


def test_api_server_outage_keeps_the_ip_and_failover_working(cluster, vip, leader):
    successor = hash_order(cluster.node_addrs, vip)[1]
    cluster.stop_api()
    try:
        stopped = time.monotonic()
        assert cluster.curl(vip) is not None
        time.sleep(10)
        assert cluster.announcing_nodes(vip) == {leader}
        cluster.kill_speaker(leader)  # during the outage: membership alone must replace it
        assert cluster.wait_announcer(vip, lambda nodes: nodes == {successor}, 15) == {successor}
        cluster.flush_client_neighbors()
        assert wait_for(lambda: cluster.curl(vip, timeout=1), 10, 0.2)
        while time.monotonic() - stopped < API_OUTAGE:  # bounded by API_OUTAGE
            assert cluster.announcing_nodes(vip, count=2) == {successor}
            time.sleep(max(0.0, min(10.0, API_OUTAGE - (time.monotonic() - stopped))))
    finally:
        cluster.restart_api()
    cluster.start_speaker(leader)
    assert cluster.wait_announcer(vip, lambda nodes: len(nodes) == 1, 30)
    assert cluster.curl(vip) is not None


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v", "-s"]))
