# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speakers in the namespace lab (kube-proxy in IPVS mode with strictARP on): who answers ARP
and NDP for a LoadBalancer IP, as seen from the client, under MetalLB's election rules — and that
hostile frames and datagrams change nothing.

The expected leader is computed here from MetalLB's documented order (sha256(node + "#" + ip),
first ingress IP), not by calling the engine.

Needs root, ``ip netns``, arping, ndisc6, tcpdump, nft, curl (``make deps``) and
``bin/metal-lb speaker``; skips otherwise.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time

import pytest

import netlab
from lab import topology
from lab.topology import hash_order
from lab.cluster import python, wait_for

pytestmark = pytest.mark.lab

LAB_OPTIONS = {"speakers": True, "strict_arp": True}
EXCLUDE = "node.kubernetes.io/exclude-from-external-load-balancers"



def one_announcer(cluster, ip: str, expected: str, timeout: float = 20) -> set[str]:
    return cluster.wait_announcer(ip, lambda nodes: nodes == {expected}, timeout)


@pytest.fixture(scope="module")
def web(cluster):
    """Pool (v4 + v6) + L2Advertisement + a dual-stack 3-replica Service; its ingress IPs."""
    cluster.apply_config()
    cluster.create_service("web", replicas=3, dual_stack=True)
    ips = cluster.wait_ingress("web", count=2, timeout=60)
    assert cluster.wait_kube_proxy(ips[0])
    return ips


@pytest.fixture
def leader(cluster, web) -> str:
    """The node that should announce web's IPs with every node eligible, once it does."""
    expected = hash_order(cluster.node_addrs, web[0])[0]
    assert one_announcer(cluster, web[0], expected, 30) == {expected}
    return expected


def test_arping_is_answered_with_exactly_one_mac_the_leaders(cluster, web, leader):
    v4 = next(ip for ip in web if ":" not in ip)
    replies = netlab.arping(cluster.hosts["client"], v4, count=5, interval=0.1)
    assert len(replies) == 5
    assert {mac for mac, _ in replies} == {cluster.hosts[leader].mac}
    body = cluster.curl(v4)
    assert body and body.startswith("pod web-")


def test_ndisc6_is_answered_with_exactly_one_mac_the_leaders(cluster, web, leader):
    v6 = next(ip for ip in web if ":" in ip)
    # the whole (dual-stack) service is elected with its first ingress IP, as MetalLB does
    assert wait_for(lambda: cluster.arp_answers(v6) == {cluster.hosts[leader].mac}, 15, 0.3)
    assert set(netlab.ndisc6(cluster.hosts["client"], v6, wait_ms=800, retries=2)) == {
        cluster.hosts[leader].mac
    }
    assert cluster.curl(v6) is not None


def test_services_sharing_an_ip_are_announced_from_one_node(cluster, web):
    shared = "198.51.100.210"
    for name, port in (("shared-a", 80), ("shared-b", 81)):
        cluster.create_service(
            name,
            selector_pods="web",
            port=port,
            annotations={"metallb.io/allow-shared-ip": "lab-key", "metallb.io/loadBalancerIPs": shared},
        )
    try:
        assert cluster.wait_ingress("shared-a") == [shared]
        assert cluster.wait_ingress("shared-b") == [shared]
        expected = hash_order(cluster.node_addrs, shared)[0]
        assert one_announcer(cluster, shared, expected) == {expected}
        assert cluster.arp_answers(shared, count=4) == {cluster.hosts[expected].mac}
        assert cluster.wait_kube_proxy(shared)
        assert cluster.curl(shared, 80) is not None and cluster.curl(shared, 81) is not None
    finally:
        cluster.delete_service("shared-a")
        cluster.delete_service("shared-b")


def test_external_traffic_policy_local_moves_the_ip_to_a_node_with_an_endpoint(cluster, web):
    cluster.create_service("local", replicas=3, etp_local=True)
    try:
        ip = cluster.wait_ingress("local")[0]
        order = hash_order(cluster.node_addrs, ip)
        assert one_announcer(cluster, ip, order[0]) == {order[0]}
        svc = cluster.services["local"]
        for pod in svc.pods:
            pod.ready = pod.node != order[0]  # the first choice loses its only endpoint
        cluster.write_endpoints("local")
        assert one_announcer(cluster, ip, order[1]) == {order[1]}
        cluster.flush_client_neighbors()
        assert wait_for(lambda: cluster.curl(ip) or "", 10, 0.3).split()[4] == order[1]  # its local pod
    finally:
        cluster.delete_service("local")


@pytest.mark.parametrize("how", ["exclude-label", "NetworkUnavailable"])
def test_an_excluded_or_unavailable_node_stops_announcing(cluster, web, leader, how):
    v4 = web[0]
    second = hash_order(cluster.node_addrs, v4)[1]

    def set_excluded(on: bool) -> None:
        if how == "exclude-label":
            cluster.label_node(leader, {EXCLUDE: "true" if on else None})
        else:
            cluster.set_network_unavailable(leader, on)

    set_excluded(True)
    try:
        assert one_announcer(cluster, v4, second) == {second}
    finally:
        set_excluded(False)
    assert one_announcer(cluster, v4, leader) == {leader}


def test_strict_arp_off_every_node_answers_on_only_the_leader(cluster, web, leader):
    v4 = web[0]
    every = {cluster.hosts[n].mac for n in cluster.node_addrs}
    cluster.set_strict_arp(False)
    try:
        assert wait_for(lambda: cluster.arp_answers(v4) == every, 15, 0.5)  # MetalLB's documented problem
    finally:
        cluster.set_strict_arp(True)
    assert wait_for(lambda: cluster.arp_answers(v4) == {cluster.hosts[leader].mac}, 15, 0.5)


def speaker_metrics(cluster, node: str) -> str:
    out = cluster.hosts[node].run(
        "curl", "-s", "-m", "3", "http://127.0.0.1:%d/metrics" % topology.METRICS_PORT, check=False
    )
    return out.stdout


def membership_drops(cluster, node: str) -> int:
    return sum(
        int(float(m))
        for m in re.findall(
            r"^metal_lb_membership_datagrams_dropped_total\{[^}]*\} (\S+)",
            speaker_metrics(cluster, node),
            re.M,
        )
    )


def test_malformed_arp_and_ndp_frames_change_nothing(cluster, web, leader):
    client = cluster.hosts["client"]
    out = client.run(
        python(),
        str(netlab.L2_RUNNER),
        "inject",
        "--src-ip",
        topology.CLIENT_V4,
        "--src-ll",
        client.link_local,
        "--vip",
        web[0],
        "--vip6",
        web[1],
        "--seed",
        "7",
        "--fuzz",
        "300",
        timeout=60,
    )
    assert json.loads(out.stdout.strip().splitlines()[-1])["sent"] > 300
    assert all(proc.poll() is None for proc in cluster.speakers.values())
    assert cluster.arp_answers(web[0], count=4) == {cluster.hosts[leader].mac}
    assert cluster.arp_answers(web[1]) == {cluster.hosts[leader].mac}


def captured_datagram(cluster, node: str) -> bytes:
    """One real membership datagram, captured on ``node`` (to replay it)."""
    pcap = os.path.join(cluster.workdir, "membership.pcap")
    cluster.hosts[node].run(
        "timeout",
        "10",
        "tcpdump",
        "-i",
        "eth0",
        "-c",
        "1",
        "-w",
        pcap,
        "udp",
        "port",
        str(topology.MEMBERSHIP_PORT),
        "and",
        "src",
        "host",
        cluster.node_addrs[node].v4,
        timeout=20,
    )
    with open(pcap, "rb") as fh:
        data = fh.read()
    frame = data[24 + 16 :]  # pcap header, record header (Ethernet link type)
    ihl = (frame[14] & 0x0F) * 4
    return frame[14 + ihl + 8 :]


def test_hostile_membership_datagrams_change_nothing(cluster, web, leader):
    from ansible_collections.metal.lb.plugins.module_utils.adapters.membership import messages

    replay = captured_datagram(cluster, leader)
    cluster_id = messages.cluster_id("metal-lb/metallb-system")
    wrong_key = b"not-the-lab-key-0123456789abcdef"
    now_ms = int(time.time() * 1000)
    others = [n for n in cluster.node_addrs if n != leader]
    forged = [
        messages.encode(
            messages.Message(
                messages.Kind.DOWN,
                others[0],
                now_ms,
                seq=10**6,
                sent_ms=now_ms,
                subject=leader,
                subject_incarnation=now_ms,
            ),
            wrong_key,
            cluster_id,
        ),
        messages.encode(
            messages.Message(messages.Kind.LEAVE, leader, now_ms + 10**6, seq=10**6, sent_ms=now_ms),
            wrong_key,
            cluster_id,
        ),
    ]
    rng = random.Random(11)
    garbage = [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 600))) for _ in range(100)]
    truncated = [replay[:n] for n in range(0, len(replay), 7)]
    flipped = [replay[:i] + bytes([replay[i] ^ 0x40]) + replay[i + 1 :] for i in range(0, len(replay), 5)]
    datagrams = forged * 20 + garbage + truncated + flipped + [replay] * 20
    before = {n: membership_drops(cluster, n) for n in cluster.node_addrs}
    script = (
        "import socket,sys,json\n"
        "d=[bytes.fromhex(x) for x in json.load(sys.stdin)]\n"
        "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
        "for a in sys.argv[1:]:\n"
        "    for x in d: s.sendto(x,(a,%d))\n" % topology.MEMBERSHIP_PORT
    )
    subprocess.run(
        cluster.hosts["client"].cmd(python(), "-c", script, *[a.v4 for a in cluster.node_addrs.values()]),
        input=json.dumps([d.hex() for d in datagrams]),
        text=True,
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 3.0  # longer than the failure timeout and the stable period
    while time.monotonic() < deadline:
        assert cluster.arp_answers(web[0], count=2) == {cluster.hosts[leader].mac}
    assert all(proc.poll() is None for proc in cluster.speakers.values())
    after = {n: membership_drops(cluster, n) for n in cluster.node_addrs}
    for node in cluster.node_addrs:
        assert after[node] >= before[node] + len(garbage), (
            "node %s did not count the dropped datagrams" % node
        )


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
