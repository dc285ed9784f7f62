# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""vtysh of one FRR pathspace: apply a batch of configuration commands, read JSON and the running
configuration.

What only bgpd needs (router, route-map and prefix-list blocks: nearly every batch) goes through one
persistent session to bgpd's vty socket, the socket vtysh itself talks to: a command and its status,
a fraction of a millisecond each, no process to start (a ``vtysh`` process costs 30-80 ms before its
first command, the better part of the time from a Service change to the router). Every command is
tried even after a failing one; a failing block opener (``router bgp``, ``route-map``,
``address-family``) skips its block, whose lines would land in the wrong node. The rest (``ip nht``,
``bfd``: the first batch and BFD changes) is written to a file and loaded with ``vtysh -f``, which
sends each command to the daemons that know it; the same is done when the socket cannot be reached.
Commands may hold BGP passwords: errors carry the command redacted.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ...engine.bgp.frr_config import redact
from ...engine.bgp.frr_diff import CONFIGURE, END

TIMEOUT = 60.0  # vtysh -f: a batch of thousands of prefixes takes seconds (FRR handles ~400 commands/s)
COMMAND_TIMEOUT = 30.0  # one command on the daemon's socket (removing a router with its routes takes a while)
RUN_ROOT = "/var/run/frr"
_LINE_ERROR = re.compile(r"^line (\d+): (.*)$")
_WARNINGS = ("% Echo mode works correctly",)  # bfdd's advice, not an error


@dataclass(frozen=True)
class CommandError:
    """One command FRR refused: ``command`` (indentation kept, password masked) and FRR's message.
    ``index``: its position in the batch given to ``apply`` (-1 when FRR did not say)."""

    index: int
    command: str
    message: str


class VtyshError(RuntimeError):
    """vtysh itself failed (not running, timed out): nothing of the batch is known to be applied."""


class DaemonSession:
    """A session on one FRR daemon's vty socket (vtysh's protocol: a command ends with NUL, the answer is
    the command's output then three NULs and its status byte)."""

    def __init__(self, path: str, timeout: float = COMMAND_TIMEOUT) -> None:
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.path)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        status, output = self.run("enable")  # a vtysh session starts in view mode
        if status != 0:
            self.close()
            raise OSError("%s: enable refused: %s" % (self.path, output.strip()))

    def run(self, command: str) -> tuple[int, str]:
        """(FRR's status, 0 = success; the command's output). OSError when the session broke."""
        if self._sock is None:
            raise OSError("%s: not connected" % self.path)
        try:
            self._sock.sendall(command.encode("utf-8") + b"\0")
            buf = bytearray()
            while len(buf) < 4 or buf[-4:-1] != b"\0\0\0":
                chunk = self._sock.recv(65536)
                if not chunk:
                    raise OSError("%s: the daemon closed the session" % self.path)
                buf += chunk
        except OSError:
            self.close()
            raise
        return buf[-1], buf[:-4].decode("utf-8", "replace")

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
            self._sock = None


class Vtysh:
    """``socket_dir``: where the pathspace's daemons have their vty sockets ("" : always ``vtysh -f``)."""

    def __init__(self, pathspace: str, *, runner: Callable[..., subprocess.CompletedProcess] = subprocess.run,
                 tmp_dir: str | None = None, timeout: float = TIMEOUT, socket_dir: str | None = None) -> None:
        self.pathspace = pathspace
        self._run = runner
        self.tmp_dir = tmp_dir
        self.timeout = timeout
        self.batches = 0
        socket_dir = os.path.join(RUN_ROOT, pathspace) if socket_dir is None else socket_dir
        self._bgpd = DaemonSession(os.path.join(socket_dir, "bgpd.vty")) if socket_dir else None

    def _vtysh(self, args: Sequence[str], timeout: float | None = None) -> subprocess.CompletedProcess:
        argv = ["vtysh", "-N", self.pathspace, *args]
        try:
            return self._run(argv, capture_output=True, text=True, timeout=timeout or self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise VtyshError("vtysh %s: %s" % (" ".join(args[:1]), exc)) from None

    def apply(self, commands: Sequence[str]) -> list[CommandError]:
        """Load ``commands`` (``frr_diff.diff``'s batch, with or without its ``configure terminal``
        … ``end``); the commands FRR refused. VtyshError when vtysh could not run at all.

        vtysh sends prefix-lists and route-maps to every daemon, and each of zebra, bgpd and bfdd
        spends milliseconds per line on them; only bgpd uses ours. Consecutive blocks only bgpd
        needs go to bgpd alone (its socket, or ``vtysh -d bgpd``), the others (``ip nht``, ``bfd``)
        to every daemon, in the batch's order."""
        errors: list[CommandError] = []
        for target, positions in runs(commands):
            lines = [commands[i] for i in positions]
            if target == "bgpd" and self._bgpd is not None and self._session_ready():
                errors += self._send(lines, positions)
            else:
                errors += self._load(lines, positions, target)
        return errors

    def _session_ready(self) -> bool:
        """The bgpd session is up, or can be (re)opened now (a restarted bgpd has a new socket)."""
        if self._bgpd.connected:
            return True
        try:
            self._bgpd.connect()
        except OSError:
            return False  # vtysh -f does the batch; the next one tries the socket again
        return True

    def _send(self, lines: list[str], positions: list[int]) -> list[CommandError]:
        """``lines`` on the bgpd session, in ``configure terminal`` … ``end``. VtyshError when the
        session breaks (what was sent before stays applied: the caller reads FRR back)."""
        errors: list[CommandError] = []
        skip_deeper = -1  # the indentation under a refused block opener: its lines are skipped
        try:
            try:
                status, output = self._bgpd.run(CONFIGURE)
            except OSError:  # bgpd restarted since the last batch: nothing sent yet, a new session
                status, output = 1, ""
            if status != 0:  # (or one left in a stale node): start over once
                self._bgpd.close()
                self._bgpd.connect()
                status, output = self._bgpd.run(CONFIGURE)
                if status != 0:
                    raise VtyshError("bgpd: configure terminal refused: %s" % output.strip())
            for i, line in enumerate(lines):
                indent = len(line) - len(line.lstrip(" "))
                if skip_deeper >= 0:
                    if indent >= skip_deeper:
                        continue
                    skip_deeper = -1
                    if line.strip() in ("exit", "exit-address-family"):
                        continue  # the refused block's own end
                status, output = self._bgpd.run(line.strip())
                if status != 0:
                    errors.append(CommandError(positions[i], redact(line), redact(_message(output, line))))
                    following = lines[i + 1] if i + 1 < len(lines) else ""
                    if len(following) - len(following.lstrip(" ")) > indent:
                        skip_deeper = indent + 1
            self._bgpd.run(END)
        except OSError as exc:
            raise VtyshError("bgpd session (%s): %s" % (self._bgpd.path, exc)) from None
        self.batches += 1
        return errors

    def _load(self, lines: list[str], positions: list[int], target: str) -> list[CommandError]:
        fd, path = tempfile.mkstemp(prefix="metal-lb-", suffix=".conf", dir=self.tmp_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                os.fchmod(handle.fileno(), 0o600)  # passwords
                handle.write("\n".join(lines) + "\n")
            done = self._vtysh([*(("-d", target) if target else ()), "-f", path])
        finally:
            try:
                os.unlink(path)
            except OSError:
                pass
        self.batches += 1
        errors = parse_errors(lines, done.returncode, (done.stdout or "") + (done.stderr or ""))
        # positions in the caller's batch
        return [replace(e, index=positions[e.index]) if 0 <= e.index < len(positions) else e for e in errors]

    def execute(self, commands: Sequence[str], timeout: float = 10.0) -> list[str]:
        """Run exec-mode ``commands`` (``clear bgp ... soft out``) in one vtysh; FRR's error lines."""
        if not commands:
            return []
        args: list[str] = []
        for command in commands:
            args += ["-c", command]
        done = self._vtysh(args, timeout=timeout)
        errors = [line.strip() for line in ((done.stdout or "") + (done.stderr or "")).splitlines()
                  if line.strip().startswith("%")]
        if done.returncode != 0 and not errors:
            errors.append("vtysh exited with status %d" % done.returncode)
        return errors

    def show_json(self, command: str, timeout: float = 10.0):
        """``command`` (a ``show ... json``) parsed; VtyshError when FRR does not answer."""
        done = self._vtysh(["-c", command], timeout=timeout)
        if done.returncode != 0:
            raise VtyshError("vtysh -c %r: exit %d: %s" % (command, done.returncode, (done.stderr or "").strip()))
        try:
            return json.loads(done.stdout or "{}")
        except ValueError as exc:
            raise VtyshError("vtysh -c %r: not JSON: %s" % (command, exc)) from None

    def running_config(self, timeout: float = 20.0) -> str:
        done = self._vtysh(["-c", "show running-config"], timeout=timeout)
        if done.returncode != 0:
            raise VtyshError("show running-config: exit %d: %s" % (done.returncode, (done.stderr or "").strip()))
        return done.stdout or ""

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once every daemon answers vtysh (a started instance takes a moment)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._vtysh(["-c", "show daemons"], timeout=5).returncode == 0:
                    return True
            except VtyshError:
                pass
            time.sleep(0.05)
        return False


BGPD_ONLY = ("router bgp ", "no router bgp ", "route-map ", "no route-map ", "ip prefix-list ", "ipv6 prefix-list ",
             "no ip prefix-list ", "no ipv6 prefix-list ")


def runs(commands: Sequence[str]) -> list[tuple[str, list[int]]]:
    """The batch cut into consecutive runs by the daemon they go to: (``bgpd`` or "" for every
    daemon, positions in ``commands``). A block (a top-level line and the indented lines and
    ``exit`` under it) stays whole."""
    out: list[tuple[str, list[int]]] = []
    target = ""
    for i, line in enumerate(commands):
        if line in (CONFIGURE, END):
            continue
        if line and not line.startswith(" ") and line != "exit":
            target = "bgpd" if line.startswith(BGPD_ONLY) else ""
        if out and out[-1][0] == target:
            out[-1][1].append(i)
        else:
            out.append((target, [i]))
    return out


def _message(output: str, line: str) -> str:
    """FRR's words for a refused command (its own echo of the command dropped)."""
    words = [text.strip() for text in output.splitlines() if text.strip() and not text.strip().startswith(_WARNINGS)]
    message = "; ".join(words) or "refused"
    command = line.strip()
    if command and message.endswith(command):
        message = message[: -len(command)].rstrip(" :")
    return message


def parse_errors(lines: Sequence[str], returncode: int, output: str) -> list[CommandError]:
    """vtysh -f's answer → the refused commands. vtysh prints ``line N: % message[code]: command``
    for each; an error without a line number (or a failing exit with no message) is reported as
    one error for the batch."""
    errors: list[CommandError] = []
    loose: list[str] = []
    for raw in output.splitlines():
        text = raw.strip()
        if not text or text.startswith(_WARNINGS):
            continue
        match = _LINE_ERROR.match(text)
        if match:
            index = int(match.group(1)) - 1
            message = match.group(2)
            command = lines[index] if 0 <= index < len(lines) else ""
            # FRR repeats the command after the message: keep only FRR's words
            if command and message.endswith(command.strip()):
                message = message[: -len(command.strip())].rstrip(" :")
            message = re.sub(r"\[\d+\]$", "", message).strip()
            errors.append(CommandError(index, redact(command), redact(message)))
        elif text.startswith("%"):
            loose.append(redact(text))
    if loose:
        errors.append(CommandError(-1, "", "; ".join(loose)))
    if returncode != 0 and not errors:
        errors.append(CommandError(-1, "", "vtysh exited with status %d" % returncode))
    return errors
