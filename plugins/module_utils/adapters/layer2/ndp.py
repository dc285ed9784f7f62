# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 Neighbor Discovery (RFC 4861) over raw Ethernet: parse Neighbor Solicitations, build
Neighbor Advertisements, and the solicited-node multicast helpers.

Hand-written for the same reason as ``arp``: the responder reads raw frames from an AF_PACKET
socket and answers within a millisecond; no maintained Python library parses NDP at that cost.
The receive checks are RFC 4861 section 7.1.1 (hop limit 255, valid ICMPv6 checksum, code 0,
target not multicast, no zero-length option, no source link-layer option from the unspecified
address). ``parse_solicitation`` never raises: anything else gives None.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

ETH_P_IPV6 = 0x86DD
IPPROTO_ICMPV6 = 58
NDP_HOP_LIMIT = 255
ICMPV6_NS = 135
ICMPV6_NA = 136
OPT_SOURCE_LLADDR = 1
OPT_TARGET_LLADDR = 2

NA_FLAG_ROUTER = 0x80000000
NA_FLAG_SOLICITED = 0x40000000
NA_FLAG_OVERRIDE = 0x20000000

ALL_NODES = socket.inet_pton(socket.AF_INET6, "ff02::1")
ALL_NODES_MAC = b"\x33\x33\x00\x00\x00\x01"
UNSPECIFIED = bytes(16)
_SOLICITED_PREFIX = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13]

ETH_HEADER_LEN = 14
IPV6_HEADER_LEN = 40
ICMP_OFFSET = ETH_HEADER_LEN + IPV6_HEADER_LEN  # 54
NS_LEN = 24  # type, code, checksum, reserved, target

_ETH = struct.Struct("!6s6sH")
# version/class/flow, payload length, next header, hop limit, src, dst
_IPV6 = struct.Struct("!IHBB16s16s")
_NS = struct.Struct("!BBHI16s")


@dataclass(frozen=True)
class NeighborSolicitation:
    """A validated NS; addresses packed (MAC 6 bytes, IPv6 16 bytes). ``source_lladdr`` is the
    source link-layer address option, None when absent (MetalLB ignores such solicitations)."""

    eth_dst: bytes
    eth_src: bytes
    ip_src: bytes
    ip_dst: bytes
    target: bytes
    source_lladdr: bytes | None


def _ones_complement_sum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def icmpv6_checksum(src: bytes, dst: bytes, message: bytes) -> int:
    """The ICMPv6 checksum over the pseudo-header and ``message`` (its checksum field zero)."""
    pseudo = src + dst + struct.pack("!I3xB", len(message), IPPROTO_ICMPV6)
    return (~_ones_complement_sum(pseudo + message)) & 0xFFFF


def parse_solicitation(frame: bytes) -> NeighborSolicitation | None:
    """An Ethernet frame carrying a valid ICMPv6 Neighbor Solicitation, or None (never raises)."""
    try:
        if len(frame) < ICMP_OFFSET + NS_LEN:
            return None
        eth_dst, eth_src, ethertype = _ETH.unpack_from(frame, 0)
        vtf, payload_len, next_header, hop_limit, src, dst = _IPV6.unpack_from(frame, ETH_HEADER_LEN)
        if ethertype != ETH_P_IPV6 or vtf >> 28 != 6 or next_header != IPPROTO_ICMPV6:
            return None
        if hop_limit != NDP_HOP_LIMIT or payload_len < NS_LEN or ICMP_OFFSET + payload_len > len(frame):
            return None
        message = bytes(frame[ICMP_OFFSET : ICMP_OFFSET + payload_len])
        icmp_type, code, _checksum, _reserved, target = _NS.unpack_from(message, 0)
        if icmp_type != ICMPV6_NS or code != 0 or target[0] == 0xFF:
            return None
        pseudo = src + dst + struct.pack("!I3xB", payload_len, IPPROTO_ICMPV6)
        if _ones_complement_sum(pseudo + message) != 0xFFFF:
            return None
        lladdr = None
        offset = NS_LEN
        while offset < payload_len:
            if offset + 2 > payload_len:
                return None
            opt_type, opt_len = message[offset], message[offset + 1]
            end = offset + opt_len * 8
            if opt_len == 0 or end > payload_len:
                return None
            if opt_type == OPT_SOURCE_LLADDR:
                if opt_len != 1:  # Ethernet: exactly 8 bytes (type, length, 6-byte MAC)
                    return None
                if lladdr is None:
                    lladdr = message[offset + 2 : offset + 8]
            offset = end
        if src == UNSPECIFIED and (lladdr is not None or dst[:13] != _SOLICITED_PREFIX):
            return None
        return NeighborSolicitation(eth_dst, eth_src, src, dst, target, lladdr)
    except (TypeError, ValueError, IndexError, struct.error):
        return None


def _frame(
    eth_dst: bytes,
    eth_src: bytes,
    ip_src: bytes,
    ip_dst: bytes,
    message: bytearray,
    hop_limit: int = NDP_HOP_LIMIT,
) -> bytes:
    struct.pack_into("!H", message, 2, icmpv6_checksum(ip_src, ip_dst, bytes(message)))
    return b"".join(
        (
            _ETH.pack(eth_dst, eth_src, ETH_P_IPV6),
            _IPV6.pack(6 << 28, len(message), IPPROTO_ICMPV6, hop_limit, ip_src, ip_dst),
            bytes(message),
        )
    )


def build_advertisement(
    eth_dst: bytes,
    eth_src: bytes,
    ip_src: bytes,
    ip_dst: bytes,
    target: bytes,
    target_mac: bytes,
    *,
    solicited: bool,
    override: bool,
    router: bool = False,
) -> bytes:
    """An Ethernet frame with one NA carrying the target link-layer address option."""
    flags = (
        (NA_FLAG_ROUTER if router else 0)
        | (NA_FLAG_SOLICITED if solicited else 0)
        | (NA_FLAG_OVERRIDE if override else 0)
    )
    message = bytearray(
        struct.pack("!BBHI16sBB6s", ICMPV6_NA, 0, 0, flags, target, OPT_TARGET_LLADDR, 1, target_mac)
    )
    return _frame(eth_dst, eth_src, ip_src, ip_dst, message)


def solicited_advertisement(ns: NeighborSolicitation, mac: bytes, source: bytes | None = None) -> bytes:
    """The answer to ``ns`` (which must carry a source link-layer address): S=1, O=0 (as MetalLB),
    target link-layer address ``mac``, sent to the solicitor's IP and MAC.

    The IPv6 source defaults to the solicited address itself, which is what Linux sends for an
    address it owns. MetalLB's replies come from the interface's link-local address instead;
    common tools (ndisc6, for one) discard an answer for a global target that comes from a
    link-local source, while kernels accept either, so the target is the better choice.
    """
    return build_advertisement(
        ns.source_lladdr,
        mac,
        ns.target if source is None else source,
        ns.ip_src,
        ns.target,
        mac,
        solicited=True,
        override=False,
    )


def unsolicited_advertisement(mac: bytes, link_local: bytes, target: bytes) -> bytes:
    """MetalLB's gratuitous NA: to ff02::1, S=0, O=1, target link-layer address = ``mac``."""
    return build_advertisement(
        ALL_NODES_MAC, mac, link_local, ALL_NODES, target, mac, solicited=False, override=True
    )


def build_solicitation(
    eth_src: bytes,
    ip_src: bytes,
    target: bytes,
    source_lladdr: bytes | None = None,
    *,
    eth_dst: bytes | None = None,
    ip_dst: bytes | None = None,
    hop_limit: int = NDP_HOP_LIMIT,
) -> bytes:
    """An NS frame (for tests and probes); defaults to the target's solicited-node group."""
    group = solicited_node_address(target)
    message = bytearray(struct.pack("!BBHI16s", ICMPV6_NS, 0, 0, 0, target))
    if source_lladdr is not None:
        message += struct.pack("!BB6s", OPT_SOURCE_LLADDR, 1, source_lladdr)
    return _frame(
        eth_dst if eth_dst is not None else multicast_mac(group),
        eth_src,
        ip_src,
        ip_dst if ip_dst is not None else group,
        message,
        hop_limit,
    )


def solicited_node_address(ip: bytes) -> bytes:
    """ff02::1:ffXX:XXXX from the low 24 bits of ``ip`` (16 bytes)."""
    return _SOLICITED_PREFIX + bytes(ip[13:16])


def multicast_mac(group: bytes) -> bytes:
    """The Ethernet address of an IPv6 multicast group: 33:33 + its low 32 bits (RFC 2464)."""
    return b"\x33\x33" + bytes(group[12:16])


def solicited_node_mac(ip: bytes) -> bytes:
    """33:33:ff:XX:XX:XX: where solicitations for ``ip`` are sent."""
    return multicast_mac(solicited_node_address(ip))


def is_link_local(ip: bytes) -> bool:
    """fe80::/10."""
    return len(ip) == 16 and ip[0] == 0xFE and ip[1] & 0xC0 == 0x80
