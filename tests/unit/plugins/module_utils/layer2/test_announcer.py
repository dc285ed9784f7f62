# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gratuitous schedule (MetalLB's spamLoop) with a fake clock, and the announced set."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import announcer as A

VIP = "198.51.100.200"
VIP6 = "2001:db8:0:1::200"


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Sender:
    """Records rounds; sends 2 frames per allowed interface like ARP would."""

    def __init__(self, clock: Clock, interfaces=("eth0", "eth1")) -> None:
        self.clock = clock
        self.interfaces = interfaces
        self.rounds: list[tuple[float, str, tuple[str, ...]]] = []

    def send_gratuitous(self, state: A.IPState) -> int:
        on = tuple(i for i in self.interfaces if state.allows(i))
        self.rounds.append((self.clock(), state.text, on))
        return 2 * len(on)

    def times(self, ip: str = VIP) -> list[float]:
        return [round(t - 1000.0, 6) for t, text, _ifaces in self.rounds if text == ip]


def run(announcer: A.Announcer, sender: Sender, clock: Clock, until: float) -> None:
    """Drive tick() like the responder loop does: wake at each deadline, up to ``until``
    seconds after the start, and leave the clock there."""
    end = 1000.0 + until
    for _step in range(10_000):
        nxt = announcer.tick(sender)
        if nxt is None or nxt > end:
            break
        clock.t = max(nxt, clock.t)
    clock.t = max(end, clock.t)


def make(refresh=None):
    clock = Clock()
    ann = A.Announcer(clock=clock, refresh_interval=refresh)
    return clock, ann, Sender(clock)


# ----------------------------------------------------------------- schedule


def test_fresh_announcement_immediate_then_every_1_1s_for_5s():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 20)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4]
    assert ann.next_deadline() is None


def test_reannounce_extends_deadline_without_restarting():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 3.0)
    ann.announce("ns/a", VIP)  # at t=3.0: deadline becomes 8.0, phase unchanged
    run(ann, sender, clock, 20)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4, 5.5, 6.6, 7.7]


def test_reannounce_after_burst_starts_a_new_immediate_burst():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 7.0)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 30)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4, 7.0, 8.1, 9.2, 10.3, 11.4]


def test_reannounce_in_tail_before_entry_expires_only_extends():
    """MetalLB keeps the entry until the first tick after its deadline (5.5 here): a call at
    5.2 extends it, the next round comes at 5.5, not at once."""
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 5.2)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 30)
    assert sender.times()[5:] == [5.5, 6.6, 7.7, 8.8, 9.9]


def test_each_ip_has_its_own_burst():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 0.5)
    ann.announce("ns/b", VIP6)
    run(ann, sender, clock, 20)
    assert sender.times(VIP) == [0.0, 1.1, 2.2, 3.3, 4.4]
    assert sender.times(VIP6) == [0.5, 1.6, 2.7, 3.8, 4.9]


def test_withdrawn_ip_is_skipped_and_a_later_announce_is_immediate():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 1.5)
    ann.withdraw("ns/a", VIP)
    run(ann, sender, clock, 2.5)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 30)
    assert sender.times() == [0.0, 1.1, 2.5, 3.6, 4.7, 5.8, 6.9]


def test_late_loop_sends_one_round_not_a_catch_up_burst():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    ann.tick(sender)
    clock.t += 3.0  # the loop was suspended for 3 s
    ann.tick(sender)
    ann.tick(sender)
    assert sender.times() == [0.0, 3.0]
    assert ann.next_deadline() == pytest.approx(clock.t + 1.1)


def test_refresh_keeps_sending_after_the_burst():
    clock, ann, sender = make(refresh=30.0)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 100)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4, 34.4, 64.4, 94.4]
    ann.withdraw("ns/a")
    run(ann, sender, clock, 200)
    assert len(sender.times()) == 8 and ann.next_deadline() is None


def test_refreshing_ip_announced_again_gets_a_fresh_burst():
    clock, ann, sender = make(refresh=30.0)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 10)
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 20)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4, 10.0, 11.1, 12.2, 13.3, 14.4]


@pytest.mark.parametrize("bad", [0, -1.0])
def test_refresh_interval_must_be_positive(bad):
    with pytest.raises(ValueError, match="refresh interval must be > 0"):
        A.Announcer(refresh_interval=bad)


@settings(max_examples=60, deadline=None)
@given(calls=st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=8))
def test_schedule_properties(calls):
    """Rounds are >= 1.1 s apart, none later than 5 s after the call that preceded it, and
    every call is followed by a round within 1.1 s."""
    calls = sorted(calls)
    schedule = A.GratuitousSchedule()
    rounds, pending, last_call = [], list(calls), None
    for _step in range(1000):  # event-driven: the next call or the next deadline, whichever is first
        nxt = schedule.next_deadline()
        if pending and (nxt is None or pending[0] <= nxt):
            last_call = pending.pop(0)
            schedule.start("ip", last_call)
            continue
        if nxt is None:
            break
        if schedule.due(nxt):
            rounds.append((nxt, last_call))
    times = [r[0] for r in rounds]
    assert all(b - a >= 1.1 - 1e-6 for a, b in zip(times, times[1:]))
    assert all(at <= call + 5.0 + 1e-6 for at, call in rounds)
    for call in calls:
        assert any(call - 1e-6 <= at <= call + 1.1 + 1e-6 for at in times)


# ----------------------------------------------------------------- the announced set


def test_shared_ip_is_refcounted_per_owner():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    ann.announce("ns/b", VIP)
    assert ann.owners(VIP) == ("ns/a", "ns/b")
    ann.withdraw("ns/a")
    assert ann.lookup(bytes([198, 51, 100, 200])) is not None
    assert ann.announced() == {VIP: ()}
    ann.withdraw("ns/b", VIP)
    assert ann.lookup(bytes([198, 51, 100, 200])) is None
    assert ann.announced() == {}


def test_withdraw_all_ips_of_an_owner_and_unknown_owner_is_a_no_op():
    clock, ann, sender = make()
    seen = []
    ann.add_listener(lambda: seen.append(ann.version))
    ann.announce("ns/a", VIP)
    ann.announce("ns/a", VIP6)
    ann.withdraw("ns/other")
    assert len(seen) == 2
    ann.withdraw("ns/a")
    assert ann.announced() == {}
    assert len(seen) == 3


def test_interfaces_union_across_owners_and_override_per_owner():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP, ["eth0"])
    ann.announce("ns/b", VIP, ["eth1"])
    state = ann.lookup(bytes([198, 51, 100, 200]))
    assert state.allows("eth0") and state.allows("eth1") and not state.allows("eth2")
    ann.announce("ns/b", VIP, ["eth2"])  # the same owner again: its interfaces are replaced
    assert ann.announced() == {VIP: ("eth0", "eth2")}
    ann.announce("ns/c", VIP)  # an owner with no list: every interface
    assert ann.announced() == {VIP: ()}
    ann.withdraw("ns/c")
    assert ann.announced() == {VIP: ("eth0", "eth2")}
    ann.announce("ns/d", VIP6, "eth0")  # a bare string is one interface name
    assert ann.announced()[VIP6] == ("eth0",)


def test_gratuitous_rounds_use_the_allowed_interfaces_and_count_frames():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP, ["eth1"])
    ann.tick(sender)
    assert sender.rounds == [(1000.0, VIP, ("eth1",))]
    assert ann.metrics.gratuitous == {VIP: 2}


def test_ip_forms_are_canonical_and_bad_ips_are_rejected():
    clock, ann, sender = make()
    ann.announce("ns/a", "2001:DB8:0:1:0:0:0:200")
    assert ann.announced() == {VIP6: ()}
    assert ann.lookup(bytes.fromhex("20010db8000000010000000000000200")).text == VIP6
    with pytest.raises(ValueError, match="'198.51.100'.*not an IP address"):
        ann.announce("ns/a", "198.51.100")


def test_burst_restarts_announced_ips_only():
    clock, ann, sender = make()
    ann.announce("ns/a", VIP)
    run(ann, sender, clock, 10)
    assert ann.burst("198.51.100.201") == []
    assert ann.burst() == [VIP]
    run(ann, sender, clock, 20)
    assert sender.times() == [0.0, 1.1, 2.2, 3.3, 4.4, 10.0, 11.1, 12.2, 13.3, 14.4]


def test_version_changes_only_with_the_announced_set():
    clock, ann, sender = make()
    v0 = ann.version
    ann.announce("ns/a", VIP)
    v1 = ann.version
    ann.announce("ns/a", VIP)  # same owner, same interfaces
    assert v1 > v0 and ann.version == v1
    ann.announce("ns/a", VIP, ["eth0"])
    assert ann.version > v1


def test_counter_metrics_snapshot_uses_metallb_names():
    m = A.CounterMetrics()
    m.request_received(VIP)
    m.response_sent(VIP)
    m.gratuitous_sent(VIP, 2)
    m.gratuitous_sent(VIP, 0)
    m.dropped("malformed")
    assert m.as_dict() == {
        "metallb_layer2_requests_received": {VIP: 1},
        "metallb_layer2_responses_sent": {VIP: 1},
        "metallb_layer2_gratuitous_sent": {VIP: 2},
        "drops": {"malformed": 1},
    }


# ----------------------------------------------------------------- set_leading (the speaker's call)


def test_set_leading_bursts_new_ips_once_and_withdraws_dropped_ones():
    clock, ann, sender = make()
    ann.set_leading({VIP: (), VIP6: ["eth1"]})
    assert ann.leading() == {VIP: (), VIP6: ("eth1",)}
    run(ann, sender, clock, 10.0)
    assert sender.times(VIP) == [0.0, 1.1, 2.2, 3.3, 4.4]
    assert {ifaces for _t, ip, ifaces in sender.rounds if ip == VIP6} == {("eth1",)}
    rounds = len(sender.rounds)
    ann.set_leading({VIP: [], VIP6: ("eth1",)})  # the same map again: nothing to send
    assert ann.tick(sender) is None and len(sender.rounds) == rounds
    ann.set_leading({VIP6: ("eth1",)})
    assert ann.lookup(A.parse_announced_ip(VIP)[2]) is None and ann.leading() == {VIP6: ("eth1",)}
    ann.set_leading({})
    assert ann.leading() == {} and ann.announced() == {}


def test_set_leading_interface_change_applies_at_once():
    clock, ann, sender = make()
    ann.set_leading({VIP: ["eth0"]})
    ann.set_leading({VIP: ["eth0", "eth1"]})
    assert ann.announced() == {VIP: ("eth0", "eth1")}
    ann.set_leading({VIP: ()})
    assert ann.announced() == {VIP: ()}


def test_set_leading_with_a_bad_ip_changes_nothing():
    clock, ann, sender = make()
    ann.set_leading({VIP: ()})
    with pytest.raises(ValueError, match="not-an-ip"):
        ann.set_leading({VIP6: (), "not-an-ip": ()})
    assert ann.leading() == {VIP: ()}


def test_set_leading_spellings_of_one_ip_and_other_owners():
    clock, ann, sender = make()
    ann.announce("ns/svc", VIP, ["eth0"])
    ann.set_leading({"2001:DB8:0:1:0::200": ["eth1"], VIP6: ["eth0"], VIP: ["eth1"]})
    assert ann.leading() == {VIP6: ("eth0", "eth1"), VIP: ("eth1",)}
    ann.set_leading({})
    assert ann.announced() == {VIP: ("eth0",)}  # the other owner still holds it
