# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A layer-2 responder runner started inside a lab host namespace, stopped by its PID."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import netlab


class ResponderProcess:
    """The runner in a host namespace; ``status()`` asks it (SIGUSR1) for its counters."""

    def __init__(self, lab: netlab.Lab, host: netlab.Host, announce: list[str], rescan: float, workdir: str):
        self.lab, self.host = lab, host
        self.status_path = os.path.join(workdir, "status-%s-%d.json" % (host.role, time.monotonic_ns()))
        argv = [
            sys.executable,
            str(netlab.L2_RUNNER),
            "respond",
            "--seconds",
            "300",
            "--rescan",
            str(rescan),
            "--status",
            self.status_path,
        ]
        for item in announce:
            argv += ["--announce", item]
        self.proc = lab.start(
            host, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=netlab.child_env()
        )
        self.interfaces = self._wait_ready(15.0)

    def _wait_ready(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = select.select([self.proc.stdout], [], [], max(0.0, deadline - time.monotonic()))[0]
            if not ready:
                break
            line = self.proc.stdout.readline()
            if not line:
                break
            if line.startswith("READY "):
                return json.loads(line[6:])
        self.lab.stop(self.proc)
        raise AssertionError(
            "responder did not start: %s" % (self.proc.stderr.read() if self.proc.stderr else "")
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def status(self, timeout: float = 5.0) -> dict:
        if os.path.exists(self.status_path):
            os.unlink(self.status_path)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.status_path):
                with open(self.status_path) as fh:
                    return json.load(fh)
            time.sleep(0.02)
        raise AssertionError("responder did not report its status")

    def stop(self) -> int | None:
        return self.lab.stop(self.proc)
