# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router fixtures' pure parts, without root: the configuration each router gets from one
description, and the readers of BIRD's text output (its layout as BIRD 2.0.12 prints it)."""

from __future__ import annotations

import pytest
from routers import IPV4, IPV6, BirdRouter, FrrRouter, Neighbor, RouterSpec, bird_protocols, bird_routes

ROUTES = """BIRD 2.0.12 ready.
Table master4:
198.51.100.70/32     unicast [dyn0n1 21:24:22.612] * (100) [AS64501i]
\tvia 198.51.100.11 on eth0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.as_path: 64501
\tBGP.next_hop: 198.51.100.11
\tBGP.local_pref: 150
\tBGP.community: (65000,100) (65535,0)
\tBGP.large_community: (64500, 1, 2)
                     unicast [dyn0n2 21:24:22.782] (100) [AS64501i]
\tvia 198.51.100.12 on eth0
\tType: BGP univ
\tBGP.origin: IGP
\tBGP.next_hop: 198.51.100.12
\tBGP.local_pref: 150
198.51.100.80/32     unicast [dyn0n2 21:24:23.001] * (100) [AS64501i]
\tvia 198.51.100.12 on eth0
\tType: BGP univ
\tBGP.next_hop: 2001:db8:0:1::12 fe80::34b8:92ff:fef8:e66c
198.51.100.0/24      unicast [direct1 21:24:20.000] * (240)
\tdev eth0
\tType: device univ
"""

PROTOCOLS = """BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
peer0      BGP        ---        start  21:24:35.325  Passive
  BGP state:          Passive
    Neighbor range:   198.51.100.0/24
    Neighbor AS:      64501
dyn0n1     BGP        ---        start  21:24:37.652  Passive       Socket: Connection closed
  BGP state:          Passive
    Neighbor address: 198.51.100.11
    Neighbor graceful restart active
  Channel ipv4
    Route change stats:     received   rejected   filtered    ignored   accepted
      Import updates:              3          0          0          0          3
      Import withdraws:            1          0        ---          0          1
dyn0n2     BGP        ---        up     21:24:36.565  Established
  BGP state:          Established
    Neighbor address: 198.51.100.12
kipv4      Kernel     master4    up     21:24:35.325
"""


def test_bird_routes_merge_the_paths_and_keep_the_best_paths_attributes():
    views = bird_routes(ROUTES)
    assert set(views) == {"198.51.100.70/32", "198.51.100.80/32"}  # the device route is not BGP
    ecmp = views["198.51.100.70/32"]
    assert ecmp.next_hops == {"198.51.100.11", "198.51.100.12"}
    assert ecmp.communities == {"65000:100", "65535:0"}
    assert ecmp.large_communities == {"64500:1:2"}
    assert ecmp.local_pref == 150
    assert views["198.51.100.80/32"].next_hops == {"198.51.100.12", "2001:db8:0:1::12"}  # no link-local
    assert views["198.51.100.80/32"].local_pref is None


def test_bird_protocols_per_neighbor_address():
    got = bird_protocols(PROTOCOLS)
    assert set(got) == {"198.51.100.11", "198.51.100.12"}  # the range template is no session
    assert got["198.51.100.11"]["state"] == "Passive" and got["198.51.100.11"]["graceful_restart"]
    assert (got["198.51.100.11"]["import_updates"], got["198.51.100.11"]["import_withdraws"]) == (3, 1)
    assert got["198.51.100.12"] == {"state": "Established", "since": "21:24:36.565", "graceful_restart": False,
                                    "import_updates": 0, "import_withdraws": 0}


SPEC = RouterSpec(64500, "198.51.100.254", (
    Neighbor(64501, listen_range="198.51.100.0/24", password="pw", bfd=True, bfd_interval_ms=100),
    Neighbor(64500, address="2001:db8:0:1::11", families=(IPV6,), hold_time=9),
))


def test_frr_router_configuration_from_the_description():
    cmds = FrrRouter("r", "ns", SPEC).commands()
    for line in ("bgp listen range 198.51.100.0/24 peer-group range0", "neighbor range0 remote-as 64501",
                 "neighbor range0 password pw", "neighbor range0 bfd profile rtr-100-3",
                 "neighbor range0 graceful-restart-helper", "neighbor 2001:db8:0:1::11 timers 3 9",
                 "maximum-paths 8", "maximum-paths ibgp 8", "receive-interval 100"):
        assert line in cmds
    v4 = cmds.index("address-family ipv4 unicast")
    v6 = cmds.index("address-family ipv6 unicast")
    assert cmds[v4:v6].count("neighbor range0 activate") == 1
    assert "neighbor 2001:db8:0:1::11 activate" in cmds[v6:]
    assert "neighbor 2001:db8:0:1::11 activate" not in cmds[v4:v6]
    assert "neighbor 2001:db8:0:1::11 disable-connected-check" not in cmds  # iBGP


def test_bird_router_configuration_from_the_description():
    router = BirdRouter("r", "ns", SPEC)
    router.dir = "/run/bird-test"
    text = router.config()
    for line in ("neighbor range 198.51.100.0/24 as 64501;", 'password "pw";', "bfd on;",
                 "min rx interval 100 ms", "neighbor 2001:db8:0:1::11 as 64500;", "hold time 9;",
                 "merge paths on limit 8", "ipv6 { import all; export none; gateway direct; };"):
        assert line in text
    assert text.count("ipv4 { import all") == 1


def test_bird_takes_one_bfd_setting_and_neighbors_are_validated():
    two = RouterSpec(64500, "198.51.100.254", (Neighbor(1, address="198.51.100.1", bfd=True, bfd_interval_ms=100),
                                              Neighbor(1, address="198.51.100.2", bfd=True)))
    with pytest.raises(ValueError, match="one BFD setting"):
        BirdRouter("r", "ns", two).config()
    with pytest.raises(ValueError):
        Neighbor(1, address="198.51.100.1", listen_range="198.51.100.0/24")
    with pytest.raises(ValueError):
        Neighbor(1, address="198.51.100.1", families=(IPV4, "vpnv4"))
