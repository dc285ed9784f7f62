# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Beyond MetalLB: pools must not contain node IPs, the service CIDR or a gateway (issue 2, item 2)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

NS = "metallb-system"


def pool(name: str, *addresses: str) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": NS},
            "spec": {"addresses": list(addresses)}}


def node(name: str, *addresses: tuple[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": t, "address": a} for t, a in addresses]}}


NODES = [node("node1", ("InternalIP", "198.51.100.5"), ("Hostname", "node1"), ("InternalIP", "2001:db8::5")),
         node("node2", ("ExternalIP", "203.0.113.9"))]


def errors(*objects: dict, **options):
    return [(e.name, e.field, e.message) for e in parse_config([*NODES, *objects], **options).errors]


@pytest.mark.parametrize("entry, other", [
    ("198.51.100.0/24", "node node1 InternalIP 198.51.100.5"),
    ("198.51.100.1-198.51.100.9", "node node1 InternalIP 198.51.100.5"),
    ("2001:db8::/120", "node node1 InternalIP 2001:db8::5"),
    ("203.0.113.9/32", "node node2 ExternalIP 203.0.113.9"),
])
def test_pool_containing_a_node_ip_names_both_sides(entry, other):
    ((name, field, message),) = errors(pool("p", entry))
    assert (name, field) == ("p", "spec.addresses[0]")
    assert message.startswith('addresses "%s" overlap %s' % (entry, other))
    assert "allow_node_ip_pools" in message


def test_node_ip_alone_needs_the_opt_in():
    for entry in ("198.51.100.5/32", "198.51.100.5-198.51.100.5", "2001:db8::5/128"):
        assert len(errors(pool("p", entry))) == 1
        assert errors(pool("p", entry), allow_node_ip_pools=True) == []


def test_opt_in_does_not_allow_a_wider_entry_around_a_node_ip():
    ((_unused, _unused, message),) = errors(pool("p", "198.51.100.4/31"), allow_node_ip_pools=True)
    assert "node node1 InternalIP 198.51.100.5" in message


def test_hostname_addresses_are_not_checked_and_disjoint_pools_pass():
    assert errors(pool("p", "198.51.100.10-198.51.100.20", "203.0.113.10/31")) == []


def test_service_cidr_overlap():
    ((name, _unused, message),) = errors(pool("p", "203.0.113.128/25"), service_cidrs=["203.0.113.0/24"])
    assert name == "p"
    assert message == 'addresses "203.0.113.128/25" overlap service CIDR 203.0.113.0/24'


def test_gateway_inside_a_pool():
    ((_unused, _unused, message),) = errors(pool("p", "198.51.100.128/25"), gateways=["198.51.100.254"])
    assert message == 'addresses "198.51.100.128/25" overlap gateway 198.51.100.254'
    assert errors(pool("p", "198.51.100.128/25"), gateways=["198.51.100.254"], allow_node_ip_pools=True)


def test_every_clash_is_reported():
    got = errors(pool("a", "198.51.100.0/24"), pool("b", "203.0.113.0/24"), service_cidrs=["198.51.100.0/28"],
                 gateways=["203.0.113.1"])
    assert [(n, m.split(" overlap ")[1].split(" (")[0]) for n, _unused, m in got] == [
        ("a", "node node1 InternalIP 198.51.100.5"), ("a", "service CIDR 198.51.100.0/28"),
        ("b", "node node2 ExternalIP 203.0.113.9"), ("b", "gateway 203.0.113.1")]


def test_invalid_service_cidr_option_is_an_error_not_a_traceback():
    result = parse_config([pool("p", "198.51.100.0/24")], service_cidrs=["not-a-cidr"])
    assert result.config is None
    assert "not-a-cidr" in str(result.errors[0])
