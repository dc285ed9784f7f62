# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hostile BGP peer: opens a TCP session to a node's bgpd and sends one malformed message, then
reports the NOTIFICATION it gets back (RFC 4271 section 4.5: error code, subcode).

The wire format is hand-written on purpose: no library covers crafting malformed BGP messages
(a BGP library refuses to build them). Run inside the peer's namespace:
``python bgp_hostile_peer.py CASE TARGET MY_ASN`` prints one JSON line."""

from __future__ import annotations

import ipaddress
import json
import socket
import struct
import sys
import time

MARKER = b"\xff" * 16
OPEN, UPDATE, NOTIFICATION, KEEPALIVE = 1, 2, 3, 4
AS_TRANS = 23456


def message(kind: int, body: bytes = b"", marker: bytes = MARKER) -> bytes:
    return marker + struct.pack("!HB", 19 + len(body), kind) + body


def capability(code: int, value: bytes) -> bytes:
    return struct.pack("!BB", code, len(value)) + value


def open_message(asn: int, router_id: str, hold: int = 90, version: int = 4, marker: bytes = MARKER) -> bytes:
    """OPEN with the IPv4 unicast (RFC 4760) and 4-octet AS (RFC 6793) capabilities."""
    caps = capability(1, struct.pack("!HBB", 1, 0, 1)) + capability(65, struct.pack("!I", asn))
    params = struct.pack("!BB", 2, len(caps)) + caps
    body = struct.pack("!BHH4sB", version, asn if asn < 65536 else AS_TRANS, hold,
                       ipaddress.IPv4Address(router_id).packed, len(params)) + params
    return message(OPEN, body, marker)


def update_withdrawn_overrun() -> bytes:
    """UPDATE whose Withdrawn Routes Length points past the message: Malformed Attribute List (3, 1)."""
    return message(UPDATE, struct.pack("!H", 200) + b"\x00" * 4)


def read_message(sock: socket.socket, deadline: float) -> tuple[int, bytes] | None:
    """(type, body) of the next message, None when the peer closed the connection."""
    header = _read(sock, 19, deadline)
    if header is None:
        return None
    length, kind = struct.unpack("!HB", header[16:19])
    body = _read(sock, length - 19, deadline) if length > 19 else b""
    return None if body is None else (kind, body)


def _read(sock: socket.socket, n: int, deadline: float) -> bytes | None:
    data = b""
    while len(data) < n:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


CASES = {
    "bad-marker": lambda asn, rid: [open_message(asn, rid, marker=b"\x00" * 16)],
    "bad-version": lambda asn, rid: [open_message(asn, rid, version=3)],
    "bad-hold-time": lambda asn, rid: [open_message(asn, rid, hold=2)],
    "bad-peer-as": lambda asn, rid: [open_message(asn + 1, rid)],
    "bad-update": lambda asn, rid: [open_message(asn, rid), message(KEEPALIVE), update_withdrawn_overrun()],
}


def run(case: str, target: str, asn: int, router_id: str, seconds: float = 15.0) -> dict:
    """Connect, send the case's messages (an UPDATE only once the session is Established), and read
    until a NOTIFICATION or the end of the connection, bounded by ``seconds``."""
    deadline = time.monotonic() + seconds
    messages = CASES[case](asn, router_id)
    seen: list[int] = []
    with socket.create_connection((target, 179), timeout=seconds) as sock:
        for msg in messages:
            if msg[18] == UPDATE:  # wait for the node's KEEPALIVE: Established
                while KEEPALIVE not in seen:
                    got = read_message(sock, deadline)
                    if got is None:
                        return {"closed": True, "seen": seen}
                    seen.append(got[0])
            sock.sendall(msg)
        while time.monotonic() < deadline:
            try:
                got = read_message(sock, deadline)
            except (ConnectionResetError, TimeoutError, socket.timeout):
                break
            if got is None:
                break
            seen.append(got[0])
            if got[0] == NOTIFICATION:
                return {"notification": list(got[1][:2]), "seen": seen}
    return {"notification": None, "seen": seen}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])))
