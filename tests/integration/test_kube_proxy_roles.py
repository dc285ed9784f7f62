# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles metal.lb.kube_proxy and metal.lb.preflight through ansible-playbook (localhost, connection local).

kube-proxy's ConfigMap lives in the test's namespace. The preflight role's node check runs on this machine
against a port the test holds on 127.0.0.1 (or leaves free); the API checks need a cluster known to be clean,
so that test skips with METAL_LB_TEST_KUBECONFIG.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402

from test_kube_proxy import KUBEADM_IPVS, put_configmap  # noqa: E402
from test_modules import ANSIBLE_PLAYBOOK, TIMEOUT, collections_root  # noqa: E402

pytestmark = pytest.mark.integration


def play_role(tmp_path, role: str, variables: dict, check: bool = False) -> subprocess.CompletedProcess:
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("ansible-playbook is not installed")
    playbook = tmp_path / ("%s.yml" % role)
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": "metal.lb.%s" % role, "vars": variables}]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
               ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
               ANSIBLE_RETRY_FILES_ENABLED="false", ANSIBLE_HOME=str(tmp_path / ".ansible"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    env.pop("ANSIBLE_CONFIG", None)
    argv = [ANSIBLE_PLAYBOOK, "-i", "localhost,", "-c", "local", str(playbook)]
    argv += ["--check", "--diff"] if check else []
    return subprocess.run(argv, cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=TIMEOUT,
                          check=False)


def recap(proc: subprocess.CompletedProcess) -> str:
    return next((line for line in proc.stdout.splitlines() if line.startswith("localhost ")), proc.stdout)


def test_kube_proxy_role_changes_once(tmp_path, kubeconfig, kube_client, namespace):
    core = k.CoreV1Api(kube_client)
    put_configmap(core, namespace, KUBEADM_IPVS)
    variables = {"kube_proxy_kubeconfig": kubeconfig, "kube_proxy_namespace": namespace}
    checked = play_role(tmp_path, "kube_proxy", variables, check=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "-  strictARP: false" in checked.stdout and "+  strictARP: true" in checked.stdout
    assert core.read_namespaced_config_map("kube-proxy", namespace).data["config.conf"] == KUBEADM_IPVS
    first = play_role(tmp_path, "kube_proxy", variables)
    assert first.returncode == 0 and "changed=1" in recap(first), first.stdout + first.stderr
    assert "kube_proxy_strict_arp" in first.stdout + first.stderr
    second = play_role(tmp_path, "kube_proxy", variables)
    assert second.returncode == 0 and "changed=0" in recap(second), second.stdout + second.stderr


@pytest.mark.skipif(bool(os.environ.get("METAL_LB_TEST_KUBECONFIG")), reason="needs a cluster known to be clean")
def test_preflight_role_fails_when_another_process_holds_the_membership_port(tmp_path, kubeconfig, namespace):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        variables = {"preflight_kubeconfig": kubeconfig, "preflight_namespace": namespace,
                     "preflight_membership_port": port}
        busy = play_role(tmp_path, "preflight", variables)
        assert busy.returncode != 0, busy.stdout
        assert "port %d (metal.lb's membership port" % port in busy.stdout, busy.stdout[-3000:]
        assert "run the role with become" in busy.stdout
        with open("/proc/self/comm") as comm:  # the name ss shows for this process
            owner = comm.read().strip()
        allowed = play_role(tmp_path, "preflight", dict(variables, preflight_membership_port_owners=[owner]))
        assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    free = play_role(tmp_path, "preflight", variables)
    assert free.returncode == 0, free.stdout + free.stderr
