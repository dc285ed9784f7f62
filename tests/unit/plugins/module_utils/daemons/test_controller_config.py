# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's decision path (reload the configuration, run the pass, hand the writes over)
with its API calls replaced: objects it does not allocate from never stop it."""

from __future__ import annotations

import pytest

kubernetes = pytest.importorskip("kubernetes")

from ansible_collections.metal.lb.plugins.module_utils.engine.config.sources import CONTROLLER, sources_for  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons import controller as daemon  # noqa: E402

NS = "metallb-system"


def cr(kind: str, name: str, spec: dict, version: str = "v1beta1") -> dict:
    return {"apiVersion": "metallb.io/%s" % version, "kind": kind,
            "metadata": {"name": name, "namespace": NS, "resourceVersion": "1"}, "spec": spec}


def service(name: str, ips=()) -> dict:
    annotations = {"metallb.io/ip-allocated-from-pool": "a"} if ips else {}
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": "1", "annotations": annotations,
                         "creationTimestamp": "2026-01-01T00:00:0%dZ" % len(name)},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.%d" % (len(name) + 1),
                     "clusterIPs": ["10.96.0.%d" % (len(name) + 1)], "ports": [{"port": 80, "protocol": "TCP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


PEER = cr("BGPPeer", "router", {"myASN": 64500, "peerASN": 64501, "peerAddress": "203.0.113.1",
                                "passwordSecret": {"name": "pw", "namespace": NS}}, "v1beta2")
BFD = cr("BFDProfile", "fast", {"receiveInterval": 300})
POOL = cr("IPAddressPool", "a", {"addresses": ["198.51.100.10-198.51.100.11"]})


class Cache:
    def __init__(self, objects) -> None:
        self.objects = list(objects)

    def items(self):
        return list(self.objects)

    def get(self, key):
        return next((o for o in self.objects if "%s/%s" % (o["metadata"]["namespace"], o["metadata"]["name"]) == key),
                    None)


class Writes:
    def __init__(self) -> None:
        self.submitted: dict[str, list[str]] = {}

    def submit(self, key, _svc, ips, _pool) -> None:
        self.submitted[key] = list(ips)


class States:
    def __init__(self) -> None:
        self.states: list[list[str]] = []

    def configuration_state(self, _name, _component, _node, errors) -> None:
        self.states.append(list(errors))

    def pool_counters(self, *_args) -> None:
        pass

    def forget_pools(self, _names) -> None:
        pass


class Events:
    def record(self, *_args) -> None:
        pass


def controller(config_objects, services, **options):
    ctl = daemon.Controller(kubernetes.client.ApiClient(), namespace=NS, **options)
    ctl._services = Cache(services)
    ctl._informers = [ctl._services, Cache(config_objects)]
    ctl._writer, ctl._status, ctl._events = Writes(), States(), Events()
    ctl._on_leading()
    return ctl


def test_controller_never_reads_secrets():
    assert "Secret" not in {s.kind for s in sources_for(CONTROLLER)}


def test_allocates_with_a_password_secret_peer_and_a_bfd_profile():
    ctl = controller([POOL, PEER, BFD], [service("web")])
    ctl._process([daemon.CONFIG_KEY])
    assert ctl._writer.submitted == {"default/web": ["198.51.100.10"]}
    assert ctl._status.states == [[]]  # the controller's ConfigurationState: Valid


def test_after_a_restart_the_holder_keeps_its_ip_and_a_newcomer_gets_one():
    ctl = controller([PEER, BFD, POOL], [service("web", ["198.51.100.10"]), service("db")])
    ctl._process([daemon.CONFIG_KEY])
    assert ctl._writer.submitted == {"default/db": ["198.51.100.11"]}


def test_invalid_pools_still_stop_it():
    overlapping = cr("IPAddressPool", "b", {"addresses": ["198.51.100.11/32"]})
    ctl = controller([POOL, overlapping, PEER], [service("web")])
    ctl._process([daemon.CONFIG_KEY])
    assert ctl._writer.submitted == {}
    assert len(ctl._status.states) == 1 and "overlaps" in ctl._status.states[0][0]


def test_bgp_objects_are_judged_as_the_speaker_does_frr_mode_unless_told_native():
    """The speaker speaks BGP as MetalLB's FRR mode: a BFDProfile is fine; native mode reports it."""
    frr = controller([POOL, PEER, BFD], [service("web")])
    frr._process([daemon.CONFIG_KEY])
    assert frr._reported == []
    native = controller([POOL, PEER, BFD], [service("web")], bgp_type="native")
    native._process([daemon.CONFIG_KEY])
    assert any('BFDProfile "fast"' in line for line in native._reported), native._reported
    assert native._writer.submitted == {"default/web": ["198.51.100.10"]}  # reported, never blocking


def test_the_controller_flag_defaults_to_frr_and_reads_metallb_bgp_type(monkeypatch):
    from ansible_collections.metal.lb.plugins.module_utils.shells import cli

    monkeypatch.delenv("METALLB_BGP_TYPE", raising=False)
    assert cli.build_parser().parse_args(["controller"]).bgp_type == "frr"
    monkeypatch.setenv("METALLB_BGP_TYPE", "native")
    assert cli.build_parser().parse_args(["controller"]).bgp_type == "native"
    assert cli.build_parser().parse_args(["controller", "--bgp-type", "frr-k8s"]).bgp_type == "frr-k8s"
