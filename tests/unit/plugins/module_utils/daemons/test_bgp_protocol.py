# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The speaker's BGP protocol with a fake FRR: decisions become vtysh batches (one per pass, only
what changed), FRR errors are reported once and never cost what runs, the password appears nowhere,
and a planned stop sends GRACEFUL_SHUTDOWN before the withdrawal."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("prometheus_client")

from bgp_objects import bfd, bgpad, config_of, endpoints, node, peer, pool, secret, service  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402

from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.session_state import (  # noqa: E402
    SessionState, sessions_from_json)
from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.vtysh import (  # noqa: E402
    CommandError, parse_errors)
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.frr_config import (  # noqa: E402
    render_model, render_text)
from ansible_collections.metal.lb.plugins.module_utils.engine.bgp.sessions import secrets_by_name  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.bgp_protocol import BGP  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.protocol import Snapshot  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.speaker_metrics import (  # noqa: E402
    SpeakerMetrics)

PASSWORD = "pl4nted-S3cret"


class FakeFrr:
    name = "metal-lb"

    def __init__(self, adopted: bool = False) -> None:
        self.adopted = adopted
        self.calls: list[str] = []
        self.died = False

    def start(self) -> bool:
        self.calls.append("start")
        return not self.adopted

    def restart_if_dead(self) -> bool:
        died, self.died = self.died, False
        if died:
            self.calls.append("restart")
        return died

    def stop(self, remove: bool = False) -> None:
        self.calls.append("stop")


class FakeVtysh:
    """Records batches; ``refuse(command)`` True: FRR refuses that command (the rest is applied)."""

    def __init__(self, refuse=lambda command: False, running: str = "") -> None:
        self.batches: list[list[str]] = []
        self.refuse = refuse
        self.running = running
        self.sessions: dict = {}
        self.executed: list[list[str]] = []

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return True

    def apply(self, commands):
        self.batches.append(list(commands))
        return [CommandError(i, c, "% Unknown command") for i, c in enumerate(commands) if self.refuse(c)]

    def running_config(self, timeout: float = 20.0) -> str:
        return self.running

    def execute(self, commands, timeout: float = 10.0):
        self.executed.append(list(commands))
        return []

    def show_json(self, command: str, timeout: float = 10.0):
        return self.sessions


class Harness:
    def __init__(self, objects, *, refuse=lambda c: False, adopted=False, running="") -> None:
        self.events: list[tuple] = []
        self.frr = FakeFrr(adopted)
        self.vtysh = FakeVtysh(refuse, running)
        self.metrics = SpeakerMetrics("node1")
        self.proto = BGP(None, node="node1", namespace="metallb-system", metrics=self.metrics,
                         event=lambda obj, *rest: self.events.append((obj["kind"], obj["metadata"]["name"], *rest)),
                         resync=lambda: None, frr=self.frr, vtysh=self.vtysh, shutdown_wait=0, poll_interval=3600)
        self.objects = list(objects)
        self.secrets_readable = True

    def run_pass(self):
        """What the speaker loop does with one snapshot."""
        config = config_of(self.objects)
        nodes = {o["metadata"]["name"]: o for o in self.objects if o["kind"] == "Node"}
        services = [o for o in self.objects if o["kind"] == "Service"]
        slices = [o for o in self.objects if o["kind"] == "EndpointSlice"]
        snap = Snapshot(services, config, nodes, slices, None, "node1",
                        secrets=secrets_by_name(self.objects, "metallb-system") if self.secrets_readable else {})
        self.proto.set_config(config)
        decisions = self.proto.should_announce(snap)
        by_key = {"%s/%s" % (s["metadata"]["namespace"], s["metadata"]["name"]): s for s in services}
        for key in sorted(set(decisions) | self.proto.keys()):
            decision = decisions.get(key)
            if decision is not None and decision.announce:
                self.proto.set_balancer(key, by_key.get(key), decision)
            else:
                self.proto.delete_balancer(key, "serviceDeleted" if decision is None else decision.reason)
        self.proto.sync(by_key)
        return decisions

    def replace(self, kind, name, obj=None):
        self.objects = [o for o in self.objects if not (o["kind"] == kind and o["metadata"]["name"] == name)]
        if obj is not None:
            self.objects.append(obj)


def base(*extra):
    return [pool(), bgpad(), peer(), node("node1"), service(), endpoints(), *extra]


def test_a_service_becomes_one_batch_and_nothing_more_until_it_changes():
    h = Harness(base())
    decisions = h.run_pass()
    assert decisions["default/web"].announce and decisions["default/web"].peers == ("router",)
    assert h.frr.calls == ["start"] and len(h.vtysh.batches) == 1
    first = h.vtysh.batches[0]
    assert " neighbor 198.51.100.254 remote-as 64501" in first
    assert "  network 198.51.100.10/32 route-map class-1" in first
    h.run_pass()
    assert len(h.vtysh.batches) == 1  # nothing changed: FRR is not asked
    h.replace("Service", "web")
    h.run_pass()
    removal = h.vtysh.batches[-1]
    assert "  no network 198.51.100.10/32" in removal
    assert not any("no neighbor" in c for c in removal)  # the session is left alone
    assert h.proto.announced() == {}


def test_no_session_on_the_node_means_no_frr():
    h = Harness([pool(), bgpad(), node("node1"), service(), endpoints()])
    h.run_pass()
    assert h.frr.calls == [] and h.vtysh.batches == []


def test_a_burst_of_services_is_one_batch():
    services = [service("svc%d" % i, ips=("198.51.100.%d" % (10 + i),)) for i in range(20)]
    slices = [endpoints("svc%d" % i) for i in range(20)]
    h = Harness([pool(), bgpad(), peer(), node("node1"), *services, *slices])
    h.run_pass()
    assert len(h.vtysh.batches) == 1
    assert sum(c.startswith("  network ") for c in h.vtysh.batches[0]) == 20


def test_a_changed_peer_touches_only_its_neighbor():
    h = Harness(base(peer("other", peerAddress="198.51.100.253")))
    h.run_pass()
    h.replace("BGPPeer", "router", peer(holdTime="30s", keepaliveTime="10s"))
    h.run_pass()
    change = h.vtysh.batches[-1]
    assert " neighbor 198.51.100.254 timers 10 30" in change
    assert not any("198.51.100.253" in c for c in change) and not any("no neighbor" in c for c in change)


def test_local_traffic_policy_announces_only_with_local_endpoints():
    h = Harness([pool(), bgpad(), peer(), node("node1"), node("node2"), service(etp="Local"),
                 endpoints(nodes=("node2",))])
    decisions = h.run_pass()
    assert decisions["default/web"].reason == "noLocalEndpoints"
    assert not any(c.startswith("  network ") for b in h.vtysh.batches for c in b)


def test_a_refused_command_is_reported_once_and_the_rest_still_flows():
    def refuse(command):
        return command.strip().startswith("receive-interval")

    h = Harness(base(bfd("fast", receiveInterval=100)), refuse=refuse)
    h.replace("BGPPeer", "router", peer(bfdProfile="fast"))
    h.run_pass()
    assert [e[:3] for e in h.events if e[0] == "BFDProfile"] == [("BFDProfile", "fast", "Warning")]
    assert "spec.receiveInterval" in h.events[-1][-1]
    errors = h.proto.status()["bgp"]["errors"]
    assert len(errors) == 1 and "receive-interval 100" in errors[0]
    batches = len(h.vtysh.batches)
    h.run_pass()
    assert len(h.vtysh.batches) == batches  # the same refused target is not hammered
    assert len([e for e in h.events if e[0] == "BFDProfile"]) == 1
    h.objects.append(service("second", ips=("198.51.100.11",)))
    h.objects.append(endpoints("second"))
    h.run_pass()
    assert "  network 198.51.100.11/32 route-map class-1" in h.vtysh.batches[-1]


def test_the_password_appears_in_no_event_log_status_or_repr(caplog):
    caplog.set_level(logging.DEBUG)
    h = Harness([pool(), bgpad(), node("node1"), service(), endpoints(), secret("auth", PASSWORD),
                 peer(passwordSecret={"name": "auth"})], refuse=lambda c: " password " in c)
    h.run_pass()
    assert any(" password %s" % PASSWORD in c for c in h.vtysh.batches[0])  # FRR itself gets it
    refused = [e for e in h.events if e[0] == "BGPPeer"]
    assert refused and "spec.passwordSecret" in refused[0][-1]
    outputs = [repr(h.events), caplog.text, repr(h.proto.status()), repr(h.proto._desired),
               repr(h.proto._applied), generate_latest(h.metrics.registry).decode()]
    assert all(PASSWORD not in text for text in outputs)


def test_an_unreadable_password_secret_keeps_the_running_session():
    h = Harness([pool(), bgpad(), node("node1"), service(), endpoints(), secret("auth", PASSWORD),
                 peer(passwordSecret={"name": "auth"})])
    h.run_pass()
    h.secrets_readable = False  # the configuration stays valid (the speaker keeps it), the Secret is gone
    h.run_pass()
    assert not any("no neighbor" in c or "no network" in c for b in h.vtysh.batches[1:] for c in b)
    assert any(e[0] == "BGPPeer" and e[3] == "bgpPeerInvalid" for e in h.events)
    assert [s["name"] for s in h.proto.status()["bgp"]["sessions"]] == ["router"]


def test_planned_stop_sends_graceful_shutdown_then_withdraws_then_stops_frr():
    h = Harness(base())
    h.run_pass()
    h.proto.stop()
    shutdown, withdraw = h.vtysh.batches[-2:]
    assert any("65535:0" in c for c in shutdown) and not any("no network" in c for c in shutdown)
    # the routes already sent get the community too: their network line is re-stated with the new
    # class (bgpd re-sends them), the session is neither reset nor cleared
    assert "  network 198.51.100.10/32 route-map class-2" in shutdown
    assert not any("neighbor" in c for c in shutdown) and h.vtysh.executed == []
    assert "  no network 198.51.100.10/32" in withdraw and not any("no neighbor" in c for c in withdraw)
    assert h.frr.calls == ["start", "stop"]
    assert h.proto._statuses.desired() == {"default/web": None}  # its ServiceBGPStatus is deleted


def test_an_adopted_frr_holding_the_same_state_gets_nothing():
    first = Harness(base())
    first.run_pass()
    running = render_text(first.proto._applied)
    h = Harness(base(), adopted=True, running=running)
    h.run_pass()
    assert h.vtysh.batches == []


def test_status_and_metrics_from_frrs_sessions():
    h = Harness(base())
    h.run_pass()
    h.vtysh.sessions = {"default": {"vrfId": 0, "198.51.100.254": {
        "bgpState": "Established", "bgpTimerUpEstablishedEpoch": 1700000000,
        "messageStats": {"updatesSent": 4}, "addressFamilyInfo": {"ipv4Unicast": {"sentPrefixCounter": 1}},
        "peerBfdInfo": {"status": "Up"}}}}
    h.proto.poll()
    (session,) = h.proto.status()["bgp"]["sessions"]
    assert session["state"] == "Established" and session["prefixes_sent"] == 1 and session["bfd"] == "up"
    text = generate_latest(h.metrics.registry).decode()
    assert 'metallb_bgp_session_up{peer="198.51.100.254"} 1.0' in text
    assert 'metallb_bgp_updates_total{peer="198.51.100.254"} 4.0' in text
    assert 'metallb_bgp_announced_prefixes_total{peer="198.51.100.254"} 1.0' in text
    assert 'metallb_bgp_pending_prefixes_total{peer="198.51.100.254"} 0.0' in text
    assert 'metallb_bfd_session_up{peer="198.51.100.254"} 1.0' in text
    assert 'protocol="bgp"' in text
    h.vtysh.sessions["default"]["198.51.100.254"]["bgpState"] = "Active"
    h.proto.poll()
    text = generate_latest(h.metrics.registry).decode()
    assert 'metallb_bgp_session_up{peer="198.51.100.254"} 0.0' in text
    assert 'metallb_bgp_pending_prefixes_total{peer="198.51.100.254"} 1.0' in text


def test_session_up_and_down_are_events_on_the_bgppeer_once_per_change():
    h = Harness(base())
    h.run_pass()
    h.events.clear()
    h.vtysh.sessions = {"default": {"198.51.100.254": {"bgpState": "Established"}}}
    h.proto.poll()
    h.proto.poll()  # nothing changed: no second event
    assert [e[:4] for e in h.events] == [("BGPPeer", "router", "Normal", "sessionUp")]
    assert h.events[0][4] == 'BGP session of node "node1" with 198.51.100.254 established'
    h.vtysh.sessions = {"default": {"198.51.100.254": {"bgpState": "Connect"}}}
    h.proto.poll()
    assert [e[:4] for e in h.events[1:]] == [("BGPPeer", "router", "Warning", "sessionDown")]


def test_a_change_in_the_prefixes_sent_alone_rewrites_the_status_without_an_event():
    h = Harness(base())
    resyncs = []
    h.proto._resync = lambda: resyncs.append(1)
    h.run_pass()
    established = {"bgpState": "Established", "addressFamilyInfo": {"ipv4Unicast": {"sentPrefixCounter": 0}}}
    h.vtysh.sessions = {"default": {"198.51.100.254": established}}
    h.proto.poll()
    h.events.clear()
    resyncs.clear()
    h.proto.poll()  # nothing changed
    assert resyncs == []
    established["addressFamilyInfo"]["ipv4Unicast"]["sentPrefixCounter"] = 1  # FRR sent the prefix
    h.proto.poll()
    assert resyncs == [1] and h.events == []
    assert h.proto.status()["bgp"]["sessions"][0]["prefixes_sent"] == 1


def test_vtysh_errors_name_their_command_and_hide_passwords():
    lines = ["router bgp 64500", " neighbor 198.51.100.254 password %s" % PASSWORD, " neighbor x bogus"]
    out = ("line 2: %% Unknown command[4]:  neighbor 198.51.100.254 password %s\n"
           "line 3: %% Unknown command[4]:  neighbor x bogus\n" % PASSWORD)
    errors = parse_errors(lines, 2, out)
    assert [e.index for e in errors] == [1, 2]
    assert errors[1].command == " neighbor x bogus" and errors[1].message == "% Unknown command"
    assert PASSWORD not in repr(errors)
    assert parse_errors(lines, 1, "") == [CommandError(-1, "", "vtysh exited with status 1")]


def test_session_state_reads_frr_json_and_skips_the_rest():
    data = {"default": {"vrfId": 0, "vrfName": "default", "198.51.100.254": {"bgpState": "Active"}},
            "red": {"2001:db8::1": {"bgpState": "Established", "bgpTimerUpEstablishedEpoch": 5}}}
    assert sessions_from_json(data) == {
        ("", "198.51.100.254"): SessionState("", "198.51.100.254", "Active"),
        ("red", "2001:db8::1"): SessionState("red", "2001:db8::1", "Established", 5)}
    assert sessions_from_json(["not", "a", "dict"]) == {}


def test_render_model_of_the_applied_state_is_what_was_sent():
    h = Harness(base())
    h.run_pass()
    assert h.proto._applied == render_model(h.proto._applied_state)


def test_a_changed_community_re_states_the_prefix_and_touches_no_session():
    h = Harness(base(peer("other", peerAddress="198.51.100.253")))
    h.run_pass()
    h.replace("BGPAdvertisement", "bgp", bgpad(communities=["64500:9"], peers=["other"]))
    h.run_pass()
    batch = h.vtysh.batches[-1]
    # the prefix moves to a class only "other" receives, with the community: bgpd re-sends it to
    # "other" and withdraws it from the router; no session is cleared or reset
    assert "  network 198.51.100.10/32 route-map class-2" in batch
    assert " set community 64500:9 additive" in batch and "route-map 198.51.100.254-out permit 2" not in batch
    assert not any(c.startswith(" neighbor") or c.startswith(" no neighbor") for c in batch)
    assert h.vtysh.executed == []


def test_a_dead_frr_daemon_restarts_the_instance_and_everything_is_applied_again():
    h = Harness(base())
    h.run_pass()
    first = h.vtysh.batches[0]
    h.frr.died = True
    h.proto.poll()
    assert h.frr.calls == ["start", "restart"]
    assert h.vtysh.batches[-1] == first  # the whole configuration, as on a fresh start
    h.run_pass()
    assert len(h.vtysh.batches) == 2


def test_vtysh_sends_bgpd_blocks_to_bgpd_alone_in_the_batch_order(tmp_path):
    import subprocess

    from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.vtysh import Vtysh, runs

    batch = ["configure terminal", "ip nht resolve-via-default", "bfd", " profile fast", "  receive-interval 100",
             " exit", "exit", "ip prefix-list a permit 198.51.100.10/32", "route-map a-out permit 1",
             " match ip address prefix-list a", "exit", "router bgp 64500", " neighbor x bogus", "exit",
             "bfd", " no profile old", "exit", "end"]
    assert runs(batch) == [("", [1, 2, 3, 4, 5, 6]), ("bgpd", [7, 8, 9, 10, 11, 12, 13]), ("", [14, 15, 16])]
    calls = []

    def runner(argv, **_kw):
        calls.append((argv[3:-1], open(argv[-1], encoding="utf-8").read()))
        out = "line 6: % Unknown command[4]:  neighbor x bogus\n" if "-d" in argv else ""
        return subprocess.CompletedProcess(argv, 2 if out else 0, "", out)

    errors = Vtysh("metal-lb", runner=runner, tmp_dir=str(tmp_path)).apply(batch)
    assert [c[0] for c in calls] == [["-f"], ["-d", "bgpd", "-f"], ["-f"]]
    assert calls[1][1].splitlines()[0] == "ip prefix-list a permit 198.51.100.10/32"
    assert errors == [CommandError(12, " neighbor x bogus", "% Unknown command")]
    assert list(tmp_path.iterdir()) == []  # the files (they may hold passwords) are gone
