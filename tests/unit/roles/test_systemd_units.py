# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The systemd units the roles install, rendered from the roles' own template and variables: hardening,
capabilities, users and command lines of the controller and the speaker (layer 2 and BGP)."""

from __future__ import annotations

import shlex
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2.nativetypes import NativeEnvironment

ROLES = Path(__file__).resolve().parents[3] / "roles"
HARDENING = ("NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
             "RestrictSUIDSGID=yes", "ProtectKernelModules=yes")


def ansible_bool(value) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on", "y")


FILTERS = {"bool": ansible_bool, "ansible.builtin.quote": shlex.quote, "string": str}


def evaluate(expression, variables: dict):
    """A role variable's value: Jinja expressions evaluated as Ansible does (natively), lists recursively."""
    if isinstance(expression, list):
        return [evaluate(item, variables) for item in expression]
    if isinstance(expression, dict):
        return {key: evaluate(value, variables) for key, value in expression.items()}
    if not isinstance(expression, str) or "{{" not in expression:
        return expression
    env = NativeEnvironment(undefined=jinja2.StrictUndefined)
    env.filters.update(FILTERS)
    return env.from_string(expression.strip()).render(**variables)


def role_daemon_vars(role: str, facts: dict) -> dict:
    """The variables the role passes to metal.lb.daemon, over the daemon role's and its own defaults."""
    defaults = yaml.safe_load((ROLES / "daemon" / "defaults" / "main.yml").read_text())
    own = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    tasks = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    install = next(t for t in tasks if (t.get("ansible.builtin.include_role") or {}).get("name") == "metal.lb.daemon"
                   and "tasks_from" not in t["ansible.builtin.include_role"])
    variables = {"daemon_root": defaults["daemon_root"], "daemon_user": "metal-lb-%s" % role, "ansible_managed": "x",
                 "daemon_run_as_user": True, "daemon_capabilities": [], "daemon_runtime_directory": "",
                 "daemon_state_directory": "", "daemon_read_write_paths": [],
                 "daemon_address_families": defaults["daemon_address_families"],
                 "daemon_kill_mode": defaults["daemon_kill_mode"]}
    for key, value in own.items():
        if not isinstance(value, str) or "{{" not in value:
            variables[key] = value
    variables.update(facts)
    for key, value in own.items():  # defaults that only read inventory variables (metal_lb_* | default(...))
        if key not in variables:
            try:
                variables[key] = evaluate(value, variables)
            except (jinja2.TemplateError, TypeError):
                pass
    pending = dict(install["vars"])
    for _round in range(4):  # the task's variables refer to each other
        for key, value in list(pending.items()):
            try:
                result = evaluate(value, variables)
            except jinja2.UndefinedError:
                continue
            if not isinstance(result, jinja2.Undefined):
                variables[key] = result
                del pending[key]
    assert not pending, pending
    return variables


def render(variables: dict) -> str:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True)
    env.filters.update(FILTERS)
    return env.from_string((ROLES / "daemon" / "templates" / "metal-lb.service.j2").read_text()).render(**variables)


def directives(unit: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


SPEAKER_FACTS = {"speaker_node_name": "node1", "speaker_address": "198.51.100.11",
                 "speaker_namespace": "metallb-system", "speaker_lb_class": "", "speaker_bgp": False,
                 "speaker_api_host": "localhost", "speaker_kubeconfig": "", "speaker_context": "",
                 "speaker_api_server": "", "speaker_wheelhouse": "/w", "speaker_membership_key": "k" * 48}
CONTROLLER_FACTS = {"controller_namespace": "metallb-system", "controller_lb_class": "", "inventory_hostname": "cp1",
                    "controller_address": "198.51.100.2", "controller_api_host": "localhost",
                    "controller_kubeconfig": "", "controller_context": "", "controller_api_server": "",
                    "controller_wheelhouse": "/w"}


def test_the_controller_runs_as_its_own_user_without_any_capability():
    variables = role_daemon_vars("controller", CONTROLLER_FACTS)
    unit = directives(render(variables))
    for line in HARDENING:
        key, value = line.split("=")
        assert unit[key] == [value]
    assert unit["User"] == ["metal-lb-controller"]
    assert unit["CapabilityBoundingSet"] == [""] and unit["AmbientCapabilities"] == [""]
    assert "AF_PACKET" not in unit["RestrictAddressFamilies"][0]
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[:2] == ["/opt/metal-lb/current/bin/metal-lb", "controller"]
    assert argv[argv.index("--kubeconfig") + 1] == "/etc/metal-lb/controller.kubeconfig"
    assert argv[argv.index("--webhook-host") + 1] == "198.51.100.2"
    assert argv[argv.index("--identity") + 1] == "cp1"
    assert "--lb-class" not in argv


def test_the_layer2_speaker_keeps_only_net_raw_and_binds_membership_to_the_node_address():
    variables = role_daemon_vars("speaker", SPEAKER_FACTS)
    unit = directives(render(variables))
    assert unit["User"] == ["metal-lb-speaker"]
    assert unit["CapabilityBoundingSet"] == ["CAP_NET_RAW"] and unit["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert "AF_PACKET" in unit["RestrictAddressFamilies"][0].split()
    assert unit["RuntimeDirectory"] == ["metal-lb"]  # the status file metal.lb.announce reads
    argv = shlex.split(unit["ExecStart"][0])
    assert argv[argv.index("--node") + 1] == "node1"
    assert argv[argv.index("--membership-bind") + 1] == "198.51.100.11:7946"
    assert argv[argv.index("--membership-key-file") + 1] == "/etc/metal-lb/membership.key"
    assert "ReadWritePaths" not in unit
    assert "--no-bgp" in argv  # no FRR installed: BGPPeers are not this node's business
    assert unit["KillMode"] == ["control-group"]
    assert variables["daemon_secret_files"] == [{"path": "/etc/metal-lb/membership.key", "content": "k" * 48}]


def test_with_bgp_the_speaker_runs_as_root_bounded_to_what_frr_needs():
    unit = directives(render(role_daemon_vars("speaker", dict(SPEAKER_FACTS, speaker_bgp="true"))))
    assert "User" not in unit
    bounding = unit["CapabilityBoundingSet"][0].split()
    assert {"CAP_NET_RAW", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_SETUID", "CAP_SETGID"} <= set(bounding)
    assert "CAP_SYS_ADMIN" in bounding  # FRR's zebra and bgpd exit without it
    assert "CAP_SYS_MODULE" not in bounding and "CAP_SYS_PTRACE" not in bounding
    assert unit["AmbientCapabilities"] == [""]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert "-/run/frr" in unit["ReadWritePaths"]
    # a stop signals the speaker alone (it drains, then stops FRR); FRR outlives a crash
    assert unit["KillMode"] == ["process"]
    assert "--no-bgp" not in shlex.split(unit["ExecStart"][0])


def test_an_ipv6_node_binds_membership_in_brackets_and_extra_arguments_are_quoted():
    facts = dict(SPEAKER_FACTS, speaker_address="2001:db8::11", speaker_extra_args=["--gratuitous-refresh", "30 s"])
    argv = shlex.split(directives(render(role_daemon_vars("speaker", facts)))["ExecStart"][0])
    assert argv[argv.index("--membership-bind") + 1] == "[2001:db8::11]:7946"
    assert argv[-2:] == ["--gratuitous-refresh", "30 s"]


@pytest.mark.parametrize("role, facts", [("controller", CONTROLLER_FACTS), ("speaker", SPEAKER_FACTS)])
def test_the_process_is_named_as_the_preflight_membership_check_expects(role, facts):
    """The kernel names a process started from a script by the script's file name: the launcher."""
    argv = shlex.split(directives(render(role_daemon_vars(role, facts)))["ExecStart"][0])
    owners = yaml.safe_load((ROLES / "preflight" / "defaults" / "main.yml").read_text())[
        "preflight_membership_port_owners"]
    assert Path(argv[0]).name in owners
