# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The layer-2 responder on a real (namespaced) LAN: arping/ndisc6 from a client, tcpdump for
the gratuitous burst, the client's neighbor table, hostile frames, and link events.

Needs root, ``ip netns``, arping, ndisc6 and tcpdump (``make deps``); skips otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import pytest

import netlab
from responder_process import ResponderProcess

from ansible_collections.metal.lb.plugins.module_utils.engine import planner

pytestmark = pytest.mark.lab

VIP = "198.51.100.200"
VIP6 = "2001:db8:0:1::200"
OTHER = "198.51.100.201"
OTHER6 = "2001:db8:0:1::201"
ELSEWHERE = "198.51.100.202"  # announced, but only on an interface the node does not have
BOGUS_MAC = "02:00:00:00:00:99"


def wait_for(predicate, timeout: float, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def test_arping_is_answered_by_the_node_only(l2lab, start_responder):
    node, client = l2lab.hosts["node1"], l2lab.hosts["client"]
    responder = start_responder(node, [VIP, VIP6])
    assert responder.interfaces == {"eth0": {"arp": True, "ndp": True}}
    replies = netlab.arping(client, VIP, count=3)
    assert [r[0] for r in replies] == [node.mac] * 3
    status = responder.status()["counters"]
    assert status["metallb_layer2_requests_received"][VIP] == 3
    assert status["metallb_layer2_responses_sent"][VIP] == 3
    # reply latency as the client sees it (arping's own timing); a figure, not an assertion
    many = netlab.arping(client, VIP, count=20, interval=0.02)
    assert {r[0] for r in many} == {node.mac}
    print(
        "\narping round trip to the responder: median %.0f us, max %.0f us over %d requests"
        % (statistics.median(r[1] for r in many) * 1e6, max(r[1] for r in many) * 1e6, len(many))
    )


def test_ndisc6_is_answered_by_the_node_only(l2lab, start_responder):
    node, client = l2lab.hosts["node1"], l2lab.hosts["client"]
    responder = start_responder(node, [VIP, VIP6])
    macs = netlab.ndisc6(client, VIP6)
    assert macs and set(macs) == {node.mac}
    assert responder.status()["counters"]["metallb_layer2_responses_sent"][VIP6] >= 1


def test_ips_not_announced_here_get_no_answer(l2lab, start_responder):
    node, client = l2lab.hosts["node1"], l2lab.hosts["client"]
    responder = start_responder(node, [VIP, VIP6, ELSEWHERE + "@eth9"])
    assert netlab.arping(client, OTHER, count=2, interval=0.1, timeout=2) == []
    assert netlab.arping(client, ELSEWHERE, count=2, interval=0.1, timeout=2) == []
    assert netlab.ndisc6(client, OTHER6, wait_ms=500, retries=1) == []
    drops = responder.status()["counters"]["drops"]
    assert drops.get("notAnnounced", 0) >= 3 and drops.get("notMatchInterface", 0) >= 2
    # ... while the announced one still answers, and the VIP is on no interface of the node
    assert [r[0] for r in netlab.arping(client, VIP, count=1)] == [node.mac]
    addresses = json.loads(node.run("ip", "-j", "addr", "show").stdout)
    assert not [a for link in addresses for a in link.get("addr_info", ()) if a.get("local") in (VIP, VIP6)]


def test_gratuitous_burst_is_seen_and_moves_the_clients_neighbor_entries(l2lab, start_responder, tmp_path):
    node, client = l2lab.hosts["node1"], l2lab.hosts["client"]
    for ip in (VIP, VIP6):  # the client believes the VIP is somewhere else
        client.run("ip", "neigh", "replace", ip, "lladdr", BOGUS_MAC, "dev", "eth0", "nud", "stale")
    out, err = tmp_path / "tcpdump.txt", tmp_path / "tcpdump.err"
    with open(out, "w") as fo, open(err, "w") as fe:
        dump = l2lab.start(
            client,
            ["tcpdump", "-i", "eth0", "-n", "-t", "-e", "-l", "-vv", "arp or icmp6"],
            stdout=fo,
            stderr=fe,
        )
    try:
        assert wait_for(lambda: "listening on" in err.read_text(), 10), err.read_text()
        start_responder(node, [VIP, VIP6])
        moved = wait_for(
            lambda: all((netlab.neighbor(client, ip) or {}).get("lladdr") == node.mac for ip in (VIP, VIP6)),
            4.0,
        )
        assert moved, (netlab.neighbor(client, VIP), netlab.neighbor(client, VIP6))
        time.sleep(0.3)  # let tcpdump flush the first rounds
    finally:
        l2lab.stop(dump)
    lines = out.read_text().splitlines()
    request = [
        i
        for i, line in enumerate(lines)
        if line.startswith("%s > ff:ff:ff:ff:ff:ff" % node.mac)
        and "Request who-has %s (ff:ff:ff:ff:ff:ff) tell %s" % (VIP, VIP) in line
    ]
    reply = [
        i
        for i, line in enumerate(lines)
        if line.startswith("%s > ff:ff:ff:ff:ff:ff" % node.mac)
        and "Reply %s is-at %s" % (VIP, node.mac) in line
    ]
    advert = [
        i
        for i, line in enumerate(lines)
        if line.startswith("%s > 33:33:00:00:00:01" % node.mac)
        and "> ff02::1:" in line
        and "neighbor advertisement" in line
        and "tgt is %s" % VIP6 in line
        and "Flags [override]" in line
    ]
    assert request and reply and advert, "\n".join(lines)
    assert request[0] < reply[0]  # MetalLB's order: request, then reply


def test_malformed_frames_change_nothing(l2lab, start_responder):
    node, client = l2lab.hosts["node1"], l2lab.hosts["client"]
    responder = start_responder(node, [VIP, VIP6])
    assert [r[0] for r in netlab.arping(client, VIP, count=1)] == [node.mac]
    before = responder.status()
    injected = client.run(
        sys.executable,
        str(netlab.L2_RUNNER),
        "inject",
        "--interface",
        "eth0",
        "--src-ip",
        "198.51.100.100",
        "--src-ll",
        client.link_local,
        "--vip",
        VIP,
        "--vip6",
        VIP6,
        "--fuzz",
        "300",
        timeout=60,
    )
    sent = json.loads(injected.stdout.strip().splitlines()[-1])["sent"]
    assert sent > 300

    def changed():
        status = responder.status()
        return status if status["counters"]["drops"] != before["counters"]["drops"] else None

    after = wait_for(changed, 5.0)
    assert responder.alive()
    for counter in ("metallb_layer2_requests_received", "metallb_layer2_responses_sent"):
        assert after["counters"][counter] == before["counters"][counter], counter
    drops = after["counters"]["drops"]
    assert drops.get("malformed", 0) > before["counters"]["drops"].get("malformed", 0)
    assert "internalError" not in drops
    assert after["announced"] == before["announced"] and after["interfaces"] == before["interfaces"]
    # and it still answers
    assert [r[0] for r in netlab.arping(client, VIP, count=3)] == [node.mac] * 3
    assert set(netlab.ndisc6(client, VIP6)) == {node.mac}


def test_link_coming_up_is_seen_from_netlink_not_the_rescan_timer(l2lab, start_responder):
    client = l2lab.hosts["client"]
    node = l2lab.hosts.get("node2") or l2lab.add_host("node2", ("198.51.100.12/24",))
    node.run("ip", "link", "set", "eth0", "down")
    responder = start_responder(node, [VIP, VIP6], rescan=3600)
    assert responder.interfaces == {}
    node.run("ip", "link", "set", "eth0", "up")
    replies = wait_for(lambda: netlab.arping(client, VIP, count=1, timeout=1), 5.0, interval=0.0)
    assert replies and replies[0][0] == node.mac
    assert wait_for(lambda: responder.status()["interfaces"] == {"eth0": {"arp": True, "ndp": True}}, 5.0)
    node.run("ip", "link", "set", "eth0", "down")
    assert wait_for(lambda: responder.status()["interfaces"] == {}, 5.0)
    assert responder.alive()


def test_runner_without_cap_net_raw_fails_with_one_line(l2lab):
    node = l2lab.hosts["node1"]
    argv = node.cmd(
        "capsh",
        "--drop=cap_net_raw",
        "--",
        "-c",
        "exec %s %s respond --announce %s --seconds 5" % (sys.executable, netlab.L2_RUNNER, VIP),
    )
    if shutil.which("capsh") is None:
        pytest.skip("capsh is not installed")
    out = subprocess.run(
        argv, capture_output=True, text=True, timeout=30, env=netlab.child_env(), check=False
    )
    assert out.returncode == 3
    assert out.stderr.strip().count("\n") == 0 and "CAP_NET_RAW" in out.stderr


# ----------------------------------------------------------------- election on the wire


def snapshot(names: tuple[str, ...]) -> list[dict]:
    """A pool, an L2Advertisement on eth0, the Nodes, and a dual-stack Service holding VIP and
    VIP6 with a serving endpoint on the first node."""
    return [
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "IPAddressPool",
            "metadata": {"name": "lab", "namespace": "metallb-system"},
            "spec": {"addresses": ["198.51.100.200-198.51.100.210", "2001:db8:0:1::200-2001:db8:0:1::210"]},
        },
        {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "L2Advertisement",
            "metadata": {"name": "lab", "namespace": "metallb-system"},
            "spec": {"interfaces": ["eth0"]},
        },
        *(
            {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": n, "labels": {"kubernetes.io/hostname": n}},
            }
            for n in names
        ),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": "203.0.113.10",
                "clusterIPs": ["203.0.113.10", "2001:db8:0:ff::10"],
                "ipFamilies": ["IPv4", "IPv6"],
                "ipFamilyPolicy": "RequireDualStack",
                "ports": [{"port": 80, "protocol": "TCP"}],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": VIP}, {"ip": VIP6}]}},
        },
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": "web-x",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["203.0.113.50"], "nodeName": names[0], "conditions": {"ready": True}}
            ],
        },
    ]


class ElectingResponder(ResponderProcess):
    """The runner leading what the speaker on ``host`` would elect from ``objects_path``."""

    def __init__(self, lab, host, objects_path: str, members: list[str] | None, workdir: str):
        self.lab, self.host = lab, host
        self.status_path = os.path.join(workdir, "status-%s-%d.json" % (host.role, time.monotonic_ns()))
        argv = [
            sys.executable,
            str(netlab.L2_RUNNER),
            "respond",
            "--seconds",
            "120",
            "--status",
            self.status_path,
            "--objects",
            objects_path,
            "--node",
            host.role,
        ]
        if members is not None:
            argv += ["--members", ",".join(members)]
        self.proc = lab.start(
            host, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=netlab.child_env()
        )
        self.interfaces = self._wait_ready(15.0)


def test_only_the_elected_node_answers_and_agrees_with_the_planner(l2lab, tmp_path):
    """Two nodes run the responder on the same snapshot; each decides "do I announce" with the
    speaker's election. The client sees exactly one MAC per VIP: the planner's winner's; no MAC
    for an IP nobody leads; with the winner out of the member set, the other node takes over."""
    client = l2lab.hosts["client"]
    hosts = {"node1": l2lab.hosts["node1"]}
    hosts["node3"] = l2lab.hosts.get("node3") or l2lab.add_host(
        "node3", ("198.51.100.13/24", "2001:db8:0:1::13/64")
    )
    objects = snapshot(tuple(hosts))
    path = tmp_path / "objects.json"
    path.write_text(json.dumps(objects))
    planned = planner.plan(objects)
    assert planned["errors"] == []
    winner = planned["announcements"][VIP]["layer2"]["node"]
    assert winner in hosts and planned["announcements"][VIP6]["layer2"]["node"] == winner
    loser = next(n for n in hosts if n != winner)
    for members in (None, [loser]):
        expected = winner if members is None else loser
        if members is not None:
            assert planner.plan(objects, members=members)["announcements"][VIP]["layer2"]["node"] == loser
        procs = [ElectingResponder(l2lab, h, str(path), members, str(tmp_path)) for h in hosts.values()]
        try:
            replies = netlab.arping(client, VIP, count=3)
            assert [r[0] for r in replies] == [hosts[expected].mac] * 3, replies
            assert set(netlab.ndisc6(client, VIP6)) == {hosts[expected].mac}
            assert netlab.arping(client, OTHER, count=2, interval=0.1, timeout=2) == []
            statuses = {p.host.role: p.status() for p in procs}
            assert statuses[expected]["announced"] == {VIP: ["eth0"], VIP6: ["eth0"]}
            other = next(n for n in hosts if n != expected)
            assert statuses[other]["announced"] == {}
            assert statuses[other]["counters"]["metallb_layer2_responses_sent"] == {}
        finally:
            for p in procs:
                p.stop()
