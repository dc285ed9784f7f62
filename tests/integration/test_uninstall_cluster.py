# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role metal.lb.crds installs and then removes metal.lb's cluster objects for real, on a private
kube-apiserver of its own (the session's cluster must keep its CRDs): installed twice (second changed=0),
removed (exactly what it installed), removed again (changed=0). Its webhooks point at a closed port on
127.0.0.1: nothing is written that would call them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes import config as k8s_config  # noqa: E402

from playbook_runs import output, recap, role_play  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lab import kube  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.skipif(bool(os.environ.get("METAL_LB_TEST_KUBECONFIG")),
                                                          reason="runs its own API server")]


@pytest.fixture
def private_cluster(tmp_path):
    reason = kube.missing_binaries()
    if reason:
        pytest.fail("needs the real API server: %s" % reason, pytrace=False)
    with kube.KubeCluster(str(tmp_path / "kube"), apply_manifests=False) as cluster:
        yield cluster


def test_install_then_uninstall_removes_exactly_what_was_installed(tmp_path, private_cluster):
    admin = private_cluster.admin_kubeconfig
    api = k8s_config.new_client_from_config(config_file=admin)
    rbac, core, crds = k.RbacAuthorizationV1Api(api), k.CoreV1Api(api), k.ApiextensionsV1Api(api)
    admission = k.AdmissionregistrationV1Api(api)
    try:
        rbac.create_cluster_role({"metadata": {"name": "not-metal-lb"}, "rules": []})
        variables = {"crds_kubeconfig": admin, "crds_webhook_registration": "url",
                     "crds_webhook_url": "https://127.0.0.1:%d" % kube.free_port()}
        first = role_play(tmp_path, "crds", variables)
        assert first.returncode == 0 and recap(first)["changed"] == 1, output(first)
        again = role_play(tmp_path, "crds", variables)
        assert again.returncode == 0 and recap(again)["changed"] == 0, output(again)
        ours = [c.metadata.name for c in crds.list_custom_resource_definition().items]
        assert "ipaddresspools.metallb.io" in ours and "bgppeers.metallb.io" in ours
        assert core.read_namespaced_service_account("speaker", "metallb-system")

        removed = role_play(tmp_path, "crds", dict(variables, crds_state="absent"))
        assert removed.returncode == 0 and recap(removed)["changed"] == 1, output(removed)
        # a CRD goes once the API server has removed its objects (a finalizer): gone, or on its way
        assert [c.metadata.name for c in crds.list_custom_resource_definition().items
                if c.metadata.name.endswith(".metallb.io") and c.metadata.deletion_timestamp is None] == []
        assert [r.metadata.name for r in rbac.list_cluster_role().items if r.metadata.name.startswith("metallb")] == []
        assert admission.list_validating_webhook_configuration().items == []
        assert core.list_namespaced_service_account("metallb-system").items == []
        rbac.read_cluster_role("not-metal-lb")  # what it did not install stays
        # no controller-manager empties the namespace here: it is Terminating, or gone
        namespaces = [n for n in core.list_namespace().items if n.metadata.name == "metallb-system"]
        assert not namespaces or namespaces[0].status.phase == "Terminating"

        twice = role_play(tmp_path, "crds", dict(variables, crds_state="absent"))
        assert twice.returncode == 0 and recap(twice)["changed"] == 0, output(twice)
    finally:
        api.close()
