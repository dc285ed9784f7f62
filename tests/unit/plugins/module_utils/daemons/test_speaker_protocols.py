# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker's generic loop drives any protocol through the ``Protocol`` seam, and the status
file has one format for the speaker and ``metal.lb.announce``."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

pytest.importorskip("kubernetes")

from ansible_collections.metal.lb.plugins.module_utils.shells.daemons import status_file  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.speaker import Speaker  # noqa: E402

NS = "metallb-system"
VIP = "198.51.100.10"


@dataclass(frozen=True)
class Said:
    key: str
    ips: tuple
    reason: str | None

    @property
    def announce(self):
        return self.reason is None


class Recording:
    """A protocol that announces every Service with an IP and records what the loop asks."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list = []
        self.held: dict = {}

    def informers(self):
        return []

    def start(self):
        self.calls.append(("start",))

    def set_config(self, config):
        self.calls.append(("set_config", sorted(config.pools)))

    def set_node(self, node):
        self.calls.append(("set_node", (node or {}).get("metadata", {}).get("name")))

    def should_announce(self, snapshot):
        out = {}
        for svc in snapshot.services:
            key = "%s/%s" % (svc["metadata"]["namespace"], svc["metadata"]["name"])
            ips = tuple(i["ip"] for i in svc["status"]["loadBalancer"].get("ingress") or ())
            out[key] = Said(key, ips, None if ips else "noIPAllocated")
        return out

    def set_balancer(self, key, service, decision):
        self.calls.append(("set_balancer", key, decision.ips))
        self.held[key] = decision.ips

    def delete_balancer(self, key, reason):
        self.calls.append(("delete_balancer", key, reason))
        self.held.pop(key, None)

    def keys(self):
        return set(self.held)

    def announced(self):
        return dict(self.held)

    def sync(self, services):
        self.calls.append(("sync", sorted(services)))

    def burst(self):
        return sorted(ip for ips in self.held.values() for ip in ips)

    def status(self):
        return {"announced": {ip: {"services": [k]} for k, ips in self.held.items() for ip in ips},
                "recording": True}

    def idle(self):
        return True

    def stop(self):
        self.calls.append(("stop",))


def cr(kind, name, spec):
    return {"apiVersion": "metallb.io/v1beta1", "kind": kind, "metadata": {"name": name, "namespace": NS},
            "spec": spec}


def svc(name, ips=()):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{"ip": i} for i in ips]}}}


class Items:
    def __init__(self, objects):
        self.objects = objects

    def items(self):
        return list(self.objects)

    def get(self, key):
        return next((o for o in self.objects if "%s/%s" % (o["metadata"].get("namespace"), o["metadata"]["name"])
                     == key), None)

    def stop(self):
        pass


def speaker_with(protocol, services, tmp_path):
    spk = Speaker(object(), node="n1", protocols=[protocol], status_file=str(tmp_path / "speaker-n1.json"))
    spk._services = Items(services)
    spk._nodes = Items([{"metadata": {"name": "n1", "labels": {}}}])
    spk._slices = Items([])
    spk._config_informers = [Items([cr("IPAddressPool", "a", {"addresses": ["198.51.100.0/28"]})])]
    spk._informers = [spk._services, spk._nodes, spk._slices, *spk._config_informers]
    return spk


def test_a_second_protocol_is_driven_through_the_seam_alone(tmp_path):
    proto = Recording()
    spk = speaker_with(proto, [svc("web", [VIP]), svc("pending")], tmp_path)
    spk._process(["\x00config"])
    assert ("set_config", ["a"]) in proto.calls and ("set_node", "n1") in proto.calls
    assert ("set_balancer", "default/web", (VIP,)) in proto.calls
    assert ("delete_balancer", "default/pending", "noIPAllocated") in proto.calls
    assert proto.calls[-1] == ("sync", ["default/pending", "default/web"])
    written = status_file.read(spk.status_file)
    assert written["announced"] == {VIP: {"services": ["default/web"]}} and written["recording"] is True
    assert written["node"] == "n1" and written["version"] == status_file.VERSION
    assert spk.burst() == [VIP]
    # the Service goes away: the loop asks the protocol to delete what it still holds
    spk._services.objects = []
    spk._process(["default/web"])
    assert proto.calls[-2] == ("delete_balancer", "default/web", "serviceDeleted")
    assert proto.held == {}
    spk.stop(drain_timeout=0)
    assert ("stop",) in proto.calls and status_file.read(spk.status_file) is None


def test_status_file_rejects_what_is_not_one(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a metal-lb speaker status file"):
        status_file.read(str(path))
    assert status_file.path_for("/run/speaker-{node}.json", "n2") == "/run/speaker-n2.json"
    assert status_file.path_for("", "n2") == ""


def test_protocol_factories_get_the_loop_sink_and_the_snapshot_carries_secrets(tmp_path):
    built = {}

    class WithSecrets(Recording):
        name = "bgp-like"

        def should_announce(self, snapshot):
            self.calls.append(("secrets", sorted(snapshot.secrets)))
            return super().should_announce(snapshot)

    def factory(custom, **kw):
        built.update(kw)
        return WithSecrets()

    first = Recording()
    spk = Speaker(object(), node="n1", protocols=[first], protocol_factories=[factory],
                  status_file=str(tmp_path / "speaker-n1.json"))
    assert [p.name for p in spk.protocols] == ["recording", "bgp-like"]
    assert set(built) == {"node", "namespace", "metrics", "event", "resync"} and built["node"] == "n1"
    second = spk.protocols[1]
    spk._services = Items([svc("web", [VIP])])
    spk._nodes = Items([{"metadata": {"name": "n1", "labels": {}}}])
    spk._slices = Items([])
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "auth", "namespace": NS},
              "type": "kubernetes.io/basic-auth", "data": {"password": "cHc="}}
    spk._config_informers = [Items([cr("IPAddressPool", "a", {"addresses": ["198.51.100.0/28"]}), secret])]
    spk._informers = [spk._services, spk._nodes, spk._slices, *spk._config_informers]
    spk._process(["\x00config"])
    assert ("secrets", [NS + "/auth"]) in second.calls
    assert ("set_balancer", "default/web", (VIP,)) in first.calls and ("set_balancer", "default/web", (VIP,)) in \
        second.calls
