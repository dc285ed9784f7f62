# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab with its BGP router: ``router`` on the bridge (198.51.100.254 / 2001:db8:0:1::254, FRR
accepting eBGP sessions from every node address) and ``wan-client`` behind it on a link of its own.
The nodes reach the wan-client through the router, in both families, and back."""

from __future__ import annotations

import functools
import sys

import pytest
from routers import IPV4, IPV6, FrrRouter, Neighbor, RouterSpec, missing, wait_for

from lab import topology

NODE_ASN, ROUTER_ASN = 64501, 64500
ROUTER_SPEC = RouterSpec(ROUTER_ASN, topology.ROUTER_V4, (
    Neighbor(NODE_ASN, listen_range=topology.V4_PREFIX, families=(IPV4,), bfd=True, bfd_interval_ms=100),
    Neighbor(NODE_ASN, listen_range=topology.V6_PREFIX, families=(IPV6,), bfd=True, bfd_interval_ms=100),
))
LAB_OPTIONS = {"router": functools.partial(FrrRouter, spec=ROUTER_SPEC), "kube_proxy": False, "speakers": False}
PORT = 8080


@pytest.fixture(scope="module", autouse=True)
def frr_present():
    reason = missing("frr")
    if reason:
        pytest.skip(reason)


def test_the_router_joins_the_nodes_and_the_wan_client(cluster):
    assert cluster.router is not None and cluster.router.sessions() == {}  # no speaker speaks BGP here
    wan = cluster.hosts["wan-client"]
    server = cluster.net.start(wan, [sys.executable, "-m", "http.server", "--bind", "::", str(PORT)])
    try:
        for address in (topology.WAN_CLIENT_V4, topology.WAN_CLIENT_V6):
            url = "http://%s:%d/" % ("[%s]" % address if ":" in address else address, PORT)
            for node in cluster.node_addrs:
                wait_for(lambda n=node, u=url: (_curl(cluster, n, u), None), 20, 0.2, "%s -> %s" % (node, url))
    finally:
        cluster.net.stop(server)
        cluster.net.forget(server)


def _curl(cluster, node: str, url: str) -> bool:
    out = cluster.hosts[node].run("curl", "-s", "-o", "/dev/null", "-m", "3", "--noproxy", "*", url, check=False,
                                  timeout=15)
    return out.returncode == 0

