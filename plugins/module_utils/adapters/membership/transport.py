# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The membership UDP endpoint (asyncio): signs what it sends, verifies what it receives, and
counts every datagram it drops by reason, so hostile or broken traffic is visible in metrics and
never reaches the state machine. Also the two inputs a user can get wrong: ``--membership-bind``
and ``--membership-key-file``, each reported with one clear message.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence

from .messages import DecodeError, Message, decode, encode

LOG = logging.getLogger("metal_lb.membership")

DEFAULT_PORT = 7946
MIN_KEY_BYTES = 16
DROP_REASONS = ("truncated", "bad_magic", "bad_version", "bad_mac", "wrong_cluster", "malformed",
                "replay", "unknown_sender", "self", "internal")


class MembershipConfigError(ValueError):
    """A bad --membership-bind or key file; the message names the option and the value."""


def parse_bind(text: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``ADDR``, ``ADDR:PORT``, ``[V6]:PORT`` or ``V6`` -> (address, port)."""
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        close = value.find("]")
        if close < 0 or (len(value) > close + 1 and value[close + 1] != ":"):
            raise MembershipConfigError(f"--membership-bind {text!r}: expected [IPv6]:PORT")
        host, port_text = value[1:close], value[close + 2:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise MembershipConfigError(f"--membership-bind {text!r}: {host!r} is not an IP address") from None
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise MembershipConfigError(f"--membership-bind {text!r}: port must be 0..65535")
    return host, int(port_text)


def load_keys(path: str) -> tuple[bytes, ...]:
    """Keys from a file, one per line (first signs, all verify: rotation); '#' starts a comment.

    A key is used as given (e.g. base64 text of 32 random bytes) and must be at least 16 bytes.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise MembershipConfigError(f"--membership-key-file {path}: cannot read: {e.strerror}") from None
    keys = []
    for n, line in enumerate(raw.splitlines(), 1):
        key = line.strip()
        if not key or key.startswith(b"#"):
            continue
        if len(key) < MIN_KEY_BYTES:
            raise MembershipConfigError(
                f"--membership-key-file {path}: line {n}: key is {len(key)} bytes, need >= {MIN_KEY_BYTES}")
        keys.append(key)
    if not keys:
        raise MembershipConfigError(f"--membership-key-file {path}: no key in file")
    if os.name == "posix" and os.stat(path).st_mode & 0o004:
        LOG.warning("membership key file %s is world-readable", path)
    return tuple(keys)


MessageHandler = Callable[[Message, tuple], None]


class UdpEndpoint(asyncio.DatagramProtocol):
    """One bound UDP socket. ``on_message`` gets only authenticated messages of our cluster."""

    def __init__(self, keys: Sequence[bytes], cluster: bytes, on_message: MessageHandler,
                 wall: Callable[[], float] = time.time) -> None:
        if not keys:
            raise MembershipConfigError("membership needs at least one key")
        self.keys = tuple(keys)
        self.cluster = cluster
        self.on_message = on_message
        self.wall = wall  # stamps ``sent_ms``: informational, peers never check it
        self.transport: asyncio.DatagramTransport | None = None
        self.sent = 0
        self.received = 0
        self.send_errors = 0
        self.dropped: dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self._seq = 0
        self._closed: asyncio.Future | None = None

    @classmethod
    async def open(cls, bind: tuple[str, int], keys: Sequence[bytes], cluster: bytes,
                   on_message: MessageHandler, wall: Callable[[], float] = time.time) -> UdpEndpoint:
        loop = asyncio.get_running_loop()
        endpoint = cls(keys, cluster, on_message, wall)
        family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
        try:
            await loop.create_datagram_endpoint(lambda: endpoint, local_addr=bind, family=family)
        except OSError as e:
            raise MembershipConfigError(f"--membership-bind {bind[0]}:{bind[1]}: {e.strerror}") from None
        return endpoint

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)

    @property
    def address(self) -> tuple[str, int]:
        if self.transport is None:
            raise RuntimeError("membership transport: not bound yet")
        return self.transport.get_extra_info("sockname")[:2]

    def count_drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.received += 1
        try:
            msg = decode(data, self.keys, self.cluster)
        except DecodeError as e:
            self.count_drop(e.reason)
            return
        except Exception:  # never let one datagram take the daemon down
            LOG.exception("membership: unexpected error decoding a datagram from %s", addr)
            self.count_drop("internal")
            return
        try:
            self.on_message(msg, addr)
        except Exception:
            LOG.exception("membership: error handling %s from %s", msg.kind.name, msg.sender)
            self.count_drop("internal")

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable from a dead peer shows up here on Linux: expected, just count it.
        self.send_errors += 1

    def send(self, msg: Message, addr: tuple[str, int]) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._seq += 1
        stamped = dataclasses.replace(msg, seq=self._seq, sent_ms=int(self.wall() * 1000))
        try:
            self.transport.sendto(encode(stamped, self.keys[0], self.cluster), addr)
            self.sent += 1
        except (OSError, ValueError, struct.error) as e:  # never let one send stop the timers
            self.send_errors += 1
            LOG.debug("membership: cannot send %s to %s: %s", msg.kind.name, addr, e)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def wait_closed(self, timeout: float = 2.0) -> None:
        """Until the socket is really closed (asyncio closes it a loop iteration later), so the
        port can be bound again at once."""
        if self._closed is not None:
            await asyncio.wait({self._closed}, timeout=timeout)
