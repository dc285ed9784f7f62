# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARP codec: real frames captured from arping and the Linux kernel, round trips, MetalLB's
gratuitous pair, and hostile bytes that must never raise."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import arp

# Captured with tcpdump in a namespace lab: arping 198.51.100.11 from 02:00:00:00:00:0a, and the
# kernel of 198.51.100.11 (02:00:00:00:00:0b) answering it.
ARPING_REQUEST = bytes.fromhex(
    "ffffffffffff02000000000a0806000108000604000102000000000ac633640a000000000000c633640b"
    "00000000000000000000000000000000"
)
KERNEL_REPLY = bytes.fromhex(
    "02000000000a02000000000b0806000108000604000202000000000bc633640b02000000000ac633640a"
)
MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")
IP_A = socket.inet_aton("198.51.100.10")
IP_B = socket.inet_aton("198.51.100.11")
VIP = socket.inet_aton("198.51.100.200")

macs = st.binary(min_size=6, max_size=6)
ipv4s = st.binary(min_size=4, max_size=4)


def test_parse_real_request():
    pkt = arp.parse_frame(ARPING_REQUEST)
    assert pkt == arp.ArpPacket(arp.BROADCAST_MAC, MAC_A, arp.OP_REQUEST, MAC_A, IP_A, bytes(6), IP_B)


def test_reply_matches_what_the_kernel_sends():
    reply = arp.build_reply(arp.parse_frame(ARPING_REQUEST), MAC_B)
    assert reply[:42] == KERNEL_REPLY
    assert len(reply) == arp.MIN_FRAME_LEN and reply[42:] == bytes(18)


def test_gratuitous_pair_is_request_then_reply_like_metallb():
    request, reply = arp.gratuitous_frames(MAC_B, VIP)
    for frame, op in ((request, arp.OP_REQUEST), (reply, arp.OP_REPLY)):
        pkt = arp.parse_frame(frame)
        assert pkt == arp.ArpPacket(arp.BROADCAST_MAC, MAC_B, op, MAC_B, VIP, arp.BROADCAST_MAC, VIP)
        assert frame[12:14] == b"\x08\x06" and len(frame) == 60


@given(
    dst=macs,
    src=macs,
    op=st.sampled_from([arp.OP_REQUEST, arp.OP_REPLY]),
    sha=macs,
    spa=ipv4s,
    tha=macs,
    tpa=ipv4s,
)
def test_round_trip(dst, src, op, sha, spa, tha, tpa):
    frame = arp.build_frame(dst, src, op, sha, spa, tha, tpa)
    assert arp.parse_frame(frame) == arp.ArpPacket(dst, src, op, sha, spa, tha, tpa)
    assert arp.parse_frame(bytearray(frame)) == arp.parse_frame(memoryview(frame))


@pytest.mark.parametrize(
    "offset, value, why",
    [
        (12, b"\x08\x00", "ethertype IPv4"),
        (14, b"\x00\x06", "htype IEEE 802"),
        (16, b"\x86\xdd", "ptype IPv6"),
        (18, b"\x08", "hlen 8"),
        (19, b"\x10", "plen 16"),
        (20, b"\x00\x03", "op RARP request"),
        (20, b"\x00\x00", "op 0"),
    ],
)
def test_wrong_fields_are_rejected(offset, value, why):
    frame = bytearray(ARPING_REQUEST)
    frame[offset : offset + len(value)] = value
    assert arp.parse_frame(bytes(frame)) is None, why


def test_every_truncation_is_rejected():
    for length in range(arp.FRAME_LEN):
        assert arp.parse_frame(ARPING_REQUEST[:length]) is None
    assert arp.parse_frame(ARPING_REQUEST[: arp.FRAME_LEN]) is not None


@given(st.binary(max_size=128))
def test_random_bytes_never_raise(data):
    pkt = arp.parse_frame(data)
    assert pkt is None or (len(data) >= arp.FRAME_LEN and data[12:14] == b"\x08\x06")


@given(st.binary(max_size=64))
def test_random_bytes_after_a_valid_header_never_raise(tail):
    pkt = arp.parse_frame(ARPING_REQUEST[:22] + tail)
    assert pkt is None or len(tail) >= 20


@given(index=st.integers(0, len(ARPING_REQUEST) - 1), value=st.integers(0, 255))
def test_mutated_frames_parse_consistently(index, value):
    frame = bytearray(ARPING_REQUEST)
    frame[index] = value
    pkt = arp.parse_frame(bytes(frame))
    if pkt is not None:
        assert (
            arp.parse_frame(
                arp.build_frame(
                    pkt.eth_dst,
                    pkt.eth_src,
                    pkt.op,
                    pkt.sender_mac,
                    pkt.sender_ip,
                    pkt.target_mac,
                    pkt.target_ip,
                )
            )
            == pkt
        )


@pytest.mark.parametrize(
    "bad", [None, 42, "", "02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:00:00", "0200.0000.000a"]
)
def test_mac_parsing_rejects_garbage(bad):
    with pytest.raises(ValueError, match="not a 6-byte MAC address"):
        arp.mac_to_bytes(bad)


def test_mac_text_round_trip():
    assert arp.mac_to_bytes("02:00:00:00:00:0A") == MAC_A
    assert arp.mac_to_text(MAC_A) == "02:00:00:00:00:0a"
