# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's kube-proxy (IPVS mode) emulation, without speakers: LoadBalancer IPs on every node's
kube-ipvs0, the strictARP problem MetalLB's docs warn about, DNAT to the pods, and the filter that
keeps host services off the VIPs. The client reaches a chosen node by pinning the VIP's neighbour
entry to that node's MAC (no speaker answers here).

Needs root, ``ip netns``, arping, ndisc6, tcpdump, nft, curl (``make deps``); skips otherwise.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from lab.cluster import python, wait_for

pytestmark = pytest.mark.lab

LAB_OPTIONS = {"speakers": False, "strict_arp": False}


@pytest.fixture(scope="module")
def web(cluster):
    """Pool + L2Advertisement + a 3-replica Service (one pod per node); its IPv4 external IP."""
    cluster.apply_config()
    cluster.create_service("web", replicas=3)
    ip = cluster.wait_ingress("web")[0]
    assert cluster.wait_kube_proxy(ip), "kube-proxy emulators did not put %s on kube-ipvs0" % ip
    return ip


def pin(cluster, ip: str, node: str) -> None:
    """Send the client's traffic for ``ip`` to ``node`` (what an ARP answer from it would do)."""
    cluster.hosts["client"].run(
        "ip", "neigh", "replace", ip, "lladdr", cluster.hosts[node].mac, "dev", "eth0", "nud", "permanent"
    )


def pods_answering(cluster, ip: str, tries: int, port: int = 80) -> list[str | None]:
    return [
        (lambda body: body.split()[1] if body else None)(cluster.curl(ip, port, timeout=2))
        for _ in range(tries)
    ]


def test_the_lb_ip_is_on_kube_ipvs0_of_every_node_not_on_eth0(cluster, web):
    for node in cluster.node_addrs:
        assert web in cluster.kube_ipvs_addresses(node)
        eth0 = cluster.hosts[node].run("ip", "-o", "addr", "show", "dev", "eth0").stdout
        assert web not in eth0
        link = cluster.hosts[node].run("ip", "-o", "link", "show", "dev", "kube-ipvs0").stdout
        assert "state DOWN" in link  # like kube-proxy's dummy: never up, still local


def test_strict_arp_off_every_node_answers_and_on_none_does(clean_client, web):
    cluster = clean_client
    macs = {cluster.hosts[n].mac for n in cluster.node_addrs}
    cluster.set_strict_arp(False)
    assert wait_for(
        lambda: all(
            cluster.node_sysctl(n, "net.ipv4.conf.all.arp_ignore") == "0" for n in cluster.node_addrs
        ),
        15,
    )
    assert wait_for(lambda: cluster.arp_answers(web) == macs, 10, 0.5)
    cluster.set_strict_arp(True)
    assert wait_for(
        lambda: all(
            cluster.node_sysctl(n, "net.ipv4.conf.all.arp_ignore") == "1"
            and cluster.node_sysctl(n, "net.ipv4.conf.all.arp_announce") == "2"
            for n in cluster.node_addrs
        ),
        15,
    )
    assert cluster.arp_answers(web) == set()
    cluster.set_strict_arp(False)
    assert wait_for(lambda: cluster.arp_answers(web) == macs, 10, 0.5)


@pytest.mark.parametrize("entry", ["node1", "node3"])
def test_dnat_spreads_over_the_pods_of_every_node(clean_client, web, entry):
    cluster = clean_client
    pin(cluster, web, entry)
    answers = pods_answering(cluster, web, 30)
    assert None not in answers
    # random over three endpoints: 30 tries miss one with probability 3 * (2/3)**30 < 2e-5
    assert set(answers) == {p.name for p in cluster.services["web"].pods}


def test_a_host_service_on_0000_is_not_reachable_through_the_vip(clean_client, web):
    cluster = clean_client
    node = "node2"
    server = cluster.net.start(
        cluster.hosts[node],
        [python(), "-m", "http.server", "--bind", "0.0.0.0", "9999"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        node_ip = cluster.node_addrs[node].v4
        assert wait_for(lambda: cluster.curl(node_ip, 9999) is not None, 20, 0.2), (
            "host service did not start"
        )
        pin(cluster, web, node)
        assert cluster.curl(web, 80) is not None  # the service port works through this node
        assert cluster.curl(web, 9999, timeout=2) is None  # the host's 0.0.0.0 listener does not
        assert cluster.curl(node_ip, 9999) is not None  # and it is really listening
    finally:
        cluster.net.stop(server)
        cluster.net.forget(server)


def test_external_traffic_policy_local_reaches_only_local_pods(clean_client, web):
    cluster = clean_client
    cluster.create_service("local", replicas=2, nodes=["node1", "node2"], etp_local=True)
    ip = cluster.wait_ingress("local")[0]
    assert cluster.wait_kube_proxy(ip)
    pods_by_node = {p.node: p.name for p in cluster.services["local"].pods}
    for node in ("node1", "node2"):
        pin(cluster, ip, node)
        assert set(pods_answering(cluster, ip, 6)) == {pods_by_node[node]}
    pin(cluster, ip, "node3")  # no local endpoint: rejected, as kube-proxy does
    assert pods_answering(cluster, ip, 2) == [None, None]


def test_deleting_the_service_removes_its_ip_everywhere(clean_client, web):
    cluster = clean_client
    cluster.create_service("gone", selector_pods="web")
    ip = cluster.wait_ingress("gone")[0]
    assert cluster.wait_kube_proxy(ip)
    cluster.delete_service("gone")
    assert cluster.wait_kube_proxy(ip, present=False)
    pin(cluster, ip, "node1")
    assert cluster.curl(ip, 80, timeout=2) is None


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
