# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/site.yml and uninstall.yml on the lab's systemd hosts, as a user runs them (lab/site.py:
ansible-playbook over SSH from the admin namespace with the lab's inventory): site.yml converges, a
second run changes nothing on any host, the daemons run hardened as their own users, a Service gets an
IP that exactly one node answers ARP for and that serves HTTP to the client, and uninstall.yml removes
what was installed (units, users, venvs, files, cluster objects) and nothing else. The tests of this
module run in order on one lab. upgrade.yml is the molecule scenario ``upgrade``'s: from an older
release, node by node under a probe, and a second run that changes nothing. Needs root, ``make deps``,
``make k8s`` and a package index for the wheelhouse; skips without the lab's tools."""

from __future__ import annotations

import json

import pytest

import netlab
from lab import hosts, site, topology

# the lab's build and a site.yml run each take minutes on a busy machine (a safety net, not a speed check)
pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

NODES = ("node1", "node2", "node3")
CONTROL_PLANE = hosts.CONTROL_PLANE
# What a host has that the roles may touch: units, users and groups, packages, the directories they
# write to. Equal before site.yml and after uninstall.yml.
HOST_SNAPSHOT = (
    "ls -1A /etc/systemd/system /etc /opt /var/lib; echo ==; getent passwd | cut -d: -f1 | sort; echo ==; "
    "getent group | cut -d: -f1 | sort; echo ==; dpkg-query -W -f '${Package} ${Status}\\n' | sort; echo ==; "
    "systemctl list-unit-files --no-legend --no-pager | awk '{print $1, $2}' | sort"
)


@pytest.fixture(scope="module")
def site_lab(lab_requirements, tmp_path_factory):
    """A lab with cp1 and node1..3 booted and nothing installed; the snapshots taken before site.yml."""
    from lab.cluster import LabCluster, missing_requirements

    reason = missing_requirements(with_hosts=True)
    if reason:
        pytest.skip(reason)
    site.build_wheelhouse(log=lambda msg: None)
    lab = LabCluster(hosts=True, hosts_dir=str(tmp_path_factory.mktemp("site") / "lab"))
    with lab:
        lab.before = {"hosts": host_snapshots(lab), "cluster": cluster_snapshot(lab)}
        yield lab
    assert netlab.leftover_namespaces(lab.net.prefix) == []


def host_snapshots(lab) -> dict[str, str]:
    found = {}
    for name in lab.lab_hosts.containers:
        out = lab.lab_hosts.ssh(name, "sudo sh -c %s" % json.dumps(HOST_SNAPSHOT), timeout=120)
        assert out.returncode == 0, out.stderr
        found[name] = out.stdout
    return found


def cluster_snapshot(lab) -> dict[str, list[str]]:
    """The cluster-scoped and kube-system objects (namespaces that are going count as gone: the lab has
    no controller-manager to empty them)."""
    from kubernetes import client

    ext = client.ApiextensionsV1Api(lab.api)
    rbac = client.RbacAuthorizationV1Api(lab.api)
    admission = client.AdmissionregistrationV1Api(lab.api)
    return {
        "crds": sorted(c.metadata.name for c in ext.list_custom_resource_definition().items
                       if not c.metadata.deletion_timestamp),
        "namespaces": sorted(n.metadata.name for n in lab.core.list_namespace().items
                             if n.status.phase != "Terminating"),
        "clusterroles": sorted(r.metadata.name for r in rbac.list_cluster_role().items),
        "clusterrolebindings": sorted(r.metadata.name for r in rbac.list_cluster_role_binding().items),
        "validating": sorted(w.metadata.name for w in admission.list_validating_webhook_configuration().items),
        "kube-system": sorted("%s/%s" % (c.metadata.name, json.dumps(c.data, sort_keys=True))
                              for c in lab.core.list_namespaced_config_map("kube-system").items),
        "nodes": sorted(n.metadata.name for n in lab.core.list_node().items),
    }


def unit_properties(lab, name: str, unit: str) -> dict[str, str]:
    keys = "User,NoNewPrivileges,ProtectSystem,CapabilityBoundingSet,AmbientCapabilities,ActiveState,MainPID"
    out = lab.lab_hosts.ssh(name, "systemctl show -p %s %s" % (keys, unit))
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def test_site_converges_and_a_second_run_changes_nothing(site_lab):
    first = site.run_playbook(site_lab.lab_hosts)
    assert first.ok, first.failure()
    assert set(first.recap) == {"localhost", CONTROL_PLANE, *NODES}
    assert all(first.changed[h] > 0 for h in (CONTROL_PLANE, *NODES)), first.changed
    second = site.run_playbook(site_lab.lab_hosts)
    assert second.ok, second.failure()
    assert set(second.recap) == set(first.recap)
    assert second.changed == {host: 0 for host in first.recap}, second.stdout[-5000:]


def test_the_daemons_run_hardened_as_their_own_users(site_lab):
    expected = {CONTROL_PLANE: ("metal-lb-controller", "")} | {n: ("metal-lb-speaker", "cap_net_raw") for n in NODES}
    for name, (unit_user, caps) in expected.items():
        props = unit_properties(site_lab, name, unit_user + ".service")
        assert props["ActiveState"] == "active", (name, props)
        assert props["User"] == unit_user and props["NoNewPrivileges"] == "yes", (name, props)
        assert props["ProtectSystem"] == "strict", (name, props)
        assert props["CapabilityBoundingSet"] == caps and props["AmbientCapabilities"] == caps, (name, props)
        owner = site_lab.lab_hosts.ssh(name, "ps -o user:32= -p %s" % props["MainPID"]).stdout.strip()
        assert owner == unit_user, (name, owner)
    # one controller host, speakers only on the nodes
    assert unit_properties(site_lab, CONTROL_PLANE, "metal-lb-speaker.service")["ActiveState"] == "inactive"
    assert unit_properties(site_lab, "node1", "metal-lb-controller.service")["ActiveState"] == "inactive"


def test_a_service_gets_an_ip_one_node_answers_arp_for_and_curl_works(site_lab):
    site_lab.create_service("web", replicas=3)
    ip = site_lab.wait_ingress("web", timeout=60)[0]
    assert ip in netlab_range(topology.POOL_V4)
    assert site_lab.wait_kube_proxy(ip)
    announcers = site_lab.wait_announcer(ip, timeout=30)
    assert len(announcers) == 1 and announcers <= set(NODES), announcers
    bodies = [site_lab.curl(ip) for _ in range(3)]
    assert all(body and body.startswith("pod ") for body in bodies), bodies


def test_uninstall_removes_what_was_installed_and_nothing_else(site_lab):
    removed = site.run_playbook(site_lab.lab_hosts, "uninstall.yml")
    assert removed.ok, removed.failure()
    assert host_snapshots(site_lab) == site_lab.before["hosts"]
    assert cluster_snapshot(site_lab) == site_lab.before["cluster"]
    # the user's Service stays (with no controller left, nothing takes its IP away)
    assert site_lab.core.read_namespaced_service("web", "default").spec.type == "LoadBalancer"
    for name in NODES:
        assert site_lab.lab_hosts.ssh(name, "pgrep -x metal-lb || echo none").stdout.strip() == "none"
    again = site.run_playbook(site_lab.lab_hosts, "uninstall.yml")
    assert again.ok, again.failure()
    assert again.changed == {host: 0 for host in again.recap}, again.stdout[-5000:]


def netlab_range(pool: str) -> set[str]:
    first, last = pool.split("-")
    prefix = first.rsplit(".", 1)[0]
    return {"%s.%d" % (prefix, i) for i in range(int(first.rsplit(".", 1)[1]), int(last.rsplit(".", 1)[1]) + 1)}
