# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vtysh adapter's session on bgpd's vty socket, against a daemon that speaks vtysh's protocol
(a command ends with NUL; the answer is its output, three NULs and the status byte)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import threading

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.frr.vtysh import Vtysh, VtyshError

UNKNOWN = 2  # FRR's CMD_ERR_NO_MATCH


class FakeDaemon:
    """Serves bgpd.vty in ``directory``: records every command, refuses those ``refuse`` says."""

    def __init__(self, directory: str, refuse=lambda command: False, hang_up_after: int = -1) -> None:
        self.path = os.path.join(directory, "bgpd.vty")
        self.refuse = refuse
        self.hang_up_after = hang_up_after
        self.commands: list[str] = []
        self.connections = 0
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(4)
        self.server.settimeout(5)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for _session in range(4):  # bounded: a test opens a few sessions at most
            try:
                conn, _addr = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                buf = b""
                while True:
                    try:
                        chunk = conn.recv(4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    buf += chunk
                    hung_up = False
                    while b"\0" in buf:
                        raw, buf = buf.split(b"\0", 1)
                        command = raw.decode()
                        if len(self.commands) == self.hang_up_after:
                            hung_up, self.hang_up_after = True, -1  # once
                            break
                        self.commands.append(command)
                        if self.refuse(command):
                            conn.sendall(b"% Unknown command: " + raw + b"\n\0\0\0" + bytes([UNKNOWN]))
                        else:
                            conn.sendall(b"\0\0\0\0")
                    if hung_up:
                        break

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def tmp_dir():
    with tempfile.TemporaryDirectory(prefix="mlb-vty-") as path:
        yield path


def no_vtysh(*_args, **_kwargs):
    raise AssertionError("vtysh must not be started for bgpd's commands")


BATCH = ["configure terminal", "route-map class-1 permit 1", " set tag 1", "exit", "router bgp 64500",
         " address-family ipv4 unicast", "  network 198.51.100.10/32 route-map class-1", " exit-address-family",
         "exit", "end"]


def test_a_batch_for_bgpd_goes_through_its_socket_in_order(tmp_dir):
    daemon = FakeDaemon(tmp_dir)
    try:
        vtysh = Vtysh("node", socket_dir=tmp_dir, runner=no_vtysh)
        assert vtysh.apply(BATCH) == []
        assert vtysh.apply(BATCH[4:]) == []  # the session stays open
    finally:
        daemon.close()
    body = [c.strip() for c in BATCH[1:-1]]
    assert daemon.commands == ["enable", "configure terminal", *body, "end", "configure terminal",
                               *[c.strip() for c in BATCH[4:-1]], "end"]
    assert daemon.connections == 1


def test_a_refused_block_opener_skips_its_block_and_the_rest_is_applied(tmp_dir):
    daemon = FakeDaemon(tmp_dir, refuse=lambda c: c.startswith("route-map") or "password" in c)
    batch = ["configure terminal", "route-map class-1 permit 1", " set tag 1", "exit", "router bgp 64500",
             " neighbor 198.51.100.254 password s3cret", " neighbor 198.51.100.254 port 179", "exit", "end"]
    try:
        errors = Vtysh("node", socket_dir=tmp_dir, runner=no_vtysh).apply(batch)
    finally:
        daemon.close()
    assert "set tag 1" not in daemon.commands  # would have landed in the configuration node
    assert "neighbor 198.51.100.254 port 179" in daemon.commands
    assert [(e.index, e.command) for e in errors] == [(1, "route-map class-1 permit 1"),
                                                      (5, " neighbor 198.51.100.254 password ********")]
    assert errors[0].message == "% Unknown command" and "s3cret" not in repr(errors)


def test_a_session_that_breaks_is_an_error_and_the_next_batch_reconnects(tmp_dir):
    daemon = FakeDaemon(tmp_dir, hang_up_after=4)
    try:
        vtysh = Vtysh("node", socket_dir=tmp_dir, runner=no_vtysh)
        with pytest.raises(VtyshError):
            vtysh.apply(BATCH)
        assert vtysh.apply(BATCH[4:]) == []
    finally:
        daemon.close()
    assert daemon.connections == 2 and daemon.commands[-1] == "end"


def test_a_restarted_daemon_gets_the_next_batch_on_a_new_session(tmp_dir):
    first = len(["enable", *BATCH])  # the first batch's commands, then the session is dropped
    daemon = FakeDaemon(tmp_dir, hang_up_after=first)
    try:
        vtysh = Vtysh("node", socket_dir=tmp_dir, runner=no_vtysh)
        assert vtysh.apply(BATCH) == []
        assert vtysh.apply(BATCH) == []  # no error: nothing had been sent on the dead session
    finally:
        daemon.close()
    assert daemon.connections == 2
    assert daemon.commands[first:] == ["enable", "configure terminal", *[c.strip() for c in BATCH[1:-1]], "end"]


def test_without_the_socket_vtysh_loads_the_batch(tmp_dir):
    loaded = []

    def runner(argv, **_kwargs):
        with open(argv[argv.index("-f") + 1], encoding="utf-8") as handle:
            loaded.append((argv[:argv.index("-f")], handle.read().splitlines()))
        return subprocess.CompletedProcess(argv, 0, "", "")

    vtysh = Vtysh("node", socket_dir=tmp_dir, runner=runner)  # no daemon listens there
    assert vtysh.apply(BATCH) == []
    assert loaded == [(["vtysh", "-N", "node", "-d", "bgpd"], BATCH[1:-1])]
    # bfdd's and zebra's lines always go through vtysh, to the daemons that know them
    loaded.clear()
    assert vtysh.apply(["configure terminal", "ip nht resolve-via-default", "end"]) == []
    assert loaded == [(["vtysh", "-N", "node"], ["ip nht resolve-via-default"])]
