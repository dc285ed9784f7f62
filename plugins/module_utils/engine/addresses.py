# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Address entries of pools: MetalLB's CIDR and ``start-end`` syntax, as integer intervals.

netaddr parses and summarises; everything after parsing is integer arithmetic so that no
pool is ever enumerated (an IPv6 /32 costs what a /120 costs). ``parse_ip``/``format_ip``
are on the allocator's hot path and so avoid netaddr objects.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .model import IPV4, IPV6, Pool, Segment

try:
    import netaddr

    HAS_NETADDR = True
except ImportError:  # pragma: no cover - callers report missing_required_lib
    netaddr = None
    HAS_NETADDR = False

MAX_INT64 = 9223372036854775807
_BITS = {IPV4: 32, IPV6: 128}


def _need_netaddr() -> None:
    if not HAS_NETADDR:
        raise ValueError("the netaddr Python library is required to parse addresses")


def parse_ip(text: str) -> tuple[int, int] | None:
    """(family, value) of an IP address in any valid textual form, or None."""
    if not isinstance(text, str):
        return None
    try:
        return IPV4, struct.unpack("!I", socket.inet_pton(socket.AF_INET, text))[0]
    except (OSError, ValueError):  # ValueError: an embedded NUL
        pass
    try:
        hi, lo = struct.unpack("!QQ", socket.inet_pton(socket.AF_INET6, text))
    except (OSError, ValueError):
        return None
    value = (hi << 64) | lo
    if value >> 32 == 0xFFFF:  # IPv4-mapped IPv6 is an IPv4 address, as Go's net.ParseIP says
        return IPV4, value & 0xFFFFFFFF
    return IPV6, value


def format_ip(family: int, value: int) -> str:
    """Canonical text (Go's net.IP.String(): dotted quad, RFC 5952 IPv6)."""
    if family == IPV4:
        return socket.inet_ntop(socket.AF_INET, struct.pack("!I", value))
    return socket.inet_ntop(socket.AF_INET6, struct.pack("!QQ", value >> 64, value & 0xFFFFFFFFFFFFFFFF))


_V4_MAPPED = b"\x00" * 10 + b"\xff\xff"


def canonical_ip(text) -> str | None:
    """The one canonical form of an IP: Go's net.IP.String() (the form MetalLB hashes and writes),
    IPv4-mapped IPv6 as IPv4; None if ``text`` is not an IP. ``format_ip(*parse_ip(text))`` in two
    C calls: it runs for every LB IP of every speaker pass."""
    if not isinstance(text, str):
        return None
    try:
        return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):  # ValueError: an embedded NUL
        pass
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None
    if packed[:12] == _V4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed)


def is_buggy(family: int, value: int) -> bool:
    """IPv4 addresses ending in .0 or .255 (avoidBuggyIPs); IPv6 never."""
    return family == IPV4 and (value & 0xFF) in (0, 255)


# IPv4-mapped IPv6 (::ffff:0:0/96): the same hosts as IPv4. An entry inside it is folded into its
# IPv4 form, so the overlap check and the allocator see one address, never two names for it (MetalLB
# keeps such a pool IPv6 and two Services can get one address); an entry reaching into it from
# ordinary IPv6 space is refused.
MAPPED_FIRST = 0xFFFF << 32
MAPPED_LAST = MAPPED_FIRST | 0xFFFFFFFF
_MAPPED_PARTLY = ("reaches into the IPv4-mapped IPv6 range ::ffff:0:0/96, whose addresses are IPv4 "
                  "addresses: write them as IPv4")


def _mapped(value: int) -> bool:
    return MAPPED_FIRST <= value <= MAPPED_LAST


@lru_cache(maxsize=4096)
def parse_entry(entry: str) -> Segment:
    """One ``spec.addresses`` entry → Segment, with MetalLB's acceptance rules and messages."""
    _need_netaddr()
    if not isinstance(entry, str):
        raise ValueError('invalid CIDR "%s": not a string' % (entry,))
    if "-" in entry:
        raw_start, raw_end = entry.split("-", 1)
        start_text, end_text = raw_start.strip(), raw_end.strip()
        try:
            start = netaddr.IPAddress(start_text, flags=netaddr.INET_PTON)
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise ValueError('invalid IP range "%s": invalid start IP "%s"' % (entry, raw_start)) from exc
        try:
            end = netaddr.IPAddress(end_text, flags=netaddr.INET_PTON)
        except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
            raise ValueError('invalid IP range "%s": invalid end IP "%s"' % (entry, raw_end)) from exc
        if start.version != end.version:
            raise ValueError('invalid IP range "%s": start IP "%s" and end IP "%s" are of different families'
                             % (entry, start_text, end_text))
        if int(start) > int(end):
            raise ValueError('invalid IP range "%s": start IP "%s" is after the end IP "%s"'
                             % (entry, start_text, end_text))
        if start.version == 6 and (_mapped(int(start)) or _mapped(int(end))):
            if not (_mapped(int(start)) and _mapped(int(end))):
                raise ValueError('invalid IP range "%s": %s' % (entry, _MAPPED_PARTLY))
            start, end = netaddr.IPAddress(int(start) & 0xFFFFFFFF), netaddr.IPAddress(int(end) & 0xFFFFFFFF)
        elif start.version == 6 and int(start) < MAPPED_FIRST and int(end) > MAPPED_LAST:
            raise ValueError('invalid IP range "%s": %s' % (entry, _MAPPED_PARTLY))
        cidrs = netaddr.iprange_to_cidrs(start, end)
        family = IPV4 if start.version == 4 else IPV6
        return Segment(family=family, first=int(start), last=int(end), entry=entry,
                       cidrs=tuple(str(c) for c in cidrs), widest_prefix=min(c.prefixlen for c in cidrs))
    if "/" not in entry or entry != entry.strip():
        raise ValueError('invalid CIDR "%s"' % entry)
    address, _unused, prefix = entry.partition("/")
    if not prefix.isdigit() or (len(prefix) > 1 and prefix[0] == "0"):
        raise ValueError('invalid CIDR "%s"' % entry)
    try:
        ip = netaddr.IPAddress(address, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError, TypeError) as exc:
        raise ValueError('invalid CIDR "%s"' % entry) from exc
    bits = 32 if ip.version == 4 else 128
    length = int(prefix)
    if length > bits:
        raise ValueError('invalid CIDR "%s"' % entry)
    network = netaddr.IPNetwork("%s/%d" % (ip, length))
    first, last = int(network.first), int(network.last)
    if ip.version == 6 and first <= MAPPED_LAST and last >= MAPPED_FIRST:
        if length < 96:
            raise ValueError('invalid CIDR "%s": %s' % (entry, _MAPPED_PARTLY))
        network = netaddr.IPNetwork("%s/%d" % (netaddr.IPAddress(first & 0xFFFFFFFF), length - 96))
        return Segment(family=IPV4, first=int(network.first), last=int(network.last), entry=entry,
                       cidrs=(str(network.cidr),), widest_prefix=length - 96)
    family = IPV4 if ip.version == 4 else IPV6
    return Segment(family=family, first=first, last=last, entry=entry, cidrs=(str(network.cidr),),
                   widest_prefix=length)


def _cidr_pieces(seg: Segment) -> Iterable[tuple[int, int, int]]:
    """(first, last, prefix) of each CIDR piece of a segment, ascending, without netaddr."""
    bits = _BITS[seg.family]
    first = seg.first
    while first <= seg.last:
        size_bits = (first & -first).bit_length() - 1 if first else bits
        size_bits = min(size_bits, bits)
        while size_bits and first + (1 << size_bits) - 1 > seg.last:
            size_bits -= 1
        yield first, first + (1 << size_bits) - 1, bits - size_bits
        first += 1 << size_bits


def segment_capacity(seg: Segment, avoid_buggy: bool) -> int:
    """MetalLB's poolCount for one entry: per CIDR piece, saturating at MaxInt64 for IPv6."""
    bits = _BITS[seg.family]
    total = 0
    for first, last, prefix in _cidr_pieces(seg):
        if seg.family == IPV6 and bits - prefix >= 62:
            return MAX_INT64
        size = 1 << (bits - prefix)
        if avoid_buggy and seg.family == IPV4:
            if prefix <= 24:
                size -= 2 * (1 << (24 - prefix))
            else:
                size -= int(is_buggy(IPV4, first)) + int(is_buggy(IPV4, last))
        total += size
        if total >= MAX_INT64:
            return MAX_INT64
    return total


def pool_capacity(pool: Pool) -> tuple[int, int]:
    """(IPv4, IPv6) usable addresses of a pool, MetalLB's figures (TestPoolCount)."""
    v4 = v6 = 0
    for seg in pool.segments:
        size = segment_capacity(seg, pool.avoid_buggy_ips)
        if seg.family == IPV4:
            v4 += size
        else:
            v6 = min(MAX_INT64, v6 + size)
    return v4, v6


def segments_overlap(a: Segment, b: Segment) -> bool:
    return a.family == b.family and a.first <= b.last and b.first <= a.last


# -- helpers for the Ansible filters ------------------------------------------------------

def entry_size(entry: str, avoid_buggy: bool = False) -> int:
    """Exact number of usable addresses of an entry (no MaxInt64 cap)."""
    seg = parse_entry(entry)
    size = seg.last - seg.first + 1
    if avoid_buggy and seg.family == IPV4:
        size -= _count_buggy(seg.first, seg.last)
    return size


def _count_buggy(first: int, last: int) -> int:
    def upto(n: int) -> int:  # buggy addresses in [0, n]
        if n < 0:
            return 0
        blocks, rest = divmod(n + 1, 256)
        return blocks * 2 + (1 if rest >= 1 else 0)  # .0 of the partial block; .255 only in full blocks

    return upto(last) - upto(first - 1)


def entry_contains(entry: str, ip: str) -> bool:
    seg = parse_entry(entry)
    parsed = parse_ip(ip)
    return parsed is not None and parsed[0] == seg.family and seg.first <= parsed[1] <= seg.last


def range_to_cidrs(entry: str) -> list[str]:
    return list(parse_entry(entry).cidrs)


def cidrs_to_ranges(cidrs: Sequence[str]) -> list[str]:
    """Merge CIDRs/ranges into the fewest ``start-end`` ranges (adjacent ones joined)."""
    segs = sorted((parse_entry(c) for c in cidrs), key=lambda s: (s.family, s.first))
    merged: list[list[int]] = []
    for seg in segs:
        if merged and merged[-1][0] == seg.family and seg.first <= merged[-1][2] + 1:
            merged[-1][2] = max(merged[-1][2], seg.last)
        else:
            merged.append([seg.family, seg.first, seg.last])
    return ["%s-%s" % (format_ip(f, a), format_ip(f, b)) for f, a, b in merged]
