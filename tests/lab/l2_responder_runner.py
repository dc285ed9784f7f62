# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab helper, run inside a namespace with ``ip netns exec``:

  respond  run the layer-2 responder announcing --announce IP[@IFACE,...] until SIGTERM (or
           --seconds); prints ``READY <json>`` once its sockets are open; SIGUSR1 writes the
           counters to --status; exits 3 with one line on stderr without CAP_NET_RAW.
           With --objects FILE --node NAME [--members a,b] it leads what the speaker on NAME
           would: ``layer2.election.elect_all`` over the Services' status IPs in FILE (JSON list).
  inject   send hostile / malformed ARP and NDP frames from a raw socket (bounded, seeded).

Not collected by pytest (not test_*.py). Needs the collection on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import os
import socket
import sys
import threading

from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2 import arp, ndp
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2.announcer import CounterMetrics
from ansible_collections.metal.lb.plugins.module_utils.engine.election import Balancer, elect_all
from ansible_collections.metal.lb.plugins.module_utils.adapters.layer2.responder import (
    RawSocketPermissionError,
    Responder,
)

MAX_SECONDS = 600


def elected(path: str, node: str, members: list[str] | None) -> dict[str, tuple[str, ...]]:
    """What the speaker on ``node`` leads, from a snapshot: the speaker's own election call."""
    with open(path) as fh:
        objects = json.load(fh)
    config = parse_config(objects, namespace="metallb-system").config
    balancers, nodes = [], {}
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == "Node":
            nodes[meta["name"]] = obj
        elif obj.get("kind") == "Service":
            ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
            ips = tuple(i["ip"] for i in ingress if i.get("ip"))
            if ips:
                balancers.append(Balancer("%s/%s" % (meta.get("namespace"), meta["name"]), obj, ips))
    slices = [o for o in objects if o.get("kind") == "EndpointSlice"]
    decisions = elect_all(config, balancers, nodes, slices, members, my_node=node)
    return {ip: d.interfaces for ip, d in decisions.items() if d.reason is None}


def respond(args) -> int:
    responder = Responder(
        metrics=CounterMetrics(), refresh_interval=args.refresh, rescan_interval=args.rescan
    )
    stop = threading.Event()

    def status(*_):
        data = dict(responder.status(), unannounceable=responder.unannounceable())
        if args.status:
            with open(args.status + ".tmp", "w") as fh:
                json.dump(data, fh)
            os.replace(args.status + ".tmp", args.status)
        return data

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, status)
    try:
        responder.start()
    except RawSocketPermissionError as exc:
        print(exc, file=sys.stderr)
        return 3
    leading = {}
    for item in args.announce:
        ip, _at, ifaces = item.partition("@")
        leading[ip] = [i for i in ifaces.split(",") if i]
    if args.objects:
        members = None if args.members is None else [m for m in args.members.split(",") if m]
        leading.update(elected(args.objects, args.node, members))
    responder.set_leading(leading)
    print("READY " + json.dumps(responder.interfaces()), flush=True)
    stop.wait(min(args.seconds, MAX_SECONDS))
    responder.stop()
    status()
    return 0


def hostile_frames(
    src_mac: bytes, src_ip: bytes, src_ll: bytes, vip: bytes, vip6: bytes, seed: int, fuzz: int
) -> list[bytes]:
    """Frames the responder must drop without answering; all sourced from ``src_mac``."""
    request = arp.build_frame(arp.BROADCAST_MAC, src_mac, arp.OP_REQUEST, src_mac, src_ip, bytes(6), vip)
    frames = [request[:n] for n in range(14, arp.FRAME_LEN)]  # truncated
    for offset, value in (
        (14, b"\x00\x06"),
        (16, b"\x86\xdd"),
        (18, b"\x08"),
        (19, b"\x10"),
        (20, b"\x00\x03"),
    ):
        bad = bytearray(request)
        bad[offset : offset + len(value)] = value
        frames.append(bytes(bad))
    # well-formed but not for us: a reply, and a request unicast to someone else's MAC
    frames.append(arp.build_frame(arp.BROADCAST_MAC, src_mac, arp.OP_REPLY, src_mac, vip, bytes(6), vip))
    frames.append(
        arp.build_frame(b"\x02\xee\xee\xee\xee\xee", src_mac, arp.OP_REQUEST, src_mac, src_ip, bytes(6), vip)
    )
    ns = ndp.build_solicitation(src_mac, src_ll, vip6, src_mac)
    frames.append(ndp.build_solicitation(src_mac, src_ll, vip6, src_mac, hop_limit=64))
    frames.append(ndp.build_solicitation(src_mac, src_ll, vip6))  # no source link-layer option
    frames.append(ndp.build_solicitation(src_mac, bytes(16), vip6, src_mac))  # :: with lladdr
    frames.append(ndp.build_solicitation(src_mac, src_ll, ndp.ALL_NODES, src_mac))  # multicast target
    bad = bytearray(ns)
    bad[57] ^= 0xFF  # checksum
    frames.append(bytes(bad))
    bad = bytearray(ns)
    bad[79] = 0  # zero-length option
    frames.append(bytes(bad))
    frames.extend(ns[:n] for n in range(54, len(ns), 3))  # truncated
    rng = random.Random(seed)
    for _frame in range(fuzz):
        kind = rng.randrange(3)
        if kind == 0:
            tail = bytes(rng.randrange(256) for _byte in range(rng.randrange(0, 60)))
            frames.append(arp.BROADCAST_MAC + src_mac + b"\x08\x06" + tail)
        elif kind == 1:  # an NS with random changes and a checksum that is certainly wrong
            body = bytearray(ns)
            for pos in rng.sample(
                [p for p in range(22, len(body)) if p not in (56, 57)], rng.randrange(1, 6)
            ):
                body[pos] ^= rng.randrange(1, 256)
            body[56:58] = b"\0\0"
            good = ndp.icmpv6_checksum(bytes(body[22:38]), bytes(body[38:54]), bytes(body[54:]))
            body[56:58] = (good ^ 0x5555).to_bytes(2, "big")
            frames.append(bytes(body))
        else:
            tail = bytes(rng.randrange(256) for _byte in range(rng.randrange(0, 120)))
            frames.append(ndp.solicited_node_mac(vip6) + src_mac + b"\x86\xdd" + tail)
    return frames


def inject(args) -> int:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    sock.bind((args.interface, 0))
    mac = sock.getsockname()[4][:6]
    frames = hostile_frames(
        mac,
        socket.inet_aton(args.src_ip),
        socket.inet_pton(socket.AF_INET6, args.src_ll),
        socket.inet_aton(args.vip),
        socket.inet_pton(socket.AF_INET6, args.vip6),
        args.seed,
        args.fuzz,
    )
    sent = 0
    for frame in frames:
        try:
            sock.send(frame if len(frame) >= 14 else frame + bytes(14 - len(frame)))
            sent += 1
        except OSError as exc:
            print("send failed: %s" % exc, file=sys.stderr)
    sock.close()
    print(json.dumps({"sent": sent}))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("respond")
    p.add_argument("--announce", action="append", default=[])
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--rescan", type=float, default=10.0)
    p.add_argument("--refresh", type=float, default=None)
    p.add_argument("--status")
    p.add_argument("--objects", help="JSON list of objects to elect from (with --node)")
    p.add_argument("--node", help="this node's name, for --objects")
    p.add_argument("--members", default=None, help="live members, comma-separated (default: every Node)")
    p.add_argument("--debug", action="store_true")
    p = sub.add_parser("inject")
    p.add_argument("--interface", default="eth0")
    p.add_argument("--src-ip", required=True)
    p.add_argument("--src-ll", required=True)
    p.add_argument("--vip", required=True)
    p.add_argument("--vip6", required=True)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--fuzz", type=int, default=300)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "debug", False) else logging.WARNING, stream=sys.stderr
    )
    return respond(args) if args.cmd == "respond" else inject(args)


if __name__ == "__main__":
    sys.exit(main())
