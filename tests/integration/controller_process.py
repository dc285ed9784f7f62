# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start ``bin/metal-lb controller`` as a separate process, exactly as the roles will run it."""

from __future__ import annotations

from daemon_process import DaemonProcess, wait_for

__all__ = ["ControllerProcess", "wait_for"]


class ControllerProcess(DaemonProcess):
    """One controller replica."""

    def __init__(self, workdir: str, kubeconfig: str, namespace: str, lb_class: str = "",
                 *extra: str) -> None:
        # The session's own controller serves the webhooks (conftest.py); this one only assigns.
        args = ["controller", "--kubeconfig", kubeconfig, "--namespace", namespace, "--metrics-port", "0",
                "--log-level", "debug", "--webhook-mode", "disabled"]
        if lb_class:
            args += ["--lb-class", lb_class]
        super().__init__(workdir, "controller", [*args, *extra])
