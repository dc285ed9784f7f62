# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The responder's decisions without raw sockets (those are in tests/lab): which frames get an
answer, what it is, what is counted; the BPF programs run through a small classic-BPF
interpreter; and the one clear message when CAP_NET_RAW is missing."""

from __future__ import annotations

import ctypes
import os
import socket
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import arp, ndp
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import responder as R
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2.announcer import Announcer, CounterMetrics

MAC = bytes.fromhex("02000000000b")
CLIENT_MAC = bytes.fromhex("02000000000a")
OTHER_MAC = bytes.fromhex("02000000000c")
LL = socket.inet_pton(socket.AF_INET6, "fe80::ff:fe00:b")
CLIENT_LL = socket.inet_pton(socket.AF_INET6, "fe80::ff:fe00:a")
CLIENT_IP = socket.inet_aton("198.51.100.10")
VIP = "198.51.100.200"
VIP6 = "2001:db8:0:1::200"
VIP_P = socket.inet_aton(VIP)
VIP6_P = socket.inet_pton(socket.AF_INET6, VIP6)


class FakeSocket:
    def __init__(self, frames=()) -> None:
        self.frames = list(frames)
        self.sent: list[bytes] = []

    def recvfrom(self, _size):
        if not self.frames:
            raise BlockingIOError
        return self.frames.pop(0)

    def send(self, frame):
        self.sent.append(frame)
        return len(frame)

    def close(self):
        pass


def make(ip_interfaces=()):
    ann = Announcer(clock=lambda: 0.0)
    ann.announce("ns/a", VIP, ip_interfaces)
    ann.announce("ns/b", VIP6, ip_interfaces)
    resp = R.Responder(ann, source=object())
    port = R.Port("eth0", 2, MAC, LL, FakeSocket(), FakeSocket())
    resp.ports["eth0"] = port
    return ann, resp, port


def who_has(target: bytes, dst: bytes = arp.BROADCAST_MAC, op=arp.OP_REQUEST, sender=CLIENT_MAC) -> bytes:
    return arp.build_frame(dst, sender, op, sender, CLIENT_IP, bytes(6), target)


def solicit(target: bytes, **kw) -> bytes:
    return ndp.build_solicitation(CLIENT_MAC, CLIENT_LL, target, CLIENT_MAC, **kw)


# ----------------------------------------------------------------- ARP decisions


def test_arp_request_for_announced_ip_gets_a_unicast_reply():
    ann, resp, port = make()
    reply, ip = resp._answer_arp(port, who_has(VIP_P))
    pkt = arp.parse_frame(reply)
    assert ip == VIP
    assert pkt == arp.ArpPacket(CLIENT_MAC, MAC, arp.OP_REPLY, MAC, VIP_P, CLIENT_MAC, CLIENT_IP)
    assert ann.metrics.requests_received == {VIP: 1}


@pytest.mark.parametrize(
    "frame, reason",
    [
        (who_has(VIP_P, op=arp.OP_REPLY), "arpReply"),
        (who_has(VIP_P, dst=OTHER_MAC), "ethernetDestination"),
        (who_has(socket.inet_aton("198.51.100.201")), "notAnnounced"),
        (who_has(VIP_P, sender=MAC), "ownFrame"),
        (who_has(VIP_P)[:30], "malformed"),
        (b"\xff" * 60, "malformed"),
    ],
)
def test_arp_frames_that_get_no_answer(frame, reason):
    ann, resp, port = make()
    assert resp._answer_arp(port, frame) is None
    assert ann.metrics.drops == {reason: 1} and ann.metrics.requests_received == {}


def test_arp_request_unicast_to_our_mac_is_answered():
    ann, resp, port = make()
    assert resp._answer_arp(port, who_has(VIP_P, dst=MAC)) is not None


def test_arp_request_on_an_interface_the_ip_is_not_allowed_on():
    ann, resp, port = make(["eth1"])
    assert resp._answer_arp(port, who_has(VIP_P)) is None
    assert ann.metrics.drops == {"notMatchInterface": 1}


# ----------------------------------------------------------------- NDP decisions


def test_solicitation_for_announced_ip_gets_a_solicited_advertisement():
    ann, resp, port = make()
    reply, ip = resp._answer_ndp(port, solicit(VIP6_P))
    assert ip == VIP6
    assert reply == ndp.build_advertisement(
        CLIENT_MAC, MAC, VIP6_P, CLIENT_LL, VIP6_P, MAC, solicited=True, override=False
    )


@pytest.mark.parametrize(
    "frame, reason",
    [
        (ndp.build_solicitation(CLIENT_MAC, CLIENT_LL, VIP6_P), "noSourceLL"),
        (solicit(VIP6_P, hop_limit=64), "malformed"),
        (solicit(VIP6_P, eth_dst=OTHER_MAC), "ethernetDestination"),
        (solicit(socket.inet_pton(socket.AF_INET6, "2001:db8:0:1::201")), "notAnnounced"),
        (ndp.build_solicitation(MAC, CLIENT_LL, VIP6_P, MAC), "ownFrame"),
        (b"\x00" * 90, "malformed"),
    ],
)
def test_ndp_frames_that_get_no_answer(frame, reason):
    ann, resp, port = make()
    assert resp._answer_ndp(port, frame) is None
    assert ann.metrics.drops == {reason: 1}


def test_solicitation_unicast_to_our_mac_is_answered():
    ann, resp, port = make()
    assert resp._answer_ndp(port, solicit(VIP6_P, eth_dst=MAC, ip_dst=VIP6_P)) is not None


# ----------------------------------------------------------------- the read loop


def test_reader_answers_counts_and_skips_our_own_frames():
    ann, resp, port = make()
    sock = FakeSocket(
        [
            (who_has(VIP_P), ("eth0", 0x0806, 0, 1, CLIENT_MAC)),
            (b"junk", ("eth0", 0x0806, 0, 1, CLIENT_MAC)),
            (who_has(VIP_P), ("eth0", 0x0806, R.PACKET_OUTGOING, 1, MAC)),
            (who_has(VIP_P, dst=MAC), ("eth0", 0x0806, 0, 1, CLIENT_MAC)),
        ]
    )
    resp._reader(port, resp._answer_arp)(sock)
    assert len(sock.sent) == 2 and all(arp.parse_frame(f).op == arp.OP_REPLY for f in sock.sent)
    assert ann.metrics.responses_sent == {VIP: 2} and ann.metrics.drops == {"malformed": 1}


def test_reader_survives_a_failing_handler_and_reads_a_bounded_batch():
    ann, resp, port = make()
    frames = [(b"x", ("eth0", 0x0806, 0, 1, CLIENT_MAC))] * (R.READ_BUDGET + 5)
    sock = FakeSocket(frames)

    def broken(_port, _frame):
        raise RuntimeError("bug")

    resp._reader(port, broken)(sock)
    assert ann.metrics.drops == {"internalError": R.READ_BUDGET} and len(sock.frames) == 5


@given(st.lists(st.binary(max_size=120), max_size=20))
def test_reader_never_raises_on_hostile_frames(frames):
    ann, resp, port = make()
    arp_sock = FakeSocket([(f, ("eth0", 0x0806, 0, 1, CLIENT_MAC)) for f in frames])
    ndp_sock = FakeSocket([(f, ("eth0", 0x86DD, 2, 1, CLIENT_MAC)) for f in frames])
    resp._reader(port, resp._answer_arp)(arp_sock)
    resp._reader(port, resp._answer_ndp)(ndp_sock)
    assert "internalError" not in ann.metrics.drops


# ----------------------------------------------------------------- gratuitous


def test_gratuitous_round_arp_pair_and_one_na_per_interface():
    ann, resp, port = make()
    resp.ports["eth1"] = R.Port("eth1", 3, OTHER_MAC, None, FakeSocket(), None)
    state4, state6 = ann.lookup(VIP_P), ann.lookup(VIP6_P)
    assert resp.send_gratuitous(state4) == 4
    assert resp.send_gratuitous(state6) == 1  # eth1 has no NDP
    assert port.arp_sock.sent == list(arp.gratuitous_frames(MAC, VIP_P))
    assert port.ndp_sock.sent == [ndp.unsolicited_advertisement(MAC, LL, VIP6_P)]
    assert resp.ports["eth1"].arp_sock.sent == list(arp.gratuitous_frames(OTHER_MAC, VIP_P))


def test_gratuitous_only_on_allowed_interfaces():
    ann, resp, port = make(["eth1"])
    assert resp.send_gratuitous(ann.lookup(VIP_P)) == 0 and port.arp_sock.sent == []


# ----------------------------------------------------------------- BPF programs


def run_bpf(program, packet: bytes) -> int:
    """Classic BPF, just the instructions our programs use; out-of-bounds loads drop (as Linux)."""
    pc, acc = 0, 0
    for _step in range(64):
        code, jt, jf, k = program[pc]
        if code == R._LDH:
            if k + 2 > len(packet):
                return 0
            acc = int.from_bytes(packet[k : k + 2], "big")
        elif code == R._LDB:
            if k + 1 > len(packet):
                return 0
            acc = packet[k]
        elif code == R._JEQ:
            pc += jt if acc == k else jf
        elif code == R._RET:
            return k
        else:
            raise AssertionError("unexpected opcode %#x" % code)
        pc += 1
    raise AssertionError("program did not return")


def test_arp_filter_passes_requests_only():
    assert run_bpf(R.ARP_REQUEST_FILTER, who_has(VIP_P)) > 0
    assert run_bpf(R.ARP_REQUEST_FILTER, who_has(VIP_P, op=arp.OP_REPLY)) == 0
    assert run_bpf(R.ARP_REQUEST_FILTER, solicit(VIP6_P)) == 0
    assert run_bpf(R.ARP_REQUEST_FILTER, who_has(VIP_P)[:18]) == 0


def test_ipv6_filter_passes_neighbor_solicitations_only():
    assert run_bpf(R.NEIGHBOR_SOLICITATION_FILTER, solicit(VIP6_P)) > 0
    assert run_bpf(R.NEIGHBOR_SOLICITATION_FILTER, solicit(VIP6_P, hop_limit=1)) > 0  # counted, then dropped
    assert run_bpf(R.NEIGHBOR_SOLICITATION_FILTER, ndp.unsolicited_advertisement(MAC, LL, VIP6_P)) == 0
    assert run_bpf(R.NEIGHBOR_SOLICITATION_FILTER, who_has(VIP_P)) == 0


def test_bpf_programs_are_well_formed():
    for program in (R.ARP_REQUEST_FILTER, R.NEIGHBOR_SOLICITATION_FILTER):
        for pc, (code, jt, jf, _k) in enumerate(program):
            if code == R._JEQ:
                assert pc + 1 + max(jt, jf) < len(program)
        assert program[-1][0] == R._RET


# ----------------------------------------------------------------- privileges


def _drop_cap_net_raw() -> None:
    """In the child, before exec: remove CAP_NET_RAW from the bounding set, so root runs without it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(24, 13, 0, 0, 0) != 0:  # PR_CAPBSET_DROP, CAP_NET_RAW
        raise OSError(ctypes.get_errno(), "PR_CAPBSET_DROP")


def test_missing_cap_net_raw_is_one_clear_message():
    code = (
        "from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2.responder import "
        "check_raw_socket_permission as c, RawSocketPermissionError as E\n"
        "try:\n    c()\nexcept E as e:\n    print('ERR', e)\nelse:\n    print('OK')\n"
    )
    # The child imports the collection from wherever this run found it (pytest farm or ansible-test copy).
    root = R.__file__[: R.__file__.rindex(os.sep + "ansible_collections" + os.sep)]
    kw = {"env": dict(os.environ, PYTHONPATH=os.pathsep.join([root] + sys.path))}
    if os.geteuid() == 0:
        kw["preexec_fn"] = _drop_cap_net_raw
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False, **kw
    )
    if out.stdout.startswith("OK"):
        pytest.skip("this environment lets unprivileged users open raw sockets")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ERR layer2 responder:") and "CAP_NET_RAW" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


# ----------------------------------------------------------------- the speaker's API


def test_speaker_api_set_leading_and_unannounceable_ips():
    metrics = CounterMetrics()
    resp = R.Responder(metrics=metrics, source=object())
    assert resp.metrics is metrics and resp.announcer.metrics is metrics
    resp.local_names = frozenset({"eth0", "eth1"})
    failed = resp.set_leading({VIP: (), VIP6: ["eth1"], "198.51.100.201": ["eth9"]})
    assert failed == ["198.51.100.201"]
    assert resp.leading() == {VIP: (), VIP6: ("eth1",), "198.51.100.201": ("eth9",)}
    port = R.Port("eth0", 2, MAC, LL, FakeSocket(), FakeSocket())
    resp.ports["eth0"] = port
    assert resp._answer_arp(port, who_has(VIP_P)) is not None
    assert resp._answer_ndp(port, solicit(VIP6_P)) is None  # only on eth1
    assert sorted(resp.burst()) == sorted([VIP, VIP6, "198.51.100.201"])
    assert resp.set_leading({}) == [] and resp.leading() == {}
    assert resp._answer_arp(port, who_has(VIP_P)) is None
    assert resp.status()["announced"] == {} and not resp.alive()


def test_the_loop_survives_an_unexpected_error(monkeypatch):
    resp = R.Responder(source=object())
    calls = []

    def once(max_wait=1.0):
        calls.append(max_wait)
        if len(calls) == 1:
            raise RuntimeError("bug")
        resp._stopping.set()

    monkeypatch.setattr(resp, "open", lambda: None)
    monkeypatch.setattr(resp, "run_once", once)
    monkeypatch.setattr(R, "LOOP_ERROR_BACKOFF", 0.0)
    resp.run()
    assert len(calls) == 2 and resp.metrics.drops == {"internalError": 1}
