# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start ``bin/metal-lb speaker`` as a separate process, as the roles and the lab run it.

Raw-socket answering is always off here (``--no-layer2-responder``): these tests run in the host's
network namespace and must not put a frame on any host interface. Membership runs on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import socket
import urllib.request
import uuid

from daemon_process import METAL_LB, DaemonProcess

__all__ = ["METAL_LB", "SpeakerProcess", "free_port"]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port the kernel just handed out on 127.0.0.1 (UDP for membership, TCP for metrics)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SpeakerProcess(DaemonProcess):
    """One speaker."""

    def __init__(self, workdir: str, kubeconfig: str, namespace: str, node: str, key_file: str,
                 membership_port: int, *extra: str, metrics_port: int = 0, lb_class: str = "") -> None:
        self.node = node
        self.metrics_port = metrics_port
        self.status_file = os.path.join(workdir, "speaker-%s-%s.json" % (node, uuid.uuid4().hex[:6]))
        args = ["speaker", "--node", node, "--kubeconfig", kubeconfig,
                "--namespace", namespace, "--membership-bind", "127.0.0.1:%d" % membership_port,
                "--membership-key-file", key_file, "--membership-stable-period", "0.5",
                "--metrics-port", str(metrics_port), "--metrics-address", "127.0.0.1",
                "--no-layer2-responder", "--status-file", self.status_file, "--log-level", "debug",
                # these speakers run in the host's network namespace: never an FRR speaking BGP from there
                "--no-bgp"]
        if lb_class:
            args += ["--lb-class", lb_class]
        super().__init__(workdir, "speaker-%s" % node, [*args, *extra])

    def status(self) -> dict | None:
        """The speaker's status file (what metal.lb.announce reads), None if not written yet."""
        try:
            with open(self.status_file, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None

    def announced(self) -> set[str]:
        status = self.status() or {}
        return set(status.get("announced") or {})

    def metrics(self) -> str:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.metrics_port, timeout=5) as resp:
            return resp.read().decode("utf-8")
