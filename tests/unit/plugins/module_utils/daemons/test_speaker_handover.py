"""Planned handover and rejoin of the speaker: LEAVE goes out while this node still answers;
a (re)started speaker joins membership only with synced caches and announces when its peers
count it live; its announced-IP gauge is built at scrape time."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.shells import cli_speaker
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons import speaker as speaker_mod
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.speaker import Announced, Speaker, view_settled
from ansible_collections.metal.lb.plugins.module_utils.shells.daemons.speaker_metrics import SpeakerMetrics
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2.announcer import Announcer
from ansible_collections.metal.lb.plugins.module_utils.adapters.membership.detector import DetectorConfig

VIP = "198.51.100.200"


class FakeMembership:
    """Records the order of what the speaker does to membership and what was announced then."""

    def __init__(self, log: list, announcer: Announcer, fail_start: Exception | None = None) -> None:
        self.log, self.announcer, self.fail_start = log, announcer, fail_start
        self.service = None
        self.listeners: list = []
        self.known = None

    def start(self) -> None:
        self.log.append(("start", dict(self.known or {})))
        if self.fail_start is not None:
            raise self.fail_start
        self.service = object()

    def add_listener(self, callback) -> None:
        if self.service is None:
            raise RuntimeError("membership is not running")
        self.listeners.append(callback)

    def set_known_members(self, known) -> None:
        self.known = dict(known)

    def stop(self, graceful: bool = True) -> None:
        self.log.append(("leave" if graceful else "stop", sorted(self.announcer.announced())))
        for callback in self.listeners:
            callback(frozenset())

    def live_members(self):
        return frozenset()

    def stats(self) -> dict:
        return {}

    def view(self) -> dict:
        return {}

    ready = True


class RecordingAnnouncer(Announcer):
    def __init__(self, log: list) -> None:
        super().__init__()
        self.log = log

    def set_leading(self, leading, owner="leader") -> None:
        self.log.append(("set_leading", sorted(leading)))
        super().set_leading(leading, owner)


class FakeResponder:
    def __init__(self, log: list) -> None:
        self.log = log
        self.on_interfaces = None

    def stop(self) -> None:
        self.log.append(("responder stopped",))


def make_speaker(log: list, fail_start: Exception | None = None) -> tuple[Speaker, FakeMembership]:
    announcer = RecordingAnnouncer(log)
    membership = FakeMembership(log, announcer, fail_start)
    spk = Speaker(object(), node="n1", membership=membership, announcer=announcer,
                  responder=FakeResponder(log), status_file="")
    return spk, membership


def test_sigterm_sends_leave_while_the_ip_is_still_answered_then_withdraws():
    log: list = []
    spk, _membership = make_speaker(log)
    layer2 = spk.layer2
    layer2._announced["shop/web"] = Announced((VIP,), ((VIP, ()),))
    layer2.announcer.set_leading(layer2.leading())
    log.clear()
    spk.stop(drain_timeout=0.05)
    assert log[0] == ("leave", [VIP])  # peers hear LEAVE while this node still answers
    assert ("set_leading", []) in log  # then it stops answering...
    assert log.index(("set_leading", [])) < log.index(("responder stopped",))  # ...before its sockets close
    assert layer2.announcer.announced() == {}


def test_membership_is_joined_after_the_caches_with_every_known_peer(monkeypatch):
    log: list = []
    spk, membership = make_speaker(log)
    nodes = [{"metadata": {"name": n, "annotations": {speaker_mod.MEMBERSHIP_ANNOTATION: "127.0.0.1:%d" % p}}}
             for n, p in (("n1", 7001), ("n2", 7002), ("n3", 7003))]
    monkeypatch.setattr(spk._nodes, "items", lambda: nodes)
    spk._publish_known_members()
    assert spk._join_membership() is True
    assert log == [("start", {"n1": ("127.0.0.1", 7001), "n2": ("127.0.0.1", 7002), "n3": ("127.0.0.1", 7003)})]
    assert membership.listeners == [spk._on_members]
    assert spk._join_membership() is True and len(log) == 1  # already running: not started twice


def test_a_membership_that_cannot_start_is_reported_not_raised():
    spk, membership = make_speaker([], fail_start=OSError("address in use"))
    assert spk._join_membership() is False
    assert isinstance(spk.join_error, OSError) and membership.listeners == []


@pytest.mark.parametrize("view, settled", [
    ({"n1": {"live": True, "state": "up"}, "n2": {"live": True, "state": "up"},
      "n3": {"live": False, "state": "down"}, "n4": {"live": False, "state": "left"}}, True),
    ({"n1": {"live": False, "state": "up"}, "n2": {"live": True, "state": "up"}}, False),  # own stable period
    ({"n1": {"live": True, "state": "up"}, "n2": {"live": False, "state": "up"}}, False),  # peer provisional
    ({"n1": {"live": True, "state": "up"}, "n2": {"live": False, "state": "unknown"}}, False),  # never heard
    ({"n2": {"live": True, "state": "up"}}, False),  # no entry for itself
    ({}, False),
])
def test_view_settled(view, settled):
    assert view_settled(view, "n1") is settled


@pytest.mark.parametrize("config", [DetectorConfig(), DetectorConfig(heartbeat_interval=0.05, failure_timeout=0.2,
                                                                     stable_period=0.5),
                                    DetectorConfig(stable_period=0.0)])
def test_a_joining_speaker_waits_its_peers_stable_period_and_not_much_longer(config):
    grace, timeout = cli_speaker.membership_timing(config)
    assert config.stable_period < grace < config.stable_period + config.heartbeat_interval
    assert timeout > grace + config.failure_timeout


def test_the_membership_bind_is_checked_at_startup():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        with pytest.raises(Exception, match="--membership-bind 127.0.0.1:%d" % port):
            cli_speaker._check_bind(("127.0.0.1", port))
    cli_speaker._check_bind(("127.0.0.1", 0))


def test_announced_gauge_is_built_at_scrape_time():
    from prometheus_client import generate_latest

    metrics = SpeakerMetrics("n1")
    metrics.set_announced("shop/web", VIP, True)
    metrics.set_announced("shop/db", "2001:db8::1", True)
    metrics.set_announced("shop/db", "2001:db8::1", False)
    metrics.set_announced("shop/gone", "198.51.100.9", False)  # never announced: no error
    text = generate_latest(metrics.registry).decode()
    assert ('metallb_speaker_announced{ip="198.51.100.200",node="n1",protocol="layer2",service="shop/web"} 1.0'
            in text)
    assert "2001:db8::1" not in text and "shop/gone" not in text
    assert "# TYPE metallb_speaker_announced gauge" in text
