# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.announce reports the node's BGP sessions from the speaker's status file: peer, state,
uptime, prefixes sent, BFD state."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.module_utils.shells.daemons import status_file
from ansible_collections.metal.lb.plugins.modules import announce as announce_module

STATUS = {"version": 1, "node": "n1", "pid": 0, "announced": {}, "bgp": {
    "enabled": True, "frr": {"pathspace": "metal-lb", "running": True, "error": ""},
    "sessions": [
        {"name": "tor1", "peer": "198.51.100.254", "vrf": "", "state": "Established", "established_epoch": 1000,
         "prefixes": ["198.51.100.10/32"], "prefixes_sent": 1, "updates_sent": 3, "bfd": "up"},
        {"name": "tor2", "peer": "198.51.100.253", "vrf": "red", "state": "Active", "established_epoch": 0,
         "prefixes": ["198.51.100.10/32"], "prefixes_sent": 0, "updates_sent": 0, "bfd": ""}],
    "announced": {"198.51.100.10": {"services": ["default/web"], "peers": ["tor1", "tor2"],
                                    "prefixes": ["198.51.100.10/32"]}},
    "errors": []}}


def test_sessions_with_uptime_computed_when_read():
    assert status_file.bgp_sessions(STATUS, now=1060) == [
        {"name": "tor1", "peer": "198.51.100.254", "vrf": "", "state": "Established", "uptime": 60,
         "prefixes_sent": 1, "prefixes": 1, "updates_sent": 3, "bfd": "up"},
        {"name": "tor2", "peer": "198.51.100.253", "vrf": "red", "state": "Active", "uptime": None,
         "prefixes_sent": 0, "prefixes": 1, "updates_sent": 0, "bfd": None}]
    assert status_file.bgp_sessions({"announced": {}}) == []


def test_the_module_reports_bgp_of_a_running_speaker(tmp_path, monkeypatch, capsys):
    path = tmp_path / "speaker-n1.json"
    status_file.write(str(path), STATUS)
    monkeypatch.setattr(announce_module, "speaker_running", lambda pid: True)
    with patch_module_args({"node": "n1", "status_file": str(path)}), pytest.raises(SystemExit):
        announce_module.main()
    result = json.loads(capsys.readouterr().out)
    bgp = result["bgp"]
    assert [s["name"] for s in bgp["sessions"]] == ["tor1", "tor2"]
    assert bgp["sessions"][0]["state"] == "Established" and bgp["sessions"][0]["uptime"] >= 0
    assert bgp["announced"]["198.51.100.10"]["peers"] == ["tor1", "tor2"]
    monkeypatch.setattr(announce_module, "speaker_running", lambda pid: False)
    with patch_module_args({"node": "n1", "status_file": str(path)}), pytest.raises(SystemExit):
        announce_module.main()
    assert json.loads(capsys.readouterr().out)["bgp"] == {}


def test_metal_lb_status_shows_the_node_sessions(tmp_path):
    from argparse import Namespace

    from ansible_collections.metal.lb.plugins.module_utils.shells import cli_status

    path = tmp_path / "speaker-{node}.json"
    status_file.write(str(tmp_path / "speaker-n1.json"), STATUS)
    sessions, why = cli_status.node_sessions(Namespace(node="n1", status_file=str(path)))
    assert why == "" and [s["state"] for s in sessions] == ["Established", "Active"]
    text = cli_status.format_sessions("n1", sessions)
    assert "tor1" in text and "198.51.100.253%red" in text and "bfd up" in text
    assert cli_status.node_sessions(Namespace(node="n2", status_file=str(path)))[0] is None
