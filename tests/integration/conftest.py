# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for tests that talk to a Kubernetes API: a real kube-apiserver with etcd.

- ``kube_cluster``: the session's own control plane (``lab/kube.py``: etcd + kube-apiserver built by
  ``make k8s``, RBAC enforced, ``manifests/`` applied), or None when ``METAL_LB_TEST_KUBECONFIG``
  points at a cluster of your own. Its webhooks are served for the whole session by a controller in
  ``--webhook-mode onlywebhook`` (``webhook_controller``), as the controller ServiceAccount, so every
  write a test makes is validated as users' are; it judges each test namespace's objects with the
  objects of that namespace (``--webhook-any-namespace``). Tests' own controllers run with
  ``--webhook-mode disabled``.
- ``kubeconfig``: an administrator's kubeconfig for the API under test. Tests that use it must pass
  against both.
- ``daemon_kubeconfig``: ``daemon_kubeconfig("controller" | "speaker", config_namespace)`` → a
  kubeconfig with that ServiceAccount's own token (TokenRequest), bound only by ``manifests/rbac``; the
  shipped Role is granted in ``config_namespace`` too, as it is in ``metallb-system``.
- ``make_client``: ``make_client(kubeconfig_path)`` → ApiClient, closed at teardown.
- ``kube_client``: a ``kubernetes.client.ApiClient`` for ``kubeconfig``.
- ``namespace``: a fresh, labelled namespace, emptied of Services and deleted afterwards (there is no
  controller-manager to empty it, and no later test may see its Services). The controller's shipped
  Role is granted there, as in metallb-system: the session's webhooks list the namespace's objects.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
except ImportError:  # pragma: no cover - the kubernetes client is a test requirement
    k8s_client = None

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from lab import kube  # noqa: E402

TEST_LABEL = "metal-lb-test"
RBAC = ROOT / "manifests" / "rbac"


@pytest.fixture(scope="session")
def kube_cluster(tmp_path_factory):
    """The session's own API server (None with METAL_LB_TEST_KUBECONFIG)."""
    if os.environ.get("METAL_LB_TEST_KUBECONFIG"):
        yield None
        return
    reason = kube.missing_binaries()
    if reason:
        pytest.fail("integration tests need the real API server: %s" % reason, pytrace=False)
    cluster = kube.KubeCluster(str(tmp_path_factory.mktemp("kube")), log=lambda msg: print("\n" + msg),
                               webhook_port=kube.free_port())
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    try:
        with webhook_controller(cluster):
            yield cluster
    finally:
        cluster.stop()


class webhook_controller:  # noqa: N801 - used as a context manager, like open()
    """The session's webhooks: ``metal-lb controller --webhook-mode onlywebhook`` on the port the
    cluster's registrations point at, as the controller ServiceAccount (config namespace metallb-system)."""

    def __init__(self, cluster) -> None:
        self.cluster = cluster
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(cluster.workdir, "webhook-controller.log")

    def __enter__(self):
        credentials = self.cluster.token_kubeconfig("controller", path=os.path.join(
            self.cluster.workdir, "webhook-controller.kubeconfig"))
        with open(self.log_path, "w", encoding="utf-8") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "bin" / "metal-lb"), "controller", "--kubeconfig", credentials,
                 "--namespace", kube.METALLB_NS, "--webhook-mode", "onlywebhook", "--webhook-bind", "127.0.0.1",
                 "--webhook-port", str(self.cluster.webhook_port), "--webhook-any-namespace",
                 "--metrics-port", "0", "--log-level", "debug"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            kube.wait_webhooks_ready(self.cluster.admin_kubeconfig, alive=lambda: self.proc.poll() is None)
        except BaseException:
            self.__exit__()
            with open(self.log_path, encoding="utf-8") as log:
                print(log.read()[-4000:])
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture(scope="session")
def kubeconfig(kube_cluster) -> str:
    """The API under test: a real cluster via METAL_LB_TEST_KUBECONFIG, else the session's own."""
    real = os.environ.get("METAL_LB_TEST_KUBECONFIG")
    if real:
        kube.apply_manifests(real)
        return real
    return kube_cluster.admin_kubeconfig


def api_client(kubeconfig_path: str):
    if k8s_client is None:
        pytest.skip("the kubernetes Python client is not installed")
    configuration = k8s_client.Configuration()
    k8s_config.load_kube_config(config_file=kubeconfig_path, client_configuration=configuration)
    return k8s_client.ApiClient(configuration)


@pytest.fixture
def make_client():
    """``make_client(kubeconfig_path)`` → ApiClient; all are closed at teardown."""
    made = []

    def make(kubeconfig_path: str):
        api = api_client(kubeconfig_path)
        made.append(api)
        return api

    try:
        yield make
    finally:
        for api in made:
            api.close()


@pytest.fixture
def kube_client(kubeconfig):
    api = api_client(kubeconfig)
    try:
        yield api
    finally:
        api.close()


def shipped_role(daemon: str, namespace: str) -> tuple[dict, dict]:
    """The shipped Role and RoleBinding of ``daemon``, placed in ``namespace``."""
    role = yaml.safe_load((RBAC / ("%s-role.yaml" % daemon)).read_text())
    binding = yaml.safe_load((RBAC / ("%s-rolebinding.yaml" % daemon)).read_text())
    role["metadata"]["namespace"] = binding["metadata"]["namespace"] = namespace
    return role, binding


def grant_shipped_role(rbac, daemon: str, namespace: str) -> None:
    """The shipped Role and RoleBinding of ``daemon`` in ``namespace`` (kept if already there)."""
    role, binding = shipped_role(daemon, namespace)
    for create, body in ((rbac.create_namespaced_role, role), (rbac.create_namespaced_role_binding, binding)):
        try:
            create(namespace, body)
        except k8s_client.exceptions.ApiException as exc:
            if exc.status != 409:
                raise


@pytest.fixture
def daemon_kubeconfig(kubeconfig, kube_client, tmp_path):
    """``daemon_kubeconfig(daemon, config_namespace)``: the daemon's own ServiceAccount credentials."""
    rbac = k8s_client.RbacAuthorizationV1Api(kube_client)

    def make(daemon: str, config_namespace: str = kube.METALLB_NS) -> str:
        if config_namespace != kube.METALLB_NS:
            grant_shipped_role(rbac, daemon, config_namespace)
        path = str(tmp_path / ("%s-%s.kubeconfig" % (daemon, uuid.uuid4().hex[:6])))
        return kube.token_kubeconfig_for(kubeconfig, daemon, kube.METALLB_NS, path)

    return make


def without_webhooks(api_client, namespace: str, timeout: float = 15.0) -> None:
    """Let ``namespace`` hold what the webhooks refuse, as if it was written while no controller answered
    (the session's registrations skip namespaces labelled so; see lab/kube.py). Returns once the API
    server applies the label: a self-overlapping pool passes a dry run."""
    core = k8s_client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {kube.WEBHOOKS_OFF_LABEL: "off"}}})
    custom = k8s_client.CustomObjectsApi(api_client)
    probe = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "webhook-probe"},
             "spec": {"addresses": ["198.51.100.0/31", "198.51.100.1/32"]}}
    deadline = time.monotonic() + timeout
    while True:
        try:
            custom.create_namespaced_custom_object("metallb.io", "v1beta1", namespace, "ipaddresspools", probe,
                                                   dry_run="All")
            return
        except k8s_client.exceptions.ApiException as exc:
            if exc.status != 403 or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def delete_namespace(core, name: str) -> None:
    """Delete the namespace's Services first: without a controller-manager the namespace itself
    stays Terminating, and its Services would still be seen by later tests' daemons."""
    for svc in core.list_namespaced_service(name).items:
        try:
            core.delete_namespaced_service(svc.metadata.name, name)
        except k8s_client.exceptions.ApiException as exc:
            if exc.status != 404:
                raise
    try:
        core.delete_namespace(name)
    except k8s_client.exceptions.ApiException as exc:
        if exc.status != 404:
            raise


@pytest.fixture
def namespace(kube_client) -> str:
    core = k8s_client.CoreV1Api(kube_client)
    created = core.create_namespace(
        k8s_client.V1Namespace(
            metadata=k8s_client.V1ObjectMeta(generate_name="mlb-test-", labels={TEST_LABEL: "true"})
        )
    )
    name = created.metadata.name
    try:
        grant_shipped_role(k8s_client.RbacAuthorizationV1Api(kube_client), "controller", name)
        yield name
    finally:
        delete_namespace(core, name)
