# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe a VIP from the client namespace: an ARP request (or nothing, for IPv6) and a TCP connect
every ``--interval`` seconds, until SIGTERM or ``--seconds``; then one JSON document on stdout:
``{"arp": [[t, mac], ...], "tcp": [[t, ok], ...]}`` with ``t`` on CLOCK_MONOTONIC (shared by
all network namespaces, so the caller can line it up with what it did).

ARP goes out on a raw socket (hand-written frame: no library sends one ARP request and hands back
the raw reply) so every probe really asks the network; the kernel's neighbour cache is left to
the TCP probe, which therefore sees what an ordinary client sees.

    python -m lab.probe --vip 198.51.100.200 --port 80 --interval 0.01 --seconds 30
"""

from __future__ import annotations

import argparse
import fcntl
import ipaddress
import json
import signal
import socket
import struct
import sys
import threading
import time

ETH_P_ARP = 0x0806
SIOCGIFHWADDR = 0x8927


def interface_mac(sock: socket.socket, iface: str) -> bytes:
    info = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, struct.pack("256s", iface.encode()[:15]))
    return info[18:24]


def arp_request(src_mac: bytes, src_ip: bytes, target_ip: bytes) -> bytes:
    eth = b"\xff" * 6 + src_mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + src_mac + src_ip + b"\x00" * 6 + target_ip
    return eth + arp


def parse_arp_reply(frame: bytes, my_ip: bytes, vip: bytes) -> str | None:
    """Sender MAC of an ARP reply for ``vip`` addressed to us (gratuitous packets are not answers)."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    op = struct.unpack("!H", frame[20:22])[0]
    if op != 2 or frame[28:32] != vip or frame[38:42] != my_ip:
        return None
    return ":".join("%02x" % b for b in frame[22:28])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.probe")
    parser.add_argument("--vip", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--iface", default="eth0")
    parser.add_argument("--source", required=True, help="our IPv4 address (ARP sender)")
    parser.add_argument("--interval", type=float, default=0.01)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--connect-timeout", type=float, default=0.1)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    deadline = time.monotonic() + min(args.seconds, 600.0)
    arp_seen: list = []
    tcp_seen: list = []
    v6 = ipaddress.ip_address(args.vip).version == 6

    def arp_loop() -> None:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        sock.bind((args.iface, 0))
        sock.settimeout(0.005)
        mac = interface_mac(sock, args.iface)
        my_ip, vip = socket.inet_aton(args.source), socket.inet_aton(args.vip)
        frame = arp_request(mac, my_ip, vip)
        next_send = 0.0
        while not stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_send:
                sock.send(frame)
                next_send = now + args.interval
            try:
                data = sock.recv(2048)
            except (TimeoutError, socket.timeout):
                continue
            sender = parse_arp_reply(data, my_ip, vip)
            if sender:
                arp_seen.append((time.monotonic(), sender))
        sock.close()

    def tcp_loop() -> None:
        family = socket.AF_INET6 if v6 else socket.AF_INET
        while not stop.is_set() and time.monotonic() < deadline:
            start = time.monotonic()
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(args.connect_timeout)
            try:
                sock.connect((args.vip, args.port))
                ok = True
            except OSError:
                ok = False
            finally:
                sock.close()
            tcp_seen.append((start, ok))
            rest = args.interval - (time.monotonic() - start)
            if rest > 0:
                stop.wait(rest)

    threads = [threading.Thread(target=tcp_loop, daemon=True)]
    if not v6:
        threads.append(threading.Thread(target=arp_loop, daemon=True))
    for thread in threads:
        thread.start()
    print("READY", file=sys.stderr, flush=True)
    while not stop.is_set() and time.monotonic() < deadline:
        stop.wait(0.05)
    stop.set()
    for thread in threads:
        thread.join(2)
    json.dump({"arp": arp_seen, "tcp": tcp_seen}, sys.stdout)
    sys.stdout.flush()
    return 0


def outage(samples: list, event: float, ok, recovered=None) -> tuple[float | None, float | None]:
    """The outage window around ``event`` in probe ``samples`` ([(t, value)]): the longest gap
    between consecutive ``ok`` samples from the last one before ``event`` up to the first sample
    after ``event`` for which ``recovered`` holds (default: ``ok``). Returns (gap seconds,
    recovery time) or (None, None) when it never recovered. Pure; used by the demo, the tests
    (as a figure, never asserted) and benchmarks/failover.py."""
    recovered = recovered or ok
    good = sorted((t, v) for t, v in samples if ok(v))
    before = [t for t, _ in good if t <= event]
    prev = before[-1] if before else event
    longest = 0.0
    for t, v in good:
        if t <= event:
            continue
        longest = max(longest, t - prev)
        prev = t
        if recovered(v):
            return longest, t
    return None, None


if __name__ == "__main__":
    sys.exit(main())
