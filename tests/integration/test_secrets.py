# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A BGP password planted in a BGPPeer and in a basic-auth Secret shows up in no output.

``metal.lb.config`` against the API (its result and diff, in-process and through ansible-playbook
-vvv --diff, and the objects it writes), and the controller run against the same configuration
(its debug log, its ConfigurationState status and the namespace's Events), and what an operator
reads then (``metal-lb status``, ``metal.lb.lb_info``). The password stays
where MetalLB reads it: the BGPPeer's ``spec.password`` and the Secret.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import pytest

import ansible_collections.metal.lb as collection_package
from ansible.module_utils.testing import patch_module_args

from ansible_collections.metal.lb.plugins.module_utils.shells import cli
from ansible_collections.metal.lb.plugins.module_utils.engine.desired_config import LAST_APPLIED
from ansible_collections.metal.lb.plugins.modules import config as config_module
from ansible_collections.metal.lb.plugins.modules import lb_info as lb_info_module

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k8s_client  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from controller_process import ControllerProcess, wait_for  # noqa: E402

pytestmark = pytest.mark.integration
PLANTED = "planted-Bgp-Secret-7f3a9c"
IN_SECRET = "planted-In-Secret-41d2e0"
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
GROUP = "metallb.io"


def resources() -> list[dict]:
    return [
        {"kind": "IPAddressPool", "metadata": {"name": "bgp-pool"}, "spec": {"addresses": ["203.0.113.0/28"]}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "router"},
         "spec": {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1", "password": PLANTED}},
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "router-two"},
         "spec": {"myASN": 64500, "peerASN": 64502, "peerAddress": "198.51.100.2",
                  "passwordSecret": {"name": "bgp-auth"}}},
        {"kind": "BGPAdvertisement", "metadata": {"name": "bgp"}, "spec": {"ipAddressPools": ["bgp-pool"]}},
        {"kind": "L2Advertisement", "metadata": {"name": "l2"}, "spec": {"ipAddressPools": ["bgp-pool"]}},
    ]


def hidden(text: str) -> bool:
    return PLANTED not in text and IN_SECRET not in text and base64.b64encode(IN_SECRET.encode()).decode() not in text


@pytest.fixture
def core(kube_client):
    return k8s_client.CoreV1Api(kube_client)


@pytest.fixture
def custom(kube_client):
    return k8s_client.CustomObjectsApi(kube_client)


@pytest.fixture
def secret(core, namespace):
    body = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/basic-auth",
            "metadata": {"name": "bgp-auth", "namespace": namespace},
            "data": {"password": base64.b64encode(IN_SECRET.encode()).decode()}}
    core.create_namespaced_secret(namespace, body)
    return body


def run_config(capsys, kubeconfig: str, namespace: str, diff: bool = True,
               objects: list[dict] | None = None) -> tuple[dict, str]:
    args = {"resources": resources() if objects is None else objects, "kubeconfig": kubeconfig,
            "namespace": namespace, "_ansible_diff": diff}
    capsys.readouterr()
    with patch_module_args(args), pytest.raises(SystemExit):
        config_module.main()
    raw = capsys.readouterr().out
    return json.loads(raw), raw


def test_config_module_result_diff_and_written_objects_never_hold_the_password(
        capsys, kubeconfig, namespace, custom, secret):
    first, raw = run_config(capsys, kubeconfig, namespace)
    assert not first.get("failed"), first.get("msg")
    assert first["changed"] is True and first["diff"]
    assert hidden(raw), raw
    peer = custom.get_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", "router")
    assert peer["spec"]["password"] == PLANTED  # where MetalLB reads it
    assert hidden(peer["metadata"]["annotations"][LAST_APPLIED])
    assert hidden(json.dumps(peer["metadata"]))
    second, raw = run_config(capsys, kubeconfig, namespace)
    assert second["changed"] is False, second["objects"]
    assert hidden(raw)


def test_config_module_through_ansible_playbook_vvv_diff_never_prints_the_password(
        tmp_path, kubeconfig, namespace, secret):
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("ansible-playbook is not installed")
    root = os.path.dirname(os.path.dirname(os.path.dirname(list(collection_package.__path__)[0])))
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "apply", "metal.lb.config": {"resources": resources(), "kubeconfig": kubeconfig,
                                              "namespace": namespace}, "register": "result"},
        {"name": "show", "ansible.builtin.debug": {"var": "result"}}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_HOME=str(tmp_path / ".ansible"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop("ANSIBLE_CONFIG", None)
    proc = subprocess.run([ANSIBLE_PLAYBOOK, "-vvv", "--diff", "-i", "localhost,", "-c", "local", str(playbook)],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert "BGPPeer/router" in output  # the diff was shown
    assert hidden(output), [line for line in output.splitlines() if not hidden(line)][:5]


def test_the_controller_log_status_and_events_never_hold_the_password(
        capsys, tmp_path, kubeconfig, namespace, core, custom, secret):
    # The controller does not read Secrets (a passwordSecret peer is the speakers' business and
    # leaves its configuration waiting for the Secret): the planted spec.password peer only.
    objects = [obj for obj in resources() if obj["metadata"]["name"] != "router-two"]
    applied, _raw = run_config(capsys, kubeconfig, namespace, diff=False, objects=objects)
    assert not applied.get("failed"), applied.get("msg")
    controller = ControllerProcess(str(tmp_path), kubeconfig, namespace)
    try:
        core.create_namespaced_service(namespace, {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP"}]}})
        wait_for(lambda: (json.loads(core.read_namespaced_service("web", namespace, _preload_content=False).data)
                          .get("status") or {}).get("loadBalancer", {}).get("ingress"), 30, what="web's IP")
        # an invalid peer (password and secret both): the error goes to the log and the status
        invalid = {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer",
                   "metadata": {"name": "both", "namespace": namespace},
                   "spec": {"myASN": 64500, "peerASN": 64503, "peerAddress": "198.51.100.3", "password": PLANTED,
                            "passwordSecret": {"name": "bgp-auth"}}}
        try:
            custom.create_namespaced_custom_object(GROUP, "v1beta2", namespace, "bgppeers", invalid)
            rejected = False
        except ApiException as exc:  # an API with MetalLB's webhook refuses it: nothing more to see
            rejected = exc.status in (400, 403, 422)
            if not rejected:
                raise
            assert hidden(str(exc.body))

        def state() -> dict | None:
            try:
                return custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "configurationstates",
                                                           "controller").get("status")
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        if not rejected:
            wait_for(lambda: (state() or {}).get("result") == "Invalid", 30, what="Invalid configuration state")
        else:
            wait_for(state, 30, what="a configuration state")
        # what an operator reads: metal-lb status and metal.lb.lb_info
        capsys.readouterr()
        for output in ("table", "json"):
            cli.main(["status", "--kubeconfig", kubeconfig, "--namespace", namespace, "-o", output])
        captured = capsys.readouterr()
        assert "web" in captured.out
        assert hidden(captured.out + captured.err)
        with patch_module_args({"kubeconfig": kubeconfig, "namespace": namespace}), pytest.raises(SystemExit):
            lb_info_module.main()
        raw = capsys.readouterr().out
        assert not json.loads(raw).get("failed"), raw
        assert hidden(raw)
    finally:
        controller.stop()
        print("---- controller log ----\n%s" % controller.log())  # shown only when the test failed
    with open(controller.log_path, encoding="utf-8") as handle:
        log = handle.read()
    assert "configuration loaded" in log  # the debug log did see the peers
    assert hidden(log), [line for line in log.splitlines() if not hidden(line)][:3]
    assert hidden(json.dumps(state()))
    events = json.loads(core.list_namespaced_event(namespace, _preload_content=False).data)["items"]
    assert events
    assert hidden(json.dumps(events))
