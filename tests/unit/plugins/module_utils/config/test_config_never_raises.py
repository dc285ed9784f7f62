# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A failure inside parsing is an invalid configuration naming the object, never an exception: the
controller and the speakers keep their last valid configuration and report it, their loops go on."""

from __future__ import annotations

import logging

from kubernetes import client as k8s_client

from ansible_collections.metal.lb.plugins.module_utils.engine.config import parse
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.controller import CONFIG_KEY, Controller

NS = "metallb-system"


def pool(name: str, addresses: list[str]) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": NS},
            "spec": {"addresses": addresses}}


HOSTILE_PEER = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "p", "namespace": NS},
                "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
                         "keepaliveTime": "9" * 400 + "s"}}


def test_an_unforeseen_exception_in_one_object_is_that_objects_error(monkeypatch):
    real = parse.pool_from_cr

    def flaky(obj, namespaces):
        if obj["metadata"]["name"] == "bad":
            raise OverflowError("cannot convert float infinity to integer")
        return real(obj, namespaces)

    monkeypatch.setattr(parse, "pool_from_cr", flaky)
    result = parse.parse_config([pool("bad", ["198.51.100.0/24"]), pool("good", ["203.0.113.0/24"])])
    assert [str(e) for e in result.errors] == [
        'IPAddressPool "bad": invalid object: OverflowError: cannot convert float infinity to integer']


def test_an_unforeseen_exception_anywhere_is_an_invalid_configuration(monkeypatch):
    def broken(_pools):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(parse, "_overlaps", broken)
    result = parse.parse_config([pool("good", ["203.0.113.0/24"])])
    assert result.config is None
    assert [str(e) for e in result.errors] == [
        'configuration "": cannot be read: RecursionError: maximum recursion depth exceeded']


class FakeStatus:
    def __init__(self) -> None:
        self.states: list[list[str]] = []

    def configuration_state(self, _name, _component, _node, errors) -> None:
        self.states.append(list(errors))

    def pool_counters(self, *args) -> None:
        pass

    def forget_pools(self, _names) -> None:
        pass


def test_controller_keeps_its_configuration_and_reports_the_hostile_peer(monkeypatch, caplog):
    controller = Controller(k8s_client.ApiClient(), namespace=NS)
    status = controller._status = FakeStatus()
    objects = [pool("good", ["203.0.113.0/24"])]
    monkeypatch.setattr(controller, "_config_objects", lambda: list(objects))
    controller._process([CONFIG_KEY])
    assert list(controller._config.pools) == ["good"]

    objects.append(HOSTILE_PEER)
    with caplog.at_level(logging.WARNING, logger="metal_lb.controller"):
        controller._process([CONFIG_KEY])
    # a peer is the speakers' business: the controller keeps allocating from its pools and reports the peer
    assert list(controller._config.pools) == ["good"]
    assert status.states[-1] == []
    assert 'BGPPeer "p": spec.keepaliveTime: time: invalid duration "%ss"' % ("9" * 400) in caplog.text
    assert "configuration state not written" not in caplog.text
    assert controller.metrics.registry.get_sample_value("metallb_k8s_client_config_stale_bool") == 0
