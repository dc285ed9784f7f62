# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lab's addresses, in one place. Only documentation ranges: 198.51.100.0/24 and
2001:db8::/32 (203.0.113.0/24 is the API server's service CIDR). Nothing here is routed off the lab.

  .2 / ::2        apiserver (kube-apiserver on :6443; with hosts, also the control-plane host cp1)
  .5 / ::5        admin: where Ansible runs against the lab hosts (hosts.py)
  .11-.13 / ::11  node1..node3, pods of nodeN on lo: 198.51.100.(16*(N+1)).0/28 and 2001:db8:0:1N::/64
  .100 / ::100    client
  .200-.220       the demo pool (and 2001:db8:0:1::200-2001:db8:0:1::220)
  .254 / ::254    router (BGP tests: FRR or BIRD peering with the nodes' speakers)
  wan-client      behind the router, on its own link: 198.51.100.232/29 and 2001:db8:0:2::/64
                  (.233 / ::1 the router's side, .234 / ::100 the wan-client). Not 203.0.113.0/24:
                  ClusterIPs come from all of it, so a wan-client there could share an address with
                  a Service and its replies would stay on the node.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

V4_PREFIX = "198.51.100.0/24"
V6_PREFIX = "2001:db8:0:1::/64"
LAB_PREFIXES = (V4_PREFIX, "2001:db8::/32")
API_V4, API_V6 = "198.51.100.2", "2001:db8:0:1::2"
API_PORT = 6443
ADMIN_V4, ADMIN_V6 = "198.51.100.5", "2001:db8:0:1::5"
CLIENT_V4, CLIENT_V6 = "198.51.100.100", "2001:db8:0:1::100"
POOL_V4 = "198.51.100.200-198.51.100.220"
POOL_V6 = "2001:db8:0:1::200-2001:db8:0:1::220"
ROUTER_V4, ROUTER_V6 = "198.51.100.254", "2001:db8:0:1::254"
WAN_V4_NET, WAN_V6_NET = "198.51.100.232/29", "2001:db8:0:2::/64"
WAN_ROUTER_V4, WAN_ROUTER_V6 = "198.51.100.233", "2001:db8:0:2::1"
WAN_CLIENT_V4, WAN_CLIENT_V6 = "198.51.100.234", "2001:db8:0:2::100"
MEMBERSHIP_PORT = 7946
METRICS_PORT = 7472
BACKEND_PORT = 8080


@dataclass(frozen=True)
class NodeAddresses:
    name: str
    index: int

    @property
    def v4(self) -> str:
        return "198.51.100.%d" % (10 + self.index)

    @property
    def v6(self) -> str:
        return "2001:db8:0:1::%d" % (10 + self.index)

    @property
    def pod_net_v4(self) -> str:
        return "198.51.100.%d/28" % (16 * (self.index + 1))

    @property
    def pod_net_v6(self) -> str:
        return "2001:db8:0:1%d::/64" % self.index

    def pod_v4(self, slot: int) -> str:
        return "198.51.100.%d" % (16 * (self.index + 1) + 1 + slot)

    def pod_v6(self, slot: int) -> str:
        return "2001:db8:0:1%d::%x" % (self.index, 1 + slot)


def nodes(count: int = 3) -> list[NodeAddresses]:
    if not 1 <= count <= 4:  # pod /28s stop below the client at .100
        raise ValueError("the lab has 1 to 4 nodes")
    return [NodeAddresses("node%d" % i, i) for i in range(1, count + 1)]


def hash_order(nodes, ip: str) -> list[str]:
    """MetalLB's layer-2 order when no preference applies: sha256(node + "#" + ip), computed here
    independently of the engine so the lab checks the speakers rather than repeating them."""
    return sorted(nodes, key=lambda n: hashlib.sha256(("%s#%s" % (n, ip)).encode()).digest())
