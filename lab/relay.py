# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TCP relay from host loopback into the lab's apiserver namespace.

Started in the host's namespace: opens ``--host-listen`` (127.0.0.1 only) there, then enters
``--netns`` (the apiserver namespace), opens any ``--listen`` addresses there and forwards every
connection to ``--target`` (the API server's port inside that namespace). So the lab driver reaches
the API server on host loopback while nothing listens on the host's real network. A socket stays in
the namespace it was created in; that is the whole trick.

    python -m lab.relay --netns /run/netns/NS --target 127.0.0.1:6443 \\
        [--host-listen 127.0.0.1:0] [--listen ADDR:PORT ...]      (prints "READY <host port>")
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def enter_netns(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns %s" % path)
    finally:
        os.close(fd)


def split(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def listener(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128)
    return sock


def pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(sock: socket.socket, target: tuple[str, int]) -> None:
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(target, timeout=5)
            upstream.settimeout(None)
        except OSError:
            conn.close()  # API down: the client sees a reset, as with a stopped API server
            continue
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=pump, args=(a, b), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.relay")
    parser.add_argument("--netns", required=True)
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--target", required=True)
    parser.add_argument("--host-listen")
    args = parser.parse_args(argv)
    socks = []
    if args.host_listen:
        host_addr = split(args.host_listen)
        if host_addr[0] not in ("127.0.0.1", "::1"):
            parser.error("--host-listen must be on loopback")
        socks.append(listener(host_addr))
    enter_netns(args.netns)
    socks += [listener(split(item)) for item in args.listen]
    target = split(args.target)
    for sock in socks:
        threading.Thread(target=serve, args=(sock, target), daemon=True).start()
    print("READY %d" % (socks[0].getsockname()[1] if args.host_listen else 0), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
