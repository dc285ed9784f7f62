# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARP (RFC 826) for IPv4 over Ethernet: parse requests, build replies and gratuitous frames.

Hand-written on purpose: the responder reads raw Ethernet frames from an AF_PACKET socket and
must answer in well under a millisecond. The Python packet libraries (scapy, dpkt, pypacker)
are either heavy to import and slow per packet, or unmaintained; the format is 42 fixed bytes.
``parse_frame`` never raises: anything that is not a well-formed Ethernet/IPv4 ARP packet gives
None, so hostile bytes from the wire are counted and dropped by the caller.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
OP_REQUEST = 1
OP_REPLY = 2

BROADCAST_MAC = b"\xff" * 6
ETH_HEADER_LEN = 14
ARP_LEN = 28
FRAME_LEN = ETH_HEADER_LEN + ARP_LEN  # 42
MIN_FRAME_LEN = 60  # Ethernet minimum without FCS; short frames are zero-padded

_ETH = struct.Struct("!6s6sH")
# htype, ptype, hlen, plen, op, sha, spa, tha, tpa
_ARP = struct.Struct("!HHBBH6s4s6s4s")
_FIXED = struct.pack("!HHBB", ARPHRD_ETHER, ETH_P_IP, 6, 4)
_PAD = bytes(MIN_FRAME_LEN - FRAME_LEN)


@dataclass(frozen=True)
class ArpPacket:
    """One ARP packet with its Ethernet addresses; MACs and IPs as packed bytes (6 / 4)."""

    eth_dst: bytes
    eth_src: bytes
    op: int
    sender_mac: bytes
    sender_ip: bytes
    target_mac: bytes
    target_ip: bytes


def parse_frame(frame: bytes) -> ArpPacket | None:
    """An Ethernet frame carrying an IPv4-over-Ethernet ARP packet, or None (never raises)."""
    try:
        if len(frame) < FRAME_LEN:
            return None
        dst, src, ethertype = _ETH.unpack_from(frame, 0)
        if ethertype != ETH_P_ARP:
            return None
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = _ARP.unpack_from(frame, ETH_HEADER_LEN)
    except (TypeError, struct.error):
        return None
    if htype != ARPHRD_ETHER or ptype != ETH_P_IP or hlen != 6 or plen != 4:
        return None
    if op not in (OP_REQUEST, OP_REPLY):
        return None
    return ArpPacket(dst, src, op, sha, spa, tha, tpa)


def build_frame(
    eth_dst: bytes,
    eth_src: bytes,
    op: int,
    sender_mac: bytes,
    sender_ip: bytes,
    target_mac: bytes,
    target_ip: bytes,
) -> bytes:
    """A padded Ethernet frame (60 bytes) carrying one ARP packet."""
    return b"".join(
        (
            _ETH.pack(eth_dst, eth_src, ETH_P_ARP),
            _FIXED,
            struct.pack("!H6s4s6s4s", op, sender_mac, sender_ip, target_mac, target_ip),
            _PAD,
        )
    )


def build_reply(request: ArpPacket, mac: bytes) -> bytes:
    """The unicast reply to ``request``: its target IP is at ``mac`` (sent to the asker's MAC)."""
    return build_frame(
        request.sender_mac, mac, OP_REPLY, mac, request.target_ip, request.sender_mac, request.sender_ip
    )


def gratuitous_frames(mac: bytes, ip: bytes) -> tuple[bytes, bytes]:
    """MetalLB's gratuitous pair: a request then a reply, both broadcast, sender IP = target IP = ``ip``,
    sender MAC = ``mac``, target MAC field ff:ff:ff:ff:ff:ff."""
    return (
        build_frame(BROADCAST_MAC, mac, OP_REQUEST, mac, ip, BROADCAST_MAC, ip),
        build_frame(BROADCAST_MAC, mac, OP_REPLY, mac, ip, BROADCAST_MAC, ip),
    )


def mac_to_bytes(text: str) -> bytes:
    """``aa:bb:cc:dd:ee:ff`` (or with '-') -> 6 bytes; ValueError names the bad value."""
    if not isinstance(text, str):
        raise ValueError("not a 6-byte MAC address: %r" % (text,))
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(len(p) in (1, 2) for p in parts):
        raise ValueError("not a 6-byte MAC address: %r" % (text,))
    try:
        return bytes(int(p, 16) for p in parts)
    except ValueError:
        raise ValueError("not a 6-byte MAC address: %r" % (text,)) from None


def mac_to_text(mac: bytes) -> str:
    return ":".join("%02x" % b for b in mac)
