# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The membership wire format: one UDP datagram = one message, signed with HMAC-SHA256.

Hand-written on purpose: no maintained library covers this exact need (the SWIM libraries we
evaluated either pickle their packets or do not expose a format we can sign with a key file;
see docs/dev/membership-evaluation.md), and the format is small enough to read in one sitting.

Layout, version 1 (all integers big-endian)::

    0   2  magic b"ML"
    2   1  version (1)
    3   1  kind (Kind)
    4   1  flags (FLAG_*)
    5   8  cluster id: sha256(cluster name)[:8]
    13  8  sender incarnation (ms since the epoch when it started; raised on refutation)
    21  8  sequence number (per sender process, +1 per datagram: the replay window)
    29  8  sent at, ms since the epoch (reported as the sender's clock offset; never checked)
    37  1  sender name length n (1..253), then n bytes of UTF-8 name
    ..     body, by kind:
             HEARTBEAT  8-byte digest of the sender's view
             DOWN       subject name (1-byte length + UTF-8), subject incarnation (8)
             SYNC       count (2), then per entry: name (1 + n), incarnation (8),
                        state (1; bit 7 = provisional), age in ms (4)
             ALIVE, LEAVE, SYNC_REQ: empty
    -32 32 HMAC-SHA256(key, every byte before it)

``decode`` never raises anything but ``DecodeError``, whose ``reason`` names the counter that the
transport increments; the MAC is checked before any field after the fixed header is trusted.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

MAGIC = b"ML"
VERSION = 1
MAC_SIZE = 32
MAX_NAME = 253
# Keep every datagram below a 1500-byte MTU with IPv6 and UDP headers: no IP fragmentation.
MAX_DATAGRAM = 1400

FLAG_REJOIN = 0x01  # ALIVE: "I was out or am new; restart my stable period"
FLAG_CONFIRMED = 0x02  # DOWN: "I hold you DOWN" (a notice to the subject), not an accusation

_HEADER = struct.Struct("!2sBBB8sQQQB")
_U64 = struct.Struct("!Q")
_U16 = struct.Struct("!H")
_ENTRY_TAIL = struct.Struct("!QBI")
_PROVISIONAL = 0x80
_MAX_AGE_MS = 0xFFFFFFFF


class Kind(enum.IntEnum):
    HEARTBEAT = 1
    ALIVE = 2
    DOWN = 3
    LEAVE = 4
    SYNC_REQ = 5
    SYNC = 6


class State(enum.IntEnum):
    """A member's state in one node's view (also on the wire, in SYNC entries)."""

    UNKNOWN = 0
    UP = 1
    DOWN = 2
    LEFT = 3


class DecodeError(ValueError):
    """A datagram that is not a valid message; ``reason`` is the drop counter's label."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """One member's state as the sender of a SYNC sees it; ``age_ms`` = time in this state."""

    name: str
    incarnation: int
    state: State
    age_ms: int
    provisional: bool = False


@dataclass(frozen=True)
class Message:
    """A decoded datagram. ``seq`` and ``sent_ms`` are stamped by the transport when sending."""

    kind: Kind
    sender: str
    incarnation: int
    seq: int = 0
    sent_ms: int = 0
    flags: int = 0
    digest: bytes = b"\0" * 8
    subject: str = ""
    subject_incarnation: int = 0
    entries: tuple[Entry, ...] = ()


def cluster_id(name: str) -> bytes:
    """8 bytes that tell clusters sharing a key (or a LAN) apart."""
    return hashlib.sha256(name.encode("utf-8")).digest()[:8]


def _name_bytes(name: str) -> bytes:
    raw = name.encode("utf-8")
    if not 1 <= len(raw) <= MAX_NAME:
        raise ValueError(f"member name {name!r} must be 1..{MAX_NAME} bytes of UTF-8")
    return bytes([len(raw)]) + raw


def _entry_bytes(entry: Entry) -> bytes:
    state = int(entry.state) | (_PROVISIONAL if entry.provisional else 0)
    age = min(max(int(entry.age_ms), 0), _MAX_AGE_MS)
    return _name_bytes(entry.name) + _ENTRY_TAIL.pack(entry.incarnation, state, age)


def encode(msg: Message, key: bytes, cluster: bytes) -> bytes:
    """Serialise and sign ``msg`` with ``key`` for the cluster whose id is ``cluster``."""
    parts = [
        _HEADER.pack(MAGIC, VERSION, int(msg.kind), msg.flags, cluster, msg.incarnation, msg.seq,
                     msg.sent_ms, 0)[:-1],
        _name_bytes(msg.sender),
    ]
    if msg.kind == Kind.HEARTBEAT:
        if len(msg.digest) != 8:
            raise ValueError("heartbeat digest must be 8 bytes")
        parts.append(msg.digest)
    elif msg.kind == Kind.DOWN:
        parts.append(_name_bytes(msg.subject) + _U64.pack(msg.subject_incarnation))
    elif msg.kind == Kind.SYNC:
        parts.append(_U16.pack(len(msg.entries)))
        parts.extend(_entry_bytes(e) for e in msg.entries)
    body = b"".join(parts)
    return body + hmac.digest(key, body, "sha256")


def sync_messages(sender: str, incarnation: int, entries: Sequence[Entry]) -> list[Message]:
    """Split a view into SYNC messages that each fit in ``MAX_DATAGRAM`` once encoded."""
    fixed = _HEADER.size + len(_name_bytes(sender)) + _U16.size + MAC_SIZE
    pages: list[list[Entry]] = [[]]
    size = fixed
    for entry in entries:
        n = len(_entry_bytes(entry))
        if pages[-1] and size + n > MAX_DATAGRAM:
            pages.append([])
            size = fixed
        pages[-1].append(entry)
        size += n
    return [Message(Kind.SYNC, sender, incarnation, entries=tuple(page)) for page in pages]


class _Reader:
    """Bounds-checked cursor; any overrun is a ``malformed`` datagram, never an IndexError."""

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.end:
            raise DecodeError("malformed")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def name(self) -> str:
        n = self.u8()
        if not 1 <= n <= MAX_NAME:
            raise DecodeError("malformed")
        try:
            return self.take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("malformed") from None


def _verify(data: bytes, keys: Sequence[bytes]) -> bool:
    body, mac = data[:-MAC_SIZE], data[-MAC_SIZE:]
    ok = False
    for key in keys:  # every key is tried, so timing does not tell which one matched
        ok |= hmac.compare_digest(hmac.digest(key, body, "sha256"), mac)
    return ok


def decode(data: bytes, keys: Sequence[bytes], cluster: bytes) -> Message:
    """Verify and parse one datagram; raise ``DecodeError`` for anything else.

    ``keys`` may hold several keys (rotation): a datagram signed with any of them is accepted.
    """
    if len(data) < _HEADER.size + 1 + MAC_SIZE:
        raise DecodeError("truncated")
    if len(data) > 65535:
        raise DecodeError("malformed")
    magic, version, kind, flags, cid, inc, seq, sent, _unused = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise DecodeError("bad_magic")
    if version != VERSION:
        raise DecodeError("bad_version")
    if not _verify(data, keys):
        raise DecodeError("bad_mac")
    if cid != cluster:
        raise DecodeError("wrong_cluster")
    try:
        kind = Kind(kind)
    except ValueError:
        raise DecodeError("malformed") from None
    r = _Reader(data, _HEADER.size - 1, len(data) - MAC_SIZE)
    sender = r.name()
    fields: dict = {}
    if kind == Kind.HEARTBEAT:
        fields["digest"] = r.take(8)
    elif kind == Kind.DOWN:
        fields["subject"] = r.name()
        fields["subject_incarnation"] = r.u64()
    elif kind == Kind.SYNC:
        count = _U16.unpack(r.take(2))[0]
        entries = []
        for _index in range(count):
            name = r.name()
            e_inc, state, age = _ENTRY_TAIL.unpack(r.take(_ENTRY_TAIL.size))
            try:
                st = State(state & ~_PROVISIONAL)
            except ValueError:
                raise DecodeError("malformed") from None
            entries.append(Entry(name, e_inc, st, age, bool(state & _PROVISIONAL)))
        fields["entries"] = tuple(entries)
    if r.pos != r.end:
        raise DecodeError("malformed")
    return Message(kind, sender, inc, seq, sent, flags, **fields)
