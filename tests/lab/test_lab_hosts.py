# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab hosts (``lab/hosts.py``, ``lab/image.py``): the nodes and cp1 boot as systemd machines in
their namespaces, Ansible reaches them over SSH from the admin namespace with the lab's inventory,
a node acts on its lab network, FRR installs offline, and nothing is left after teardown, after a
failed boot or after ``make lab-down`` of a lab whose builder died. The image's mirror choice is
tested without root. Needs root, ``make deps`` (systemd-nspawn, debootstrap) and ``make k8s``;
skips otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import netlab
from lab import hosts, image, topology

pytestmark = pytest.mark.lab

NODES = ("node1", "node2", "node3")


def ansible_binary(name: str) -> str | None:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


@pytest.fixture(scope="module")
def host_requirements(lab_requirements):
    reason = hosts.missing_requirements()
    if reason:
        pytest.skip(reason)
    image.build(log=lambda msg: None)  # a machine that has the tools but cannot build it is a failure


@pytest.fixture(scope="module")
def hosts_lab(host_requirements, tmp_path_factory):
    """``LabCluster(hosts=True)``: API server, cp1 and node1..3 booted, no daemons started."""
    from lab.cluster import LabCluster, missing_requirements

    reason = missing_requirements(with_hosts=True)
    if reason:
        pytest.skip(reason)
    lab = LabCluster(hosts=True, hosts_dir=str(tmp_path_factory.mktemp("hosts") / "lab"))
    with lab:
        yield lab
    assert netlab.leftover_namespaces(lab.net.prefix) == []


def test_every_host_boots_systemd_with_its_name(hosts_lab):
    lab_hosts = hosts_lab.lab_hosts
    assert sorted(lab_hosts.containers) == sorted(("cp1",) + NODES)
    for name in lab_hosts.containers:
        out = lab_hosts.ssh(name, "hostname; cat /proc/1/comm; systemctl is-system-running")
        assert out.stdout.split() in ([name, "systemd", "running"], [name, "systemd", "degraded"]), out


def test_ansible_reaches_every_host_from_the_admin_namespace(hosts_lab):
    ansible, ansible_inventory = ansible_binary("ansible"), ansible_binary("ansible-inventory")
    if ansible is None or ansible_inventory is None:
        pytest.skip("ansible is not installed (make venv)")
    inventory = hosts_lab.lab_hosts.inventory
    listed = json.loads(hosts_lab.lab_hosts.run_in_admin(ansible_inventory, "-i", inventory, "--list").stdout)
    assert listed[hosts.CONTROLLERS]["hosts"] == ["cp1"]
    assert sorted(listed[hosts.SPEAKERS]["hosts"]) == list(NODES)
    out = hosts_lab.lab_hosts.run_in_admin(ansible, "-i", inventory, "all", "-m", "ping")
    assert out.returncode == 0, out.stdout + out.stderr
    # passwordless sudo, as the roles' `become` needs
    out = hosts_lab.lab_hosts.run_in_admin(ansible, "-i", inventory, "all", "-b", "-m", "command", "-a", "id -u")
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(line.split()[0] for line in out.stdout.splitlines() if "CHANGED" in line) == sorted(
        ("cp1",) + NODES
    )
    assert [line for line in out.stdout.splitlines() if line.strip() and "CHANGED" not in line] == ["0"] * 4


def test_the_api_answers_the_admin_namespace_with_the_lab_kubeconfig(hosts_lab):
    from lab import kube

    out = hosts_lab.lab_hosts.run_in_admin(kube.binary("kubectl"), "--kubeconfig", hosts_lab.lab_hosts.kubeconfig,
                       "get", "nodes", "-o", "name")
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == ["node/%s" % n for n in NODES]
    server = json.loads(Path(hosts_lab.lab_hosts.kubeconfig).read_text())["clusters"][0]["cluster"]["server"]
    assert server == "https://%s:%d" % (topology.API_V4, topology.API_PORT)


def test_a_node_sees_its_lab_interface_and_arpings_the_client(hosts_lab):
    lab_hosts = hosts_lab.lab_hosts
    addresses = json.loads(lab_hosts.ssh("node1", "ip -j addr show dev eth0").stdout)
    assert topology.nodes(1)[0].v4 in [a["local"] for a in addresses[0]["addr_info"]]
    out = lab_hosts.ssh("node1", "sudo arping -c 2 -I eth0 %s" % topology.CLIENT_V4, timeout=30)
    assert hosts_lab.hosts["client"].mac in out.stdout.lower(), out.stdout + out.stderr


def test_a_node_has_what_the_speaker_and_frr_need(hosts_lab):
    """CAP_NET_ADMIN (links, addresses, routes), CAP_NET_RAW (ARP/NDP), a writable /proc/sys/net."""
    lab_hosts = hosts_lab.lab_hosts
    out = lab_hosts.ssh(
        "node2",
        "sudo ip link add mlbtest0 type bridge && sudo ip addr add 198.51.100.250/32 dev mlbtest0 "
        "&& ip -br addr show dev mlbtest0 && sudo ip link del mlbtest0 "
        "&& sudo sysctl -qw net.ipv4.conf.eth0.arp_ignore=$(cat /proc/sys/net/ipv4/conf/eth0/arp_ignore) "
        "&& echo sysctl-ok",
    )
    assert out.returncode == 0, out.stderr
    assert "198.51.100.250/32" in out.stdout and "sysctl-ok" in out.stdout
    raw = lab_hosts.ssh("node2", "sudo python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)'")
    assert raw.returncode == 0, raw.stderr


def test_a_host_makes_a_python_venv_for_a_wheelhouse(hosts_lab):
    """The roles install metal.lb from wheels into a venv: python3-venv brings pip without a network."""
    out = hosts_lab.lab_hosts.ssh("node1", "python3 -m venv /tmp/mlb-venv && /tmp/mlb-venv/bin/pip --version")
    assert out.returncode == 0 and out.stdout.startswith("pip "), out.stdout + out.stderr


def test_frr_installs_from_the_image_without_a_network(hosts_lab):
    lab_hosts = hosts_lab.lab_hosts
    assert lab_hosts.ssh("node3", "ip route show default; ip -6 route show default").stdout.strip() == ""
    out = lab_hosts.ssh("node3", "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q frr", timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    out = lab_hosts.ssh("node3", "systemctl is-active frr; sudo vtysh -c 'show version'", timeout=60)
    assert out.stdout.startswith("active") and "FRRouting" in out.stdout, out.stdout + out.stderr
    # the container's writes stay in its overlay: the cached image is untouched
    assert not (image.IMAGE / "usr" / "lib" / "frr").exists()
    assert not (image.IMAGE / "home" / image.USER / ".ssh" / "authorized_keys").exists()


# ---------------------------------------------------------------- teardown, failure, lab-down


def small_lab(state_dir: str | None = None) -> netlab.Lab:
    return netlab.Lab(state_dir=state_dir) if state_dir else netlab.Lab()


def boot_one(net: netlab.Lab, directory: Path, wait: bool = True) -> hosts.LabHosts:
    node = net.add_host("node1", (topology.nodes(1)[0].v4 + "/24",))
    lab_hosts = hosts.LabHosts(net, directory)
    lab_hosts.start([hosts.HostSpec("node1", node, topology.nodes(1)[0].v4, hosts.SPEAKERS)])
    if wait:
        lab_hosts.wait_ready()
    return lab_hosts


def processes(container: hosts.Container) -> list[tuple[int, int | None]]:
    """nspawn and the container's PID 1, with their start times (a recycled PID is another process)."""
    return [(p, netlab.process_start_time(p)) for p in (container.nspawn.pid, container.init.pid)]


def assert_gone(net: netlab.Lab, pids: list[tuple[int, int | None]], machine: str, directory: Path) -> None:
    assert netlab.leftover_namespaces(net.prefix) == []
    for pid, start in pids:
        assert start is not None and netlab.process_start_time(pid) != start
    assert not os.path.exists(os.path.join(hosts.PROPAGATE_DIR, machine))
    assert not directory.exists()


def test_teardown_leaves_no_container_namespace_or_file(host_requirements, tmp_path):
    directory = tmp_path / "lab"
    with small_lab() as net:
        lab_hosts = boot_one(net, directory)
        container = lab_hosts.containers["node1"]
        pids = processes(container)
        assert (directory / "inventory.yml").exists() and all(start is not None for _, start in pids)
        lab_hosts.teardown()
    assert_gone(net, pids, container.machine, directory)


def test_a_host_that_does_not_come_up_in_time_is_one_error_and_still_removed(host_requirements, tmp_path):
    directory = tmp_path / "lab"
    with small_lab() as net:
        lab_hosts = boot_one(net, directory, wait=False)
        container = lab_hosts.containers["node1"]
        pids = processes(container)
        try:
            with pytest.raises(netlab.LabError, match="host node1 did not answer over SSH at 198.51.100.11"):
                lab_hosts.wait_ready(timeout=0)
        finally:
            lab_hosts.teardown()
    assert_gone(net, pids, container.machine, directory)


def test_lab_down_removes_the_hosts_of_a_lab_whose_builder_died(host_requirements, tmp_path):
    directory = tmp_path / "lab"
    net = small_lab(str(tmp_path / "state"))
    with net:
        lab_hosts = boot_one(net, directory)
        container = lab_hosts.containers["node1"]
        pids = processes(container)
        with open(net.state_path) as fh:
            state = json.load(fh)
        assert {p["pid"] for p in state["processes"]} >= {pid for pid, _ in pids}
        assert hosts.remove_stale_directory(directory) is None  # its lab is still recorded
        state["owner"] = {"pid": os.getpid(), "start": -1}  # a builder that is gone
        with open(net.state_path, "w") as fh:
            json.dump(state, fh)
        removed, skipped = netlab.remove_recorded_labs(state_dir=net.state_dir)
        assert skipped == [] and "process %d" % container.init.pid in removed
        assert container.init.wait(10) is not None  # its PID 1 killed: the whole container is gone
        assert hosts.remove_stale_directory(directory) == str(directory)
        container.nspawn.wait(10)
        lab_hosts.containers.clear()
        net.namespaces.clear()
        net.processes.clear()
    assert_gone(net, pids, container.machine, directory)


def test_a_directory_in_use_by_a_running_lab_is_refused(host_requirements, tmp_path):
    directory = tmp_path / "lab"
    with small_lab() as first, small_lab() as second:
        lab_hosts = boot_one(first, directory, wait=False)
        try:
            with pytest.raises(netlab.LabError, match="belongs to lab %s, which is still up" % first.prefix):
                hosts.LabHosts(second, directory).start([])
        finally:
            lab_hosts.teardown()


# ---------------------------------------------------------------- the image's mirror (no root)


def test_the_image_uses_the_bookworm_archive_of_the_machines_apt(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb deb-src\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    assert image.host_mirror([str(deb822)]) == image.Mirror(
        "http://mirror.example/debian", "/usr/share/keyrings/debian-archive-keyring.gpg"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text(
        "# deb http://old.example/debian bookworm main\ndeb [arch=amd64] https://m.example/debian bookworm main\n"
    )
    assert image.host_mirror([str(one_line)]) == image.Mirror("https://m.example/debian")


def test_a_machine_of_another_debian_release_lends_its_archive(tmp_path):
    sources = tmp_path / "debian.sources"
    sources.write_text("Types: deb\nURIs: http://mirror.example/debian\nSuites: trixie\nComponents: main\n"
                       "Enabled: yes\n\nTypes: deb\nURIs: http://other.example/debian\nSuites: bookworm\n"
                       "Enabled: no\n")
    assert image.host_mirror([str(sources)]).uri == "http://mirror.example/debian"


def test_no_debian_archive_is_one_clear_error(tmp_path):
    sources = tmp_path / "other.list"
    sources.write_text("deb https://packages.example/apt stable main\n")
    with pytest.raises(image.ImageError, match="no Debian archive found in /etc/apt/sources.list"):
        image.host_mirror([str(sources)])


def test_an_image_from_another_recipe_is_not_current(tmp_path):
    root = tmp_path / "image"
    (root / "usr" / "bin").mkdir(parents=True)
    (root / "usr" / "bin" / "python3").write_text("")
    stamp = tmp_path / "recipe"
    stamp.write_text(image.recipe_hash() + "\n")
    assert image.is_current(root, stamp)
    stamp.write_text("0" * 64 + "\n")
    assert not image.is_current(root, stamp)


def test_an_image_lab_hosts_run_from_is_not_rebuilt_under_them(tmp_path, monkeypatch):
    root, stamp = tmp_path / "image", tmp_path / "recipe"
    root.mkdir()
    stamp.write_text("0" * 64 + "\n")  # another recipe: a rebuild is due
    holder = subprocess.Popen(
        ["bash", "-c", 'exec -a systemd-nspawn "$0" -c "import time; time.sleep(30)" --directory=%s' % root,
         sys.executable]
    )
    try:
        for _ in range(100):  # until bash has exec'd (bounded)
            if image.users(root):
                break
            time.sleep(0.05)
        assert image.users(root) == [holder.pid]
        assert image.users(tmp_path / "other") == []
        monkeypatch.setattr(os, "geteuid", lambda: 0)
        monkeypatch.setattr(shutil, "which", lambda tool: "/usr/bin/" + tool)
        with pytest.raises(image.ImageError, match=r"lab hosts run from it \(systemd-nspawn PIDs %d\)" % holder.pid):
            image.build(root, stamp, mirror=image.Mirror("http://mirror.example/debian"))
        assert root.is_dir() and stamp.read_text().startswith("0" * 64)
    finally:
        holder.kill()
        holder.wait(10)
