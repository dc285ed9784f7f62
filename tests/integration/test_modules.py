# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.config, metal.lb.assign, metal.lb.lb_info and ``metal-lb status`` against a Kubernetes API.

Every module runs through the real ansible-playbook (localhost, connection=local) with the collection
found through ANSIBLE_COLLECTIONS_PATH. Safe on a real cluster (METAL_LB_TEST_KUBECONFIG): the
metallb.io objects live in the test's own namespace (passed as the modules' ``namespace``), and every
Service has a unique ``spec.loadBalancerClass`` that only these tests handle (passed as ``lb_class``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

import ansible_collections.metal.lb as collection_package

try:
    from kubernetes import client as k8s_client
except ImportError:  # pragma: no cover - the kubernetes client is a test requirement
    k8s_client = None

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(k8s_client is None, reason="the kubernetes Python client is not installed"),
]

BIN = os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(BIN, "ansible-playbook")
TIMEOUT = 300
GROUP, VERSION = "metallb.io", "v1beta1"
MANAGED = {"app.kubernetes.io/managed-by": "metal.lb"}


def collections_root() -> str:
    path = list(collection_package.__path__)[0]
    return os.path.dirname(os.path.dirname(os.path.dirname(path)))


class Runner:
    """Runs one metal.lb module task with ansible-playbook and returns its registered result."""

    def __init__(self, tmp_path, kubeconfig: str, namespace: str) -> None:
        self.tmp = tmp_path
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.runs = 0

    def __call__(self, module: str, check: bool = False, diff: bool = False, **args) -> dict:
        if not os.path.exists(ANSIBLE_PLAYBOOK):
            pytest.skip("ansible-playbook is not installed")
        self.runs += 1
        out = self.tmp / ("result-%d.json" % self.runs)
        args = dict(args, kubeconfig=self.kubeconfig, namespace=self.namespace)
        play = [{
            "hosts": "localhost", "gather_facts": False,
            "tasks": [
                {"name": "the module", "metal.lb.%s" % module: args, "register": "result",
                 "ignore_errors": True, "check_mode": check, "diff": diff},
                {"name": "save", "ansible.builtin.copy": {"content": "{{ result | to_json }}", "dest": str(out)},
                 "check_mode": False},
            ],
        }]
        playbook = self.tmp / ("play-%d.yml" % self.runs)
        playbook.write_text(json.dumps(play))
        env = dict(os.environ)
        env.update(ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
                   ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false", ANSIBLE_RETRY_FILES_ENABLED="false",
                   ANSIBLE_HOME=str(self.tmp / ".ansible"), ANSIBLE_PYTHON_INTERPRETER=sys.executable)
        env.pop("ANSIBLE_CONFIG", None)
        proc = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)],
                              cwd=str(self.tmp), env=env, capture_output=True, text=True, timeout=TIMEOUT,
                              check=False)
        assert out.exists(), "ansible-playbook did not run the task:\n%s\n%s" % (proc.stdout, proc.stderr)
        return json.loads(out.read_text())


@pytest.fixture
def run(tmp_path, kubeconfig, namespace):
    return Runner(tmp_path, kubeconfig, namespace)


@pytest.fixture
def lb_class() -> str:
    return "metal.lb/test-%s" % uuid.uuid4().hex[:10]


@pytest.fixture
def custom(kube_client):
    return k8s_client.CustomObjectsApi(kube_client)


@pytest.fixture
def core(kube_client):
    return k8s_client.CoreV1Api(kube_client)


def pools_in(custom, namespace: str) -> dict:
    items = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools")["items"]
    return {item["metadata"]["name"]: item for item in items}


def make_service(core, namespace: str, name: str, lb_class: str) -> dict:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace},
            "spec": {"type": "LoadBalancer", "loadBalancerClass": lb_class, "selector": {"app": name},
                     "ports": [{"port": 80, "protocol": "TCP"}]}}
    return core.create_namespaced_service(namespace, body).to_dict()


def ingress_of(core, namespace: str, name: str) -> list[str]:
    svc = core.read_namespaced_service(name, namespace)
    lb = svc.status.load_balancer if svc.status else None
    return [entry.ip for entry in (lb.ingress or [])] if lb else []


def test_config_creates_pools_and_second_run_is_unchanged(run, custom, namespace):
    args = dict(pools=[{"name": "first", "addresses": ["198.51.100.0/28"]}], l2_all_pools=True)
    first = run("config", **args)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True
    assert sorted((o["kind"], o["action"]) for o in first["objects"]) == [
        ("IPAddressPool", "create"), ("L2Advertisement", "create")]
    pool = pools_in(custom, namespace)["first"]
    assert pool["spec"]["addresses"] == ["198.51.100.0/28"]
    assert pool["metadata"]["labels"].items() >= MANAGED.items()
    ads = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, "l2advertisements")["items"]
    assert [ad["metadata"]["name"] for ad in ads] == ["l2-all-pools"]

    second = run("config", **args)
    assert not second.get("failed"), second.get("msg")
    assert second["changed"] is False
    assert {o["action"] for o in second["objects"]} == {"unchanged"}


def test_config_update_replaces_a_changed_pool(run, custom, namespace):
    run("config", pools=[{"name": "first", "addresses": ["198.51.100.0/28"]}])
    changed = run("config", diff=True, pools=[{"name": "first", "addresses": ["198.51.100.0/28"],
                                                "avoid_buggy_ips": True}])
    assert changed["changed"] is True
    assert changed["objects"] == [{"kind": "IPAddressPool", "name": "first", "action": "update"}]
    assert pools_in(custom, namespace)["first"]["spec"]["avoidBuggyIPs"] is True
    again = run("config", pools=[{"name": "first", "addresses": ["198.51.100.0/28"], "avoid_buggy_ips": True}])
    assert again["changed"] is False


def test_check_mode_reports_service_changes_without_writing(run, custom, core, namespace, lb_class):
    pools = [{"name": "old", "addresses": ["198.51.100.16/28"]}]
    assert not run("config", pools=pools, l2_all_pools=True).get("failed")
    make_service(core, namespace, "holder", lb_class)
    assigned = run("assign", lb_class=lb_class)
    assert not assigned.get("failed"), assigned.get("msg")
    old_ips = ingress_of(core, namespace, "holder")
    assert len(old_ips) == 1
    make_service(core, namespace, "newcomer", lb_class)

    check = run("config", check=True, diff=True, lb_class=lb_class, l2_all_pools=True,
                pools=[{"name": "new", "addresses": ["203.0.113.0/28"]}])
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    changes = check["service_changes"]
    moved = {e["service"]: e for e in changes["move"]}
    got = {e["service"]: e for e in changes["get"]}
    assert list(moved) == ["%s/holder" % namespace]
    assert moved["%s/holder" % namespace]["old_ips"] == old_ips
    assert moved["%s/holder" % namespace]["new_ips"][0].startswith("203.0.113.")
    assert list(got) == ["%s/newcomer" % namespace]
    assert changes["keep"] == [] and changes["lose"] == []
    assert check["plan"]["service_changes"] == changes
    # nothing written: the old pool is still there, the new one is not, the Service keeps its IP
    assert sorted(pools_in(custom, namespace)) == ["old"]
    assert ingress_of(core, namespace, "holder") == old_ips
    assert ingress_of(core, namespace, "newcomer") == []


def test_invalid_config_fails_with_every_error_and_writes_nothing(run, custom, namespace):
    assert not run("config", pools=[{"name": "kept", "addresses": ["198.51.100.64/28"]}]).get("failed")
    bad = run("config", pools=[
        {"name": "kept", "addresses": ["198.51.100.64/28"]},
        {"name": "reversed", "addresses": ["198.51.100.20-198.51.100.10"]},
        {"name": "overlapping", "addresses": ["198.51.100.70/31"]},
    ])
    assert bad.get("failed") is True
    assert len(bad["config_errors"]) >= 2
    assert any("reversed" in e for e in bad["config_errors"])
    assert any("overlapping" in e for e in bad["config_errors"])
    assert "nothing written" in bad["msg"]
    assert sorted(pools_in(custom, namespace)) == ["kept"]


def test_prune_removes_a_dropped_pool_but_not_an_unlabelled_one(run, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools", {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "IPAddressPool",
        "metadata": {"name": "handmade", "namespace": namespace},
        "spec": {"addresses": ["203.0.113.128/28"]}})
    both = [{"name": "a", "addresses": ["198.51.100.0/28"]}, {"name": "b", "addresses": ["198.51.100.32/28"]}]
    assert not run("config", pools=both).get("failed")
    assert sorted(pools_in(custom, namespace)) == ["a", "b", "handmade"]

    pruned = run("config", diff=True, pools=both[:1])
    assert not pruned.get("failed"), pruned.get("msg")
    assert pruned["changed"] is True
    assert {(o["name"], o["action"]) for o in pruned["objects"]} == {("a", "unchanged"), ("b", "delete")}
    assert sorted(pools_in(custom, namespace)) == ["a", "handmade"]
    assert "labels" not in pools_in(custom, namespace)["handmade"]["metadata"] or \
        "app.kubernetes.io/managed-by" not in pools_in(custom, namespace)["handmade"]["metadata"]["labels"]


def test_state_absent_deletes_the_listed_object(run, custom, namespace):
    assert not run("config", pools=[{"name": "gone", "addresses": ["198.51.100.96/28"]}]).get("failed")
    absent = run("config", state="absent", resources=[{"kind": "IPAddressPool", "metadata": {"name": "gone"}}])
    assert absent["changed"] is True
    assert pools_in(custom, namespace) == {}
    assert run("config", state="absent",
               resources=[{"kind": "IPAddressPool", "metadata": {"name": "gone"}}])["changed"] is False


def test_assign_gives_a_pending_service_its_ip_and_is_idempotent(run, core, namespace, lb_class):
    assert not run("config", pools=[{"name": "pool", "addresses": ["198.51.100.48/29"]}],
                   l2_all_pools=True).get("failed")
    make_service(core, namespace, "web", lb_class)
    key = "%s/web" % namespace

    check = run("assign", check=True, lb_class=lb_class)
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    assert [e["service"] for e in check["changed_services"]] == [key]
    assert ingress_of(core, namespace, "web") == []

    done = run("assign", lb_class=lb_class)
    assert done["changed"] is True
    entry = done["changed_services"][0]
    assert entry["old_ips"] == [] and entry["new_pool"] == "pool"
    assert ingress_of(core, namespace, "web") == entry["new_ips"]
    annotations = core.read_namespaced_service("web", namespace).metadata.annotations or {}
    assert annotations.get("metallb.io/ip-allocated-from-pool") == "pool"
    events = core.list_namespaced_event(namespace).items
    assert any(ev.reason == "IPAllocated" and ev.involved_object.name == "web" for ev in events)

    again = run("assign", lb_class=lb_class)
    assert again["changed"] is False
    assert again["changed_services"] == [] and again["pending"] == []


def test_lb_info_reports_a_pending_reason(run, core, namespace, lb_class, kubeconfig):
    assert not run("config", pools=[{"name": "tiny", "addresses": ["198.51.100.200/32"]}],
                   l2_all_pools=True).get("failed")
    make_service(core, namespace, "first", lb_class)
    assert run("assign", lb_class=lb_class)["changed"] is True
    make_service(core, namespace, "second", lb_class)
    assign = run("assign", lb_class=lb_class)
    assert [p["service"] for p in assign["pending"]] == ["%s/second" % namespace]

    info = run("lb_info", lb_class=lb_class)
    assert not info.get("failed"), info.get("msg")
    assert info["changed"] is False
    mine = {k: v for k, v in info["services"].items() if k.startswith(namespace + "/")}
    assert mine["%s/first" % namespace]["state"] == "assigned"
    assert mine["%s/first" % namespace]["ips"] == ["198.51.100.200"]
    pending = mine["%s/second" % namespace]
    assert pending["state"] == "pending"
    assert "Failed to allocate IP" in pending["reason"] and "no available IPs" in pending["reason"]
    assert info["config_valid"] is True and info["config_errors"] == []
    assert info["pools"]["tiny"]["capacity"]["ipv4"] == 1
    assert info["pools"]["tiny"]["in_use"]["ipv4"] == 1
    assert info["pools"]["tiny"]["available"]["ipv4"] == 0

    env = dict(os.environ, PYTHONPATH=collections_root())
    cli = os.path.join(list(collection_package.__path__)[0], "bin", "metal-lb")
    proc = subprocess.run([sys.executable, cli, "status", "--kubeconfig", kubeconfig, "--namespace", namespace,
                           "--lb-class", lb_class], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    second = [line for line in lines if line.startswith("%s/second " % namespace)]
    assert second and "pending" in second[0] and "no available IPs" in second[0]
    assert any(line.split()[:2] == ["tiny", "1"] for line in lines)
    assert "configuration: valid" in lines
