# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's pure parts, without root: address safety, the host-route overlap refusal, the
kube-proxy emulation's rules and strictARP parsing, and the probe's outage arithmetic."""

from __future__ import annotations

import json

import pytest

import netlab
from lab import kube_proxy, netns, objects, probe, topology


@pytest.mark.parametrize(
    "address",
    [
        # an allow-list: anything outside the documentation ranges is refused
        "100.64.0.1/10",
        "203.0.114.1/24",
        "198.51.0.0/16",
        "2001:db9::1/64",
        "fd00::1/64",
    ],
)
def test_addresses_outside_the_documentation_ranges_are_refused(address):
    with pytest.raises(netns.LabError, match="refusing lab address"):
        netns.check_lab_address(address)


def test_the_lab_topology_uses_only_documentation_ranges():
    for node in topology.nodes(4):
        for address in (node.v4, node.v6, node.pod_net_v4, node.pod_net_v6, node.pod_v4(13), node.pod_v6(13)):
            netns.check_lab_address(address)
    with pytest.raises(ValueError):
        topology.nodes(5)  # its pods would reach the client's address


def test_host_routes_overlapping_the_lab_are_reported(monkeypatch):
    routes = {
        "-4": [
            {"dst": "default", "dev": "eth0"},
            {"dst": "198.51.100.0/25", "dev": "ens3"},
            {"dst": "127.0.0.1", "type": "local", "dev": "lo"},
            {"dst": "100.64.0.0/10", "dev": "eth0"},
        ],
        "-6": [{"dst": "2001:db8:5::/48", "dev": "ens4"}, {"dst": "fe80::/64", "dev": "eth0"}],
    }

    def fake_run(argv, check=True, timeout=30, **kw):
        class Out:
            stdout = json.dumps(routes[argv[1]])
            returncode = 0

        return Out()

    monkeypatch.setattr(netns, "run", fake_run)
    assert netns.host_route_overlaps(list(topology.LAB_PREFIXES)) == [
        "198.51.100.0/25 (ens3)",
        "2001:db8:5::/48 (ens4)",
    ]
    routes["-4"], routes["-6"] = routes["-4"][:1], []
    assert netns.host_route_overlaps(list(topology.LAB_PREFIXES)) == []
    assert netlab.host_route_overlaps is netns.host_route_overlaps  # the tests use the same check


@pytest.mark.parametrize("strict, expected", [(True, True), (False, False)])
def test_strict_arp_follows_the_kube_proxy_configmap(strict, expected):
    assert kube_proxy.strict_arp(objects.kube_proxy_configmap(strict)) is expected


@pytest.mark.parametrize(
    "configmap",
    [
        None,
        {},
        {"data": {}},
        {"data": {"config.conf": "ipvs: ["}},
        {"data": {"config.conf": "mode: ipvs\nipvs: {strictARP: 'yes'}"}},
    ],
)
def test_strict_arp_is_off_when_the_configmap_does_not_say_true(configmap):
    assert kube_proxy.strict_arp(configmap) is False


def lb_service(name, ips, etp="Cluster"):
    body = objects.service(name, etp_local=etp == "Local")
    body["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}
    return body


def slice_of(name, family, endpoints):
    pods = [
        {"name": "%s-%d" % (name, i), "node": node, "ip": ip, "ready": ready}
        for i, (node, ip, ready) in enumerate(endpoints)
    ]
    return objects.endpoint_slice(name, "default", family, pods, 8080)


def test_kube_proxy_rules_dnat_every_ready_endpoint_and_reject_the_rest():
    services = {
        "default/web": lb_service("web", ["198.51.100.200"]),
        "default/idle": lb_service("idle", ["198.51.100.201"]),
    }
    slices = {
        "default/web-ipv4": slice_of(
            "web",
            "IPv4",
            [
                ("node1", "198.51.100.33", True),
                ("node2", "198.51.100.49", True),
                ("node3", "198.51.100.65", False),
            ],
        )
    }
    ips, script = kube_proxy.desired(services, slices, "node1")
    assert ips == {"198.51.100.200", "198.51.100.201"}
    rule = (
        "ip daddr 198.51.100.200 tcp dport 80 dnat ip to numgen random mod 2 "
        "map { 0 : 198.51.100.33 . 8080, 1 : 198.51.100.49 . 8080 }"
    )
    assert script.count(rule) == 2  # prerouting and output
    assert "198.51.100.65" not in script and "dport 80 dnat ip to" in script
    assert "elements = { 198.51.100.200, 198.51.100.201 }" in script  # both rejected off their ports
    assert "ip daddr @lb4 reject" in script


def test_kube_proxy_rules_for_external_traffic_policy_local_use_local_endpoints_only():
    services = {"default/web": lb_service("web", ["198.51.100.200"], etp="Local")}
    slices = {
        "default/web-ipv4": slice_of(
            "web", "IPv4", [("node1", "198.51.100.33", True), ("node2", "198.51.100.49", True)]
        )
    }
    assert "198.51.100.49" not in kube_proxy.desired(services, slices, "node1")[1]
    _, on_node3 = kube_proxy.desired(services, slices, "node3")
    assert "dnat ip to" not in on_node3  # no local endpoint: only the reject applies


def test_probe_outage_is_the_longest_gap_until_recovery():
    samples = [(0.0, "a"), (0.1, "a"), (0.2, "a"), (1.0, "b"), (1.1, "b")]
    assert probe.outage(samples, 0.15, lambda m: True, lambda m: m != "a") == (pytest.approx(0.8), 1.0)
    assert probe.outage(samples, 1.5, lambda m: True, lambda m: m != "a") == (None, None)
    tcp = [(0.0, True), (0.1, False), (0.2, False), (0.3, True)]
    assert probe.outage(tcp, 0.05, lambda ok: ok) == (pytest.approx(0.3), 0.3)
