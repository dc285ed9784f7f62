# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start ``bin/metal-lb speaker`` as a separate process, as the roles and the lab run it.

Raw-socket answering is always off here (``--no-layer2-responder``): these tests run in the host's
network namespace and must not put a frame on any host interface. Membership runs on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
METAL_LB = os.path.join(REPO, "bin", "metal-lb")


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port the kernel just handed out on 127.0.0.1 (UDP for membership, TCP for metrics)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SpeakerProcess:
    """One speaker; stop()/kill() act only on its own PID."""

    def __init__(self, workdir: str, kubeconfig: str, namespace: str, node: str, key_file: str,
                 membership_port: int, *extra: str, metrics_port: int = 0, lb_class: str = "") -> None:
        self.node = node
        self.metrics_port = metrics_port
        tag = uuid.uuid4().hex[:6]
        self.log_path = os.path.join(workdir, "speaker-%s-%s.log" % (node, tag))
        self.status_file = os.path.join(workdir, "speaker-%s-%s.json" % (node, tag))
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        args = [sys.executable, METAL_LB, "speaker", "--node", node, "--kubeconfig", kubeconfig,
                "--namespace", namespace, "--membership-bind", "127.0.0.1:%d" % membership_port,
                "--membership-key-file", key_file, "--membership-stable-period", "0.5",
                "--metrics-port", str(metrics_port), "--metrics-address", "127.0.0.1",
                "--no-layer2-responder", "--status-file", self.status_file, "--log-level", "debug"]
        if lb_class:
            args += ["--lb-class", lb_class]
        self.proc = subprocess.Popen([*args, *extra], stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8") as handle:
                return handle.read()[-6000:]
        except OSError:
            return ""

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

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill(self) -> None:
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._log.closed:
            self._log.close()
        return self.proc.returncode
