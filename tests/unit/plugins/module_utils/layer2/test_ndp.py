# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NDP codec: real frames from ndisc6 and the Linux kernel (independent checks of layout and
checksum), RFC 4861 receive checks, and hostile bytes that must never raise."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import ndp


def ip6(text: str) -> bytes:
    return socket.inet_pton(socket.AF_INET6, text)


# Captured with tcpdump in a namespace lab: ndisc6 2001:db8:0:1::11 from 02:00:00:00:00:0a
# (fe80::ff:fe00:a), and the kernel of 2001:db8:0:1::11 (02:00:00:00:00:0b) answering it.
NDISC6_NS = bytes.fromhex(
    "3333ff00001102000000000a86dd6001cdfe00203afffe80000000000000000000fffe00000aff02000000000000000000"
    "01ff00001187004c2e0000000020010db8000000010000000000000011010102000000000a"
)
KERNEL_NA = bytes.fromhex(
    "02000000000a02000000000b86dd6000000000203aff20010db8000000010000000000000011fe80000000000000000000"
    "fffe00000a8800ba776000000020010db8000000010000000000000011020102000000000b"
)
MAC_A = bytes.fromhex("02000000000a")
MAC_B = bytes.fromhex("02000000000b")
LL_A = ip6("fe80::ff:fe00:a")
LL_B = ip6("fe80::ff:fe00:b")
TARGET = ip6("2001:db8:0:1::11")
VIP6 = ip6("2001:db8:0:1::200")

macs = st.binary(min_size=6, max_size=6)
addrs = st.binary(min_size=16, max_size=16)
unicast = addrs.filter(lambda a: a[0] != 0xFF and a != bytes(16))


def test_parse_real_solicitation():
    ns = ndp.parse_solicitation(NDISC6_NS)
    assert ns == ndp.NeighborSolicitation(
        ndp.solicited_node_mac(TARGET), MAC_A, LL_A, ip6("ff02::1:ff00:11"), TARGET, MAC_A
    )


def test_advertisement_matches_what_the_kernel_sends():
    """Same fields as the kernel's answer (it sets S and O) -> the same bytes, checksum included."""
    frame = ndp.build_advertisement(MAC_A, MAC_B, TARGET, LL_A, TARGET, MAC_B, solicited=True, override=True)
    assert frame == KERNEL_NA


def test_solicited_reply_like_metallb_from_the_target_address():
    ns = ndp.parse_solicitation(NDISC6_NS)
    frame = ndp.solicited_advertisement(ns, MAC_B)
    assert frame[:6] == MAC_A and frame[6:12] == MAC_B
    _vtf, plen, nh, hop, src, dst = struct.unpack_from("!IHBB16s16s", frame, 14)
    assert (plen, nh, hop, src, dst) == (32, 58, 255, TARGET, LL_A)
    assert ndp.solicited_advertisement(ns, MAC_B, LL_B)[22:38] == LL_B  # MetalLB's source, on request
    icmp_type, code, _cks, flags, target, opt_type, opt_len, lladdr = struct.unpack_from(
        "!BBHI16sBB6s", frame, 54
    )
    assert (icmp_type, code, target, opt_type, opt_len, lladdr) == (136, 0, TARGET, 2, 1, MAC_B)
    assert flags == ndp.NA_FLAG_SOLICITED  # S=1, O=0, R=0
    assert (
        ndp.icmpv6_checksum(src, dst, frame[54:56] + b"\0\0" + frame[58:])
        == struct.unpack_from("!H", frame, 56)[0]
    )


def test_unsolicited_advertisement_like_metallb():
    frame = ndp.unsolicited_advertisement(MAC_B, LL_B, VIP6)
    assert frame[:6] == b"\x33\x33\x00\x00\x00\x01" and frame[6:12] == MAC_B
    _vtf, _plen, _nh, hop, src, dst = struct.unpack_from("!IHBB16s16s", frame, 14)
    assert (hop, src, dst) == (255, LL_B, ip6("ff02::1"))
    _t, _c, _cks, flags, target, opt_type, _l, lladdr = struct.unpack_from("!BBHI16sBB6s", frame, 54)
    assert flags == ndp.NA_FLAG_OVERRIDE and target == VIP6 and (opt_type, lladdr) == (2, MAC_B)


@pytest.mark.parametrize(
    "ip, group, mac",
    [
        ("2001:db8:0:1::200", "ff02::1:ff00:200", "3333ff000200"),
        ("fe80::1234:5678:9abc", "ff02::1:ff78:9abc", "3333ff789abc"),
    ],
)
def test_solicited_node_helpers(ip, group, mac):
    assert ndp.solicited_node_address(ip6(ip)) == ip6(group)
    assert ndp.solicited_node_mac(ip6(ip)) == bytes.fromhex(mac)


@given(src_mac=macs, src=unicast, target=unicast, lladdr=st.one_of(st.none(), macs))
def test_solicitation_round_trip(src_mac, src, target, lladdr):
    frame = ndp.build_solicitation(src_mac, src, target, lladdr)
    assert ndp.parse_solicitation(frame) == ndp.NeighborSolicitation(
        ndp.solicited_node_mac(target), src_mac, src, ndp.solicited_node_address(target), target, lladdr
    )


def test_dad_solicitation_parses_without_lladdr():
    frame = ndp.build_solicitation(MAC_A, bytes(16), VIP6)
    assert ndp.parse_solicitation(frame).source_lladdr is None


def _resum(frame: bytearray) -> bytes:
    """Recompute the checksum after a deliberate edit, so only the edited field is wrong."""
    plen = struct.unpack_from("!H", frame, 18)[0]
    frame[56:58] = b"\0\0"
    cks = ndp.icmpv6_checksum(bytes(frame[22:38]), bytes(frame[38:54]), bytes(frame[54 : 54 + plen]))
    struct.pack_into("!H", frame, 56, cks)
    return bytes(frame)


def edited(offset: int, value: bytes, fix_checksum: bool = True) -> bytes:
    frame = bytearray(NDISC6_NS)
    frame[offset : offset + len(value)] = value
    return _resum(frame) if fix_checksum else bytes(frame)


@pytest.mark.parametrize(
    "frame, why",
    [
        (edited(21, b"\x40"), "hop limit 64"),
        (edited(21, b"\xfe"), "hop limit 254"),
        (edited(57, b"\x00", fix_checksum=False), "bad checksum"),
        (edited(55, b"\x01"), "code 1"),
        (edited(54, b"\x88"), "not an NS"),
        (edited(62, b"\xff"), "multicast target"),
        (edited(79, b"\x00"), "zero-length option"),
        (edited(79, b"\x02"), "option runs past the message"),
        (edited(20, b"\x11", fix_checksum=False), "next header UDP"),
        (edited(14, b"\x40", fix_checksum=False), "IP version 4"),
        (edited(12, b"\x08\x00", fix_checksum=False), "ethertype IPv4"),
        (edited(18, b"\x00\x40", fix_checksum=False), "payload length beyond the frame"),
        (edited(18, b"\x00\x10", fix_checksum=False), "payload length below an NS"),
        (
            _resum(bytearray(ndp.build_solicitation(MAC_A, bytes(16), VIP6, MAC_A))),
            "unspecified source with lladdr",
        ),
        (ndp.build_solicitation(MAC_A, bytes(16), VIP6, ip_dst=VIP6), "DAD not to the solicited-node group"),
    ],
)
def test_rfc4861_receive_checks(frame, why):
    assert ndp.parse_solicitation(frame) is None, why


def test_option_other_than_source_lladdr_is_skipped_and_long_lladdr_rejected():
    base = bytearray(ndp.build_solicitation(MAC_A, LL_A, VIP6))
    nonce = b"\x0e\x01" + b"\x11" * 6  # nonce option (RFC 3971), 8 bytes
    with_nonce = bytearray(base + nonce + b"\x01\x01" + MAC_A)
    struct.pack_into("!H", with_nonce, 18, 24 + 16)
    assert ndp.parse_solicitation(_resum(with_nonce)).source_lladdr == MAC_A
    long_lladdr = bytearray(base + b"\x01\x02" + MAC_A + bytes(8))
    struct.pack_into("!H", long_lladdr, 18, 24 + 16)
    assert ndp.parse_solicitation(_resum(long_lladdr)) is None


def test_every_truncation_is_rejected():
    for length in range(len(NDISC6_NS)):
        assert ndp.parse_solicitation(NDISC6_NS[:length]) is None
    assert ndp.parse_solicitation(NDISC6_NS + b"\0" * 4) is not None  # Ethernet padding is fine


@given(st.binary(max_size=160))
def test_random_bytes_never_raise(data):
    assert ndp.parse_solicitation(data) is None or len(data) >= 78


@given(tail=st.binary(max_size=96), plen=st.integers(0, 0xFFFF))
def test_random_icmp_bodies_never_raise(tail, plen):
    frame = bytearray(NDISC6_NS[:54] + tail)
    struct.pack_into("!H", frame, 18, plen)
    ndp.parse_solicitation(bytes(frame))


@given(index=st.integers(0, len(NDISC6_NS) - 1), value=st.integers(0, 255))
def test_single_byte_edits_of_checksummed_bytes_are_rejected(index, value):
    """Bytes from the IPv6 source address on are covered by the checksum: any one-byte change
    is detected (a ones-complement sum cannot absorb a change of less than 0xffff)."""
    frame = bytearray(NDISC6_NS)
    frame[index] = value
    ns = ndp.parse_solicitation(bytes(frame))
    if index >= 22 and value != NDISC6_NS[index]:
        assert ns is None


def test_is_link_local():
    assert ndp.is_link_local(LL_A) and ndp.is_link_local(ip6("febf::1"))
    assert not ndp.is_link_local(TARGET) and not ndp.is_link_local(ip6("fec0::1"))
