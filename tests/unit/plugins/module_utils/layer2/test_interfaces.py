# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Interface eligibility (MetalLB's updateInterfaces rules) over plain records, and the
pyroute2 adapter against this host's own links (read-only)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import interfaces as I

UP_BCAST = I.IFF_UP | I.IFF_BROADCAST | 0x1000  # UP, BROADCAST, MULTICAST
MAC = bytes.fromhex("020000000001")
LL = "fe80::1"


def rec(name="eth0", flags=UP_BCAST, mac=MAC, master=0, link_local=LL, index=2, link_type=I.ARPHRD_ETHER):
    return I.InterfaceRecord(name, index, flags, mac, master, link_local, link_type)


def uses(*records, **kw):
    return {name: (a.arp, a.ndp) for name, a in I.announceable(records, **kw).items()}


def test_plain_ethernet_interface_gets_arp_and_ndp():
    assert uses(rec()) == {"eth0": (True, True)}


@pytest.mark.parametrize(
    "name",
    [
        "docker0",
        "cbr0",
        "dummy1",
        "virbr0",
        "lxcbr0",
        "veth1a2b",
        "lo",
        "cali12",
        "tunl0",
        "flannel.1",
        "kube-ipvs0",
        "cni0",
        "nodelocaldns",
        "lxc9f",
    ],
)
def test_default_exclude_list(name):
    assert uses(rec(name)) == {}


@pytest.mark.parametrize("name", ["eth0", "lo0", "bond0", "br-lan", "ens3", "myveth", "vlan.100"])
def test_names_not_excluded_by_default(name):
    assert uses(rec(name)) == {name: (True, True)}


def test_down_enslaved_and_noarp_interfaces_are_skipped():
    assert (
        uses(rec("a", flags=I.IFF_BROADCAST), rec("b", master=7), rec("c", flags=UP_BCAST | I.IFF_NOARP))
        == {}
    )


def test_arp_needs_broadcast_and_ndp_needs_a_link_local():
    assert uses(
        rec("a", flags=I.IFF_UP), rec("b", link_local=None), rec("c", flags=I.IFF_UP, link_local=None)
    ) == {"a": (False, True), "b": (True, False)}


def test_links_without_an_ethernet_address_are_skipped():
    assert uses(rec("a", mac=b""), rec("b", mac=bytes(6)), rec("c", link_type=776)) == {}


def test_custom_exclude_list_replaces_the_default():
    exclude = I.compile_exclude([r"^eth1$", "wg"])
    assert uses(rec("eth0"), rec("eth1"), rec("wg0"), rec("veth0"), exclude=exclude) == {
        "eth0": (True, True),
        "veth0": (True, True),
    }
    assert uses(rec("veth0"), exclude=None) == {"veth0": (True, True)}
    assert I.compile_exclude([]) is None


@pytest.mark.parametrize(
    "patterns, message",
    [
        (["(unclosed"], r"announcedInterfacesToExclude\[0\]: '\(unclosed' is not a valid regular expression"),
        (["ok", 5], r"announcedInterfacesToExclude\[1\]: must be a string"),
    ],
)
def test_bad_exclude_patterns_name_the_entry(patterns, message):
    with pytest.raises(ValueError, match=message):
        I.compile_exclude(patterns)


def test_local_names_are_every_non_excluded_interface_whatever_its_state():
    """MetalLB's GetInterfaces: used for announceFailed, so a DOWN eth1 still 'exists'."""
    records = [rec("eth0"), rec("eth1", flags=0), rec("veth9"), rec("bond0", link_local=None, master=0)]
    assert I.local_names(records) == {"eth0", "eth1", "bond0"}


def test_netlink_adapter_lists_this_hosts_links():
    if not I.HAS_PYROUTE2:
        pytest.skip("pyroute2 is not installed")
    source = I.NetlinkInterfaces()
    try:
        records = source.records()
        by_name = {r.name: r for r in records}
        assert "lo" in by_name and by_name["lo"].flags & I.IFF_UP
        assert all(r.index > 0 and isinstance(r.mac, bytes) for r in records)
        assert all(r.link_local is None or r.link_local.startswith("fe") for r in records)
        assert source.drain() in (True, False)  # nonblocking
    finally:
        source.close()
