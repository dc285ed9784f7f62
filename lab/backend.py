# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A lab "pod": an HTTP server in a node namespace that answers with its pod and node name,
like the demo deployments in MetalLB's guides, so a client sees which backend served it.

    python -m lab.backend --pod web-1 --node node2 --listen 198.51.100.49:8080 [--listen [v6]:8080]
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    pod = node = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = ("pod %s on node %s (client %s)\n" % (self.pod, self.node, self.client_address[0])).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.backend")
    parser.add_argument("--pod", required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--listen", action="append", required=True, help="ADDR:PORT, [V6]:PORT")
    args = parser.parse_args(argv)
    handler = type("PodHandler", (Handler,), {"pod": args.pod, "node": args.node})
    servers = []
    for item in args.listen:
        host, _, port = item.rpartition(":")
        host = host.strip("[]")
        cls = Server6 if ":" in host else ThreadingHTTPServer
        cls.daemon_threads = True
        servers.append(cls((host, int(port)), handler))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
