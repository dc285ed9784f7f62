# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.config, metal.lb.assign, metal.lb.lb_info and ``metal-lb status`` against a Kubernetes API.

Every module runs at least once through the real ansible-playbook (``run``: localhost, connection=local,
the collection found through ANSIBLE_COLLECTIONS_PATH, so AnsiballZ packaging is exercised); the other
cases call the same ``main()`` in this process (``call``), which returns the same result. Safe on a real
cluster (METAL_LB_TEST_KUBECONFIG): the
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
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.modules import assign as assign_module
from ansible_collections.metal.lb.plugins.modules import config as config_module
from ansible_collections.metal.lb.plugins.modules import lb_info as lb_info_module

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


MODULES = {"config": config_module, "assign": assign_module, "lb_info": lb_info_module}
NO_KUBECONFIG = object()


@pytest.fixture
def call(capsys, kubeconfig, namespace):
    """``call(module, check=, diff=, **args)`` → the module's result, run in-process."""

    def invoke(module: str, check: bool = False, diff: bool = False, **args) -> dict:
        args.setdefault("kubeconfig", kubeconfig)
        args.setdefault("namespace", namespace)
        if args["kubeconfig"] is NO_KUBECONFIG:
            del args["kubeconfig"]
        args.update(_ansible_check_mode=check, _ansible_diff=diff)
        capsys.readouterr()
        with patch_module_args(args), pytest.raises(SystemExit):
            MODULES[module].main()
        return json.loads(capsys.readouterr().out)

    return invoke


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


def test_config_update_replaces_a_changed_pool(call, custom, namespace):
    call("config", pools=[{"name": "first", "addresses": ["198.51.100.0/28"]}])
    changed = call("config", diff=True, pools=[{"name": "first", "addresses": ["198.51.100.0/28"],
                                                "avoid_buggy_ips": True}])
    assert changed["changed"] is True
    assert changed["objects"] == [{"kind": "IPAddressPool", "name": "first", "action": "update"}]
    assert pools_in(custom, namespace)["first"]["spec"]["avoidBuggyIPs"] is True
    again = call("config", pools=[{"name": "first", "addresses": ["198.51.100.0/28"], "avoid_buggy_ips": True}])
    assert again["changed"] is False


def test_check_mode_reports_service_changes_without_writing(run, call, custom, core, namespace, lb_class):
    pools = [{"name": "old", "addresses": ["198.51.100.16/28"]}]
    assert not call("config", pools=pools, l2_all_pools=True).get("failed")
    make_service(core, namespace, "holder", lb_class)
    assigned = call("assign", lb_class=lb_class)
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


def test_invalid_config_fails_with_every_error_and_writes_nothing(call, custom, namespace):
    assert not call("config", pools=[{"name": "kept", "addresses": ["198.51.100.64/28"]}]).get("failed")
    bad = call("config", pools=[
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


def test_prune_removes_a_dropped_pool_but_not_an_unlabelled_one(call, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "ipaddresspools", {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "IPAddressPool",
        "metadata": {"name": "handmade", "namespace": namespace},
        "spec": {"addresses": ["203.0.113.128/28"]}})
    both = [{"name": "a", "addresses": ["198.51.100.0/28"]}, {"name": "b", "addresses": ["198.51.100.32/28"]}]
    assert not call("config", pools=both).get("failed")
    assert sorted(pools_in(custom, namespace)) == ["a", "b", "handmade"]

    pruned = call("config", diff=True, pools=both[:1])
    assert not pruned.get("failed"), pruned.get("msg")
    assert pruned["changed"] is True
    assert {(o["name"], o["action"]) for o in pruned["objects"]} == {("a", "unchanged"), ("b", "delete")}
    assert sorted(pools_in(custom, namespace)) == ["a", "handmade"]
    assert "labels" not in pools_in(custom, namespace)["handmade"]["metadata"] or \
        "app.kubernetes.io/managed-by" not in pools_in(custom, namespace)["handmade"]["metadata"]["labels"]


def test_state_absent_deletes_the_listed_object(call, custom, namespace):
    assert not call("config", pools=[{"name": "gone", "addresses": ["198.51.100.96/28"]}]).get("failed")
    absent = call("config", state="absent", resources=[{"kind": "IPAddressPool", "metadata": {"name": "gone"}}])
    assert absent["changed"] is True
    assert pools_in(custom, namespace) == {}
    assert call("config", state="absent",
               resources=[{"kind": "IPAddressPool", "metadata": {"name": "gone"}}])["changed"] is False


def test_assign_gives_a_pending_service_its_ip_and_is_idempotent(run, call, core, namespace, lb_class):
    assert not call("config", pools=[{"name": "pool", "addresses": ["198.51.100.48/29"]}],
                    l2_all_pools=True).get("failed")
    make_service(core, namespace, "web", lb_class)
    key = "%s/web" % namespace

    check = call("assign", check=True, lb_class=lb_class)
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

    again = call("assign", lb_class=lb_class)
    assert again["changed"] is False
    assert again["changed_services"] == [] and again["pending"] == []


def test_lb_info_reports_a_pending_reason(run, call, core, namespace, lb_class, kubeconfig):
    assert not call("config", pools=[{"name": "tiny", "addresses": ["198.51.100.200/32"]}],
                    l2_all_pools=True).get("failed")
    make_service(core, namespace, "first", lb_class)
    assert call("assign", lb_class=lb_class)["changed"] is True
    make_service(core, namespace, "second", lb_class)
    assign = call("assign", lb_class=lb_class)
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
    assert any(line.startswith("configuration: valid") for line in lines)


# ---------------------------------------------------------------------------------------------------
# Direct calls (see ``call``): breadth without an ansible-playbook run per case
# ---------------------------------------------------------------------------------------------------

def test_survey_fields_make_one_pool_and_its_advertisement(run, call, custom, namespace):
    # an AWX survey text area arrives as one string with new lines
    survey = dict(pool_name="lan", pool_addresses="198.51.100.0/28\n198.51.100.64-198.51.100.70",
                  pool_interfaces="eth0, eth1")
    first = run("config", **survey)
    assert not first.get("failed"), first.get("msg")
    assert sorted((o["kind"], o["name"], o["action"]) for o in first["objects"]) == [
        ("IPAddressPool", "lan", "create"), ("L2Advertisement", "lan", "create")]
    assert pools_in(custom, namespace)["lan"]["spec"]["addresses"] == ["198.51.100.0/28",
                                                                      "198.51.100.64-198.51.100.70"]
    ad = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "l2advertisements", "lan")
    assert ad["spec"]["ipAddressPools"] == ["lan"]
    assert ad["spec"]["interfaces"] == ["eth0", "eth1"]
    assert call("config", **survey)["changed"] is False


def test_diff_shows_each_changed_object_before_and_after(call, namespace):
    assert call("config", pools=[{"name": "p", "addresses": ["198.51.100.0/28"]}])["changed"] is True
    result = call("config", diff=True, pools=[{"name": "p", "addresses": ["198.51.100.16/28"]}])
    assert result["changed"] is True
    [entry] = result["diff"]
    assert entry["before_header"] == entry["after_header"] == "IPAddressPool/p"
    assert entry["before"]["spec"]["addresses"] == ["198.51.100.0/28"]
    assert entry["after"]["spec"]["addresses"] == ["198.51.100.16/28"]
    assert entry["after"]["metadata"] == {"name": "p", "namespace": namespace, "labels": MANAGED}


def test_a_bad_object_is_one_error_naming_it_and_its_field_and_nothing_is_written(call, custom, namespace):
    result = call("config", pools=[{"name": "fine", "addresses": ["198.51.100.0/28"]}],
                  resources=[{"kind": "IPAddressPool", "metadata": {"name": "elsewhere", "namespace": "default"},
                              "spec": {"addresses": ["203.0.113.0/28"]}}])
    assert result["failed"] is True
    assert result["config_errors"] == ["IPAddressPool elsewhere: metadata.namespace: is 'default', but this task "
                                       "manages namespace '%s'" % namespace]
    assert "Traceback" not in result["msg"]
    assert pools_in(custom, namespace) == {}

    reversed_pool = call("config", pools=[{"name": "reversed", "addresses": ["198.51.100.20-198.51.100.10"]}])
    assert reversed_pool["failed"] is True
    [error] = reversed_pool["config_errors"]
    assert error.startswith('IPAddressPool "reversed": spec.addresses[0]: ')
    assert pools_in(custom, namespace) == {}


def test_the_api_servers_own_rejection_fails_before_anything_is_written(call, custom, namespace):
    # object names are the API server's business (an RFC 1123 subdomain), not the engine's
    result = call("config", pools=[{"name": "first", "addresses": ["198.51.100.0/28"]},
                                   {"name": "Second_Pool", "addresses": ["203.0.113.0/28"]}])
    assert result["failed"] is True, result
    [error] = result["config_errors"]
    assert error.startswith("IPAddressPool Second_Pool: rejected by the API server: ")
    assert "nothing written" in result["msg"]
    assert pools_in(custom, namespace) == {}


def test_bgp_peers_and_communities_apply_and_are_idempotent(call, custom, namespace):
    resources = [
        {"kind": "IPAddressPool", "metadata": {"name": "bgp-pool"}, "spec": {"addresses": ["203.0.113.0/28"]}},
        {"kind": "Community", "metadata": {"name": "communities"},
         "spec": {"communities": [{"name": "no-export", "value": "65535:65281"}]}},
        {"apiVersion": "metallb.io/v1beta1", "kind": "BGPPeer", "metadata": {"name": "router"},
         "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1"}},
        {"kind": "BGPAdvertisement", "metadata": {"name": "bgp"},
         "spec": {"ipAddressPools": ["bgp-pool"], "communities": ["no-export"], "peers": ["router"]}},
    ]
    first = call("config", resources=resources)
    assert not first.get("failed"), first.get("msg")
    assert {o["action"] for o in first["objects"]} == {"create"} and len(first["objects"]) == 4
    peer = custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", "router")
    assert peer["spec"]["peerAddress"] == "198.51.100.1"
    second = call("config", resources=resources)
    assert second["changed"] is False, second["objects"]


def test_a_bfd_profile_is_judged_by_frr_mode_rules_as_the_speaker_runs_it(call, custom, namespace):
    bad = call("config", resources=[
        {"kind": "IPAddressPool", "metadata": {"name": "p"}, "spec": {"addresses": ["203.0.113.0/28"]}},
        {"kind": "BFDProfile", "metadata": {"name": "fast"}, "spec": {"receiveInterval": 5}}])
    assert bad["failed"] is True
    assert [e for e in bad["config_errors"] if e.startswith('BFDProfile "fast": spec.receiveInterval')]
    assert pools_in(custom, namespace) == {}  # nothing written
    good = call("config", resources=[
        {"kind": "IPAddressPool", "metadata": {"name": "p"}, "spec": {"addresses": ["203.0.113.0/28"]}},
        {"kind": "BFDProfile", "metadata": {"name": "fast"}, "spec": {"receiveInterval": 100}}])
    assert not good.get("failed"), good.get("msg")
    profile = custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "bfdprofiles", "fast")
    assert profile["spec"]["receiveInterval"] == 100


def test_prune_with_nothing_listed_is_refused(call):
    result = call("config")
    assert result["failed"] is True
    assert "Nothing is listed" in result["msg"]


def test_check_mode_writes_nothing_at_all(call, custom, namespace):
    result = call("config", check=True, pools=[{"name": "p", "addresses": ["198.51.100.0/28"]}], l2_all_pools=True)
    assert result["changed"] is True
    assert {o["action"] for o in result["objects"]} == {"create"}
    assert pools_in(custom, namespace) == {}


def test_assign_beside_another_writer_never_overwrites_its_assignment(call, core, namespace, lb_class,
                                                                      monkeypatch):
    """A Service changed after the module read the cluster (409): the module decides again, from a fresh read."""
    assert not call("config", pools=[{"name": "pool", "addresses": ["198.51.100.48/29"]}],
                    l2_all_pools=True).get("failed")
    make_service(core, namespace, "web", lb_class)
    real_read = assign_module.cluster_objects
    reads = []

    def read_then_another_writer_assigns(api_client, ns):
        objects = real_read(api_client, ns)
        reads.append(len(objects))
        if len(reads) == 1:  # after the first read, "the controller" assigns the last address of the pool
            core.patch_namespaced_service_status("web", namespace, {
                "metadata": {"annotations": {"metallb.io/ip-allocated-from-pool": "pool"}},
                "status": {"loadBalancer": {"ingress": [{"ip": "198.51.100.55"}]}}})
        return objects

    monkeypatch.setattr(assign_module, "cluster_objects", read_then_another_writer_assigns)
    result = call("assign", lb_class=lb_class)
    assert not result.get("failed"), result.get("msg")
    assert len(reads) == 2 and result["passes"] == 2
    assert ingress_of(core, namespace, "web") == ["198.51.100.55"]
    assert result["changed"] is False and result["changed_services"] == []


def test_assign_check_mode_and_diff_report_without_writing(call, core, namespace, lb_class):
    assert not call("config", pools=[{"name": "pool", "addresses": ["198.51.100.48/29"]}],
                    l2_all_pools=True).get("failed")
    make_service(core, namespace, "web", lb_class)
    key = "%s/web" % namespace
    result = call("assign", check=True, diff=True, lb_class=lb_class)
    assert result["changed"] is True
    assert result["diff"]["before"] == {key: {"ips": [], "pool": None}}
    assert result["diff"]["after"] == {key: {"ips": ["198.51.100.48"], "pool": "pool"}}
    assert ingress_of(core, namespace, "web") == []
    events = core.list_namespaced_event(namespace).items
    assert not [ev for ev in events if ev.involved_object.name == "web"]


def test_lb_info_reports_the_running_controllers_verdict(call, custom, namespace, kubeconfig):
    assert not call("config", pools=[{"name": "p", "addresses": ["198.51.100.0/28"]}]).get("failed")
    engine = call("lb_info")
    assert engine["config_valid"] is True and engine["config_validated_by"] == "engine"
    assert engine["controller_state"] is None

    custom.create_namespaced_custom_object(GROUP, VERSION, namespace, "configurationstates", {
        "apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "ConfigurationState",
        "metadata": {"name": "controller", "namespace": namespace}})
    custom.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, "configurationstates", "controller", {
        "status": {"result": "Invalid", "errorSummary": 'IPAddressPool "old": spec.addresses[0]: bad',
                   "conditions": [{"type": "poolReconcilerValid", "status": "False",
                                   "reason": "ConfigurationError", "message": "bad",
                                   "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})
    info = call("lb_info")
    assert info["config_valid"] is False and info["config_validated_by"] == "controller"
    assert info["controller_state"]["error_summary"] == 'IPAddressPool "old": spec.addresses[0]: bad'
    assert info["config_errors"] == []  # the objects themselves are fine now: the controller lags

    env = dict(os.environ, PYTHONPATH=collections_root())
    cli = os.path.join(list(collection_package.__path__)[0], "bin", "metal-lb")
    proc = subprocess.run([sys.executable, cli, "status", "--kubeconfig", kubeconfig, "--namespace", namespace],
                          env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "configuration: INVALID (reported by the controller since 2026-01-01T00:00:00Z)" in proc.stdout


def test_auth_comes_from_the_k8s_auth_environment(call, kubeconfig, monkeypatch):
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", kubeconfig)
    monkeypatch.setenv("HOME", "/nonexistent")  # no ~/.kube/config to fall back on
    result = call("lb_info", kubeconfig=NO_KUBECONFIG)
    assert not result.get("failed"), result.get("msg")
    assert result["config_valid"] is True


def test_a_missing_kubeconfig_is_one_clear_error(call):
    result = call("lb_info", kubeconfig="/nonexistent/kubeconfig")
    assert result["failed"] is True
    assert result["msg"] == "kubeconfig /nonexistent/kubeconfig does not exist"


def test_assign_beside_a_running_controller_never_gives_one_ip_twice(call, core, namespace, lb_class, kubeconfig,
                                                                      tmp_path):
    from controller_process import ControllerProcess, wait_for

    assert not call("config", pools=[{"name": "pool", "addresses": ["198.51.100.64/29"]}],
                    l2_all_pools=True).get("failed")
    controller = ControllerProcess(str(tmp_path), kubeconfig, namespace, lb_class)
    try:
        names = ["svc-%d" % i for i in range(6)]
        for name in names:
            make_service(core, namespace, name, lb_class)
            result = call("assign", lb_class=lb_class)  # races the controller for the same Service
            assert not result.get("failed"), result.get("msg")
        ips = wait_for(lambda: [ingress_of(core, namespace, n) for n in names]
                       if all(ingress_of(core, namespace, n) for n in names) else None,
                       timeout=60, what="every service assigned")
        flat = [ip for entry in ips for ip in entry]
        assert len(flat) == len(set(flat)) == len(names), ips
        assert all(ip.startswith("198.51.100.") and 64 <= int(ip.rsplit(".", 1)[1]) <= 71 for ip in flat)
        settled = call("assign", lb_class=lb_class)
        assert settled["changed"] is False and settled["pending"] == []
        assert controller.alive(), controller.log()
    finally:
        controller.stop()
