# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for tests that talk to a Kubernetes API.

- ``lab_api``: a lab API server (session-wide) started as a separate process; yields its kubeconfig
  path; killed by PID at teardown.
- ``lab_api_factory``: start extra lab API servers with their own options (small watch history,
  ``--state``, a fixed port, a CRD directory); every one is killed at teardown, also on failure.
- ``kubeconfig``: the API under test: ``METAL_LB_TEST_KUBECONFIG`` when set (a real cluster), else the
  lab API. Tests that use it must pass against both.
- ``make_client``: ``make_client(kubeconfig_path)`` → ApiClient, closed at teardown.
- ``kube_client``: a ``kubernetes.client.ApiClient`` for ``kubeconfig``.
- ``namespace``: a fresh, labelled namespace on that API, deleted afterwards.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config
except ImportError:  # pragma: no cover - the kubernetes client is a test requirement
    k8s_client = None

import ansible_collections.metal.lb.plugins.module_utils.lab_api as lab_api_package

MODULE = "ansible_collections.metal.lb.plugins.module_utils.lab_api"
TEST_LABEL = "metal-lb-test"
START_TIMEOUT = 20.0


def _import_root() -> str:
    """The directory that holds ``ansible_collections`` (so the child process imports the same code)."""
    path = os.path.abspath(lab_api_package.__file__)
    while os.path.basename(path) != "ansible_collections":
        parent = os.path.dirname(path)
        if parent == path:
            raise RuntimeError(f"cannot find the ansible_collections root of {lab_api_package.__file__}")
        path = parent
    return os.path.dirname(path)


class LabApiProcess:
    """One lab API server process; ``stop()`` (SIGTERM, then SIGKILL) acts only on its own PID."""

    def __init__(self, workdir: str, *args: str) -> None:
        self.kubeconfig = os.path.join(workdir, f"kubeconfig-{uuid.uuid4().hex[:8]}.yaml")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_import_root(), env.get("PYTHONPATH")) if p)
        self.stderr_path = self.kubeconfig + ".log"
        self._stderr = open(self.stderr_path, "w", encoding="utf-8")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--host", "127.0.0.1", "--kubeconfig-out", self.kubeconfig, *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=env,
        )
        self.pid = self.proc.pid
        try:
            self.port = self._read_port()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _read_port(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lab API exited with {self.proc.returncode}: {self.log()}")
            ready, _writable, _errors = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if line.strip().isdigit():
                    return int(line)
        raise RuntimeError(f"lab API did not report its port within {START_TIMEOUT:.0f}s: {self.log()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/readyz", timeout=2) as resp:
                    if resp.status == 200 and os.path.exists(self.kubeconfig):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"lab API not ready within {START_TIMEOUT:.0f}s: {self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            with open(self.stderr_path, encoding="utf-8") as handle:
                return handle.read()[-4000:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM (the server saves --state and exits), SIGKILL if it does not within ``timeout``."""
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(timeout=timeout)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr.close()
        return self.proc.returncode


@pytest.fixture(scope="session")
def _lab_workdir(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("lab-api"))


@pytest.fixture(scope="session")
def lab_api_server(_lab_workdir):
    server = LabApiProcess(_lab_workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lab_api(lab_api_server) -> str:
    """Kubeconfig path of the session's lab API server."""
    return lab_api_server.kubeconfig


@pytest.fixture
def lab_api_factory(tmp_path):
    started: list[LabApiProcess] = []

    def start(*args: str) -> LabApiProcess:
        server = LabApiProcess(str(tmp_path), *args)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture(scope="session")
def kubeconfig(request) -> str:
    """The API under test: a real cluster via METAL_LB_TEST_KUBECONFIG, else the lab API."""
    real = os.environ.get("METAL_LB_TEST_KUBECONFIG")
    if real:
        return real
    return request.getfixturevalue("lab_api")


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
        yield name
    finally:
        try:
            core.delete_namespace(name)
        except k8s_client.exceptions.ApiException as exc:
            if exc.status != 404:
                raise
