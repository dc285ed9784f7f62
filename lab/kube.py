# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Kubernetes control plane for the lab and the tests: etcd and kube-apiserver.

The binaries are the ones ``make k8s`` builds from the pinned Go module in ``lab/k8s`` (into
``build/bin``). One class starts them with generated certificates and service-account keys,
``--authorization-mode=Node,RBAC``, the lab's Service CIDR, waits for ``/readyz``, applies
``manifests/`` with the built kubectl, and stops both processes (by PID) on exit and on failure:

    with KubeCluster(workdir) as cluster:          # 127.0.0.1, free ports
        cluster.admin_kubeconfig                   # system:masters, for tests and the lab driver
        cluster.token_kubeconfig("controller")     # the controller's ServiceAccount (TokenRequest)

There is no controller-manager, scheduler or kubelet: whoever needs Nodes, EndpointSlices or
namespaced ServiceAccounts writes them through the API (the lab does).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from .lifecycle import StartStop

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / "build" / "bin"
MANIFESTS = ROOT / "manifests"
METALLB_NS = "metallb-system"
# Cluster IPs only ever live in the API server's allocator: nothing routes them.
SERVICE_CIDR = "203.0.113.0/24,2001:db8:ffff::/112"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
START_TIMEOUT = 90.0
TOKEN_SECONDS = 24 * 3600

Spawn = Callable[[list, str], subprocess.Popen]


class KubeError(RuntimeError):
    """The control plane could not be built, started or reached (the message says which)."""


def binary(name: str) -> str:
    return str(BIN / name)


def missing_binaries() -> str | None:
    """Why the control plane cannot start here (None: it can)."""
    absent = [n for n in ("etcd", "kube-apiserver", "kubectl") if not os.access(binary(n), os.X_OK)]
    if absent:
        return "%s not built: run `make k8s` (builds them into %s)" % (", ".join(absent), BIN)
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------- certificates


class Pki:
    """A throw-away CA, the API server's serving certificate, an admin client certificate and
    the service-account signing key, written as PEM files into ``directory``."""

    def __init__(self, directory: str, hosts: Sequence[str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        self.directory = directory
        os.makedirs(directory, mode=0o700, exist_ok=True)
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        later = now + datetime.timedelta(days=7)

        def name(common: str, org: str | None = None) -> x509.Name:
            attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common)]
            if org:
                attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
            return x509.Name(attrs)

        def key_pem(key) -> bytes:
            return key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )

        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = name("metal-lb-lab-ca")
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(later)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )

        def issue(subject: x509.Name, usage, sans: list | None = None):
            key = ec.generate_private_key(ec.SECP256R1())
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(later)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            )
            if sans:
                builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
            return key, builder.sign(ca_key, hashes.SHA256())

        sans: list = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        server_key, server = issue(name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
        admin_key, admin = issue(name("metal-lb-lab-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH)
        sa_key = ec.generate_private_key(ec.SECP256R1())

        pem = serialization.Encoding.PEM
        self.ca_pem = ca.public_bytes(pem)
        self.admin_cert_pem, self.admin_key_pem = admin.public_bytes(pem), key_pem(admin_key)
        self._write("ca.crt", self.ca_pem)
        self._write("server.crt", server.public_bytes(pem))
        self._write("server.key", key_pem(server_key))
        self._write("admin.crt", self.admin_cert_pem)
        self._write("admin.key", self.admin_key_pem)
        self._write("sa.key", key_pem(sa_key))
        self._write(
            "sa.pub",
            sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo),
        )

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name)

    def _write(self, name: str, data: bytes) -> None:
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)


def kubeconfig_text(server: str, ca_pem: bytes, user: dict, name: str = "metal-lb-lab") -> str:
    """A kubeconfig (JSON is YAML) for ``server`` with ``user`` (token or client certificate)."""
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": name,
                    "cluster": {
                        "server": server,
                        "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    },
                }
            ],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        },
        indent=2,
    )


def write_private(path: str, text: str) -> str:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return path


def url_host(host: str) -> str:
    return "[%s]" % host if ":" in host else host


# ---------------------------------------------------------------------------- the cluster


def default_spawn(argv: list, log_path: str) -> subprocess.Popen:
    with open(log_path, "a", encoding="utf-8") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


class KubeCluster(StartStop):
    """etcd + kube-apiserver. ``bind``/``port`` is where the API server listens (where its processes
    run: ``spawn`` may start them inside a network namespace); ``client_url`` is how this process
    reaches it (defaults to ``https://bind:port``); ``advertise`` is the address in-cluster clients
    use, and every name in ``hosts`` is in the serving certificate."""

    def __init__(
        self,
        workdir: str | None = None,
        *,
        bind: str = "127.0.0.1",
        port: int | None = None,
        advertise: str | None = None,
        hosts: Sequence[str] = (),
        client_url: str | None = None,
        etcd_ports: tuple[int, int] | None = None,
        spawn: Spawn | None = None,
        stop_process: Callable[[subprocess.Popen], None] | None = None,
        log: Callable[[str], None] | None = None,
        apply_manifests: bool = True,
        webhook_port: int | None = None,
    ) -> None:
        """``webhook_port``: the registrations call a controller on 127.0.0.1 there (``local_webhooks``);
        without one there are no validating webhooks (``no_webhooks``)."""
        self.own_workdir = workdir is None
        self.workdir = workdir or tempfile.mkdtemp(prefix="metal-lb-kube-")
        self.bind = bind
        self.port = port or free_port(bind if bind not in ("0.0.0.0", "::") else "127.0.0.1")
        self.advertise = advertise or (bind if bind not in ("0.0.0.0", "::") else "127.0.0.1")
        self.hosts = list(dict.fromkeys([self.advertise, "127.0.0.1", "localhost", *hosts,
                                         "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                                         "203.0.113.1"]))
        self.url = "https://%s:%d" % (url_host(self.advertise), self.port)
        self.client_url = client_url or "https://%s:%d" % (url_host("127.0.0.1" if bind in ("0.0.0.0", "::")
                                                                    else bind), self.port)
        self.etcd_ports = etcd_ports or (free_port(), free_port())
        self.spawn = spawn or default_spawn
        self.stop_process = stop_process
        self.log = log or (lambda msg: None)
        self.want_manifests = apply_manifests
        self.webhook_port = webhook_port
        self.etcd: subprocess.Popen | None = None
        self.apiserver: subprocess.Popen | None = None
        self.pki: Pki | None = None
        self.admin_kubeconfig = os.path.join(self.workdir, "admin.kubeconfig")
        self.start_seconds = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        reason = missing_binaries()
        if reason:
            raise KubeError(reason)
        began = time.monotonic()
        self.pki = Pki(os.path.join(self.workdir, "pki"), self.hosts)
        write_private(
            self.admin_kubeconfig,
            kubeconfig_text(
                self.client_url,
                self.pki.ca_pem,
                {
                    "client-certificate-data": base64.b64encode(self.pki.admin_cert_pem).decode(),
                    "client-key-data": base64.b64encode(self.pki.admin_key_pem).decode(),
                },
            ),
        )
        self.start_etcd()
        self.start_apiserver()
        self.wait_ready()
        ready = time.monotonic() - began
        if self.want_manifests:
            self.apply(str(MANIFESTS))
            if self.webhook_port:
                local_webhooks(self.admin_kubeconfig, self.webhook_port)
            else:
                no_webhooks(self.admin_kubeconfig)
        self.start_seconds = time.monotonic() - began
        self.log(
            "kube-apiserver %s ready in %.1f s (etcd + API server), %s, %.1f s in all"
            % (self.url, ready, "manifests applied" if self.want_manifests else "no manifests", self.start_seconds)
        )

    def start_etcd(self) -> None:
        client, peer = self.etcd_ports
        self.etcd = self.spawn(
            [
                binary("etcd"),
                "--name=lab",
                "--data-dir=" + os.path.join(self.workdir, "etcd"),
                "--listen-client-urls=http://127.0.0.1:%d" % client,
                "--advertise-client-urls=http://127.0.0.1:%d" % client,
                "--listen-peer-urls=http://127.0.0.1:%d" % peer,
                "--initial-advertise-peer-urls=http://127.0.0.1:%d" % peer,
                "--initial-cluster=lab=http://127.0.0.1:%d" % peer,
                "--listen-metrics-urls=",
                # A throw-away store: durability costs start-up and write latency for nothing.
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
            os.path.join(self.workdir, "etcd.log"),
        )

    def apiserver_argv(self) -> list[str]:
        assert self.pki is not None
        client, _peer = self.etcd_ports
        return [
            binary("kube-apiserver"),
            "--etcd-servers=http://127.0.0.1:%d" % client,
            "--bind-address=" + self.bind,
            "--secure-port=%d" % self.port,
            "--advertise-address=" + self.advertise,
            "--tls-cert-file=" + self.pki.path("server.crt"),
            "--tls-private-key-file=" + self.pki.path("server.key"),
            "--client-ca-file=" + self.pki.path("ca.crt"),
            "--service-account-key-file=" + self.pki.path("sa.pub"),
            "--service-account-signing-key-file=" + self.pki.path("sa.key"),
            "--service-account-issuer=" + SERVICE_ACCOUNT_ISSUER,
            "--service-cluster-ip-range=" + SERVICE_CIDR,
            "--authorization-mode=Node,RBAC",
            # No kubelet or controller-manager: nothing else maintains the "kubernetes" Endpoints.
            "--endpoint-reconciler-type=none",
            # Webhooks and conversion registered by Service name resolve to that Service's endpoints,
            # never to its cluster IP: nothing routes cluster IPs here, so a dial of one could only
            # leave through the host's default route.
            "--enable-aggregator-routing=true",
            "--allow-privileged=false",
            "--profiling=false",
            "--v=1",
        ]

    def start_apiserver(self) -> None:
        self.apiserver = self.spawn(self.apiserver_argv(), os.path.join(self.workdir, "kube-apiserver.log"))

    def stop_apiserver(self) -> None:
        """Stop only kube-apiserver (an API outage); ``restart_apiserver`` brings it back on the same
        etcd, certificates and port."""
        proc, self.apiserver = self.apiserver, None
        if proc is not None:
            self._stop(proc)

    def restart_apiserver(self) -> None:
        self.start_apiserver()
        self.wait_ready()

    def _stop(self, proc: subprocess.Popen) -> None:
        if self.stop_process is not None:
            self.stop_process(proc)
        elif proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop(self) -> None:
        """Stop kube-apiserver, then etcd (SIGTERM, SIGKILL after 10 s), and remove an own workdir."""
        for attr in ("apiserver", "etcd"):
            proc = getattr(self, attr)
            if proc is not None:
                self._stop(proc)
            setattr(self, attr, None)
        if self.own_workdir and not os.environ.get("METAL_LB_LAB_KEEP_LOGS"):
            shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self, name: str = "kube-apiserver", tail: int = 3000) -> str:
        try:
            with open(os.path.join(self.workdir, name + ".log"), encoding="utf-8", errors="replace") as fh:
                return fh.read()[-tail:]
        except OSError:
            return ""

    # ------------------------------------------------------------------ access

    def ssl_context(self) -> ssl.SSLContext:
        assert self.pki is not None
        context = ssl.create_default_context(cafile=self.pki.path("ca.crt"))
        context.load_cert_chain(self.pki.path("admin.crt"), self.pki.path("admin.key"))
        return context

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        context = self.ssl_context()
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for name, proc in (("etcd", self.etcd), ("kube-apiserver", self.apiserver)):
                if proc is not None and proc.poll() is not None:
                    raise KubeError("%s exited with %s:\n%s" % (name, proc.returncode, self.logs(name)))
            try:
                with urllib.request.urlopen(self.client_url + "/readyz", timeout=2, context=context) as resp:
                    if resp.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = "HTTP %d" % exc.code
            except OSError as exc:
                last = str(exc)
            time.sleep(0.1)
        raise KubeError(
            "kube-apiserver not ready within %.0f s (%s):\n%s" % (timeout, last, self.logs())
        )

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120, **kw) -> subprocess.CompletedProcess:
        return kubectl(self.admin_kubeconfig, *args, check=check, timeout=timeout, **kw)

    def apply(self, path: str) -> None:
        apply_manifests(self.admin_kubeconfig, path)

    def token(self, service_account: str, namespace: str = METALLB_NS, seconds: int = TOKEN_SECONDS) -> str:
        return request_token(self.admin_kubeconfig, service_account, namespace, seconds)

    def token_kubeconfig(self, service_account: str, namespace: str = METALLB_NS, *, server: str | None = None,
                         path: str | None = None) -> str:
        """A kubeconfig authenticating as ``namespace/service_account`` (a TokenRequest token), for
        ``server`` (default: the in-cluster address)."""
        assert self.pki is not None
        path = path or os.path.join(self.workdir, "%s-%s.kubeconfig" % (namespace, service_account))
        return write_private(
            path,
            kubeconfig_text(server or self.url, self.pki.ca_pem, {"token": self.token(service_account, namespace)}),
        )


# ---------------------------------------------------------------------------- any cluster


def kubectl(kubeconfig: str, *args: str, check: bool = True, timeout: float = 120,
            **kw) -> subprocess.CompletedProcess:
    """The built kubectl against ``kubeconfig``; a failure raises KubeError with its output."""
    out = subprocess.run(
        [binary("kubectl"), "--kubeconfig", kubeconfig, *args],
        capture_output=True, text=True, timeout=timeout, check=False, **kw,
    )
    if check and out.returncode != 0:
        raise KubeError("kubectl %s: %s" % (" ".join(args), (out.stderr or out.stdout).strip()))
    return out


def apply_manifests(kubeconfig: str, path: str = str(MANIFESTS)) -> None:
    """``kubectl apply -k`` (a kustomization) or ``-f``, then wait until the CRDs are established."""
    flag = "-k" if os.path.exists(os.path.join(path, "kustomization.yaml")) else "-f"
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", flag, path)
    kubectl(kubeconfig, "wait", "--for=condition=Established", "--timeout=60s", "crd",
            "-l", "app.kubernetes.io/part-of=metal-lb")


WEBHOOKS_OFF_LABEL = "metal-lb.test/webhooks"  # = "off": the lab's webhooks skip the namespace


def local_webhooks(kubeconfig: str, port: int, host: str = "127.0.0.1") -> None:
    """Lab and tests only: point the webhook registrations at ``https://host:port`` instead of the
    metallb-webhook-service Service. The controller runs beside the API server (same network namespace),
    and without kube-proxy or a cluster network a Service address leads nowhere; ``manifests/`` keeps the
    Service for real clusters. Namespaces labelled ``WEBHOOKS_OFF_LABEL=off`` are not validated: tests of
    what the daemons do with an invalid configuration (one that got in while no webhook answered) need
    to write one."""
    base = "https://%s:%d" % (url_host(host), port)
    name = "metallb-webhook-configuration"
    config = json.loads(kubectl(kubeconfig, "get", "validatingwebhookconfiguration", name, "-o", "json").stdout)
    patch = []
    for index, hook in enumerate(config.get("webhooks") or []):
        path = ((hook.get("clientConfig") or {}).get("service") or {}).get("path") or ""
        if not path:
            continue
        patch += [{"op": "test", "path": "/webhooks/%d/name" % index, "value": hook["name"]},
                  {"op": "replace", "path": "/webhooks/%d/clientConfig" % index, "value": {"url": base + path}},
                  {"op": "add", "path": "/webhooks/%d/namespaceSelector" % index, "value": {"matchExpressions": [
                      {"key": WEBHOOKS_OFF_LABEL, "operator": "NotIn", "values": ["off"]}]}}]
    if patch:
        kubectl(kubeconfig, "patch", "validatingwebhookconfiguration", name, "--type=json", "-p", json.dumps(patch))
    kubectl(kubeconfig, "patch", "crd", "bgppeers.metallb.io", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/conversion/webhook/clientConfig", "value": {"url": base + "/convert"}}]))


def no_webhooks(kubeconfig: str) -> None:
    """A control plane without a webhook controller: no validation, and BGPPeer conversion pointed at a
    closed loopback port (v1beta2, the storage version, needs none). Never leave the registrations on the
    Service: with no cluster DNS the API server would resolve its name however the machine does."""
    kubectl(kubeconfig, "delete", "validatingwebhookconfiguration", "metallb-webhook-configuration",
            "--ignore-not-found")
    kubectl(kubeconfig, "patch", "crd", "bgppeers.metallb.io", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": "/spec/conversion/webhook/clientConfig",
          "value": {"url": "https://127.0.0.1:9/convert"}}]))


def wait_webhooks_ready(kubeconfig: str, timeout: float = 60.0, alive: Callable[[], bool] | None = None) -> None:
    """Until the controller has written its CA into both registrations: it does so once it listens."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise KubeError("the controller serving the webhooks exited")
        config = json.loads(kubectl(kubeconfig, "get", "validatingwebhookconfiguration",
                                    "metallb-webhook-configuration", "-o", "json").stdout)
        crd = json.loads(kubectl(kubeconfig, "get", "crd", "bgppeers.metallb.io", "-o", "json").stdout)
        bundles = [(h.get("clientConfig") or {}).get("caBundle") for h in config.get("webhooks") or []]
        bundles.append(crd["spec"]["conversion"]["webhook"]["clientConfig"].get("caBundle"))
        if all(bundles) and len(set(bundles)) == 1:
            return
        last = "%d of %d CA bundles written" % (sum(1 for b in bundles if b), len(bundles))
        time.sleep(0.2)
    raise KubeError("the webhooks did not become ready within %.0f s (%s)" % (timeout, last))


def request_token(kubeconfig: str, service_account: str, namespace: str = METALLB_NS,
                  seconds: int = TOKEN_SECONDS) -> str:
    """A bound token for the ServiceAccount, from the TokenRequest API (as kubelets get them)."""
    out = kubectl(kubeconfig, "create", "token", service_account, "-n", namespace, "--duration", "%ds" % seconds)
    return out.stdout.strip()


def token_kubeconfig_for(kubeconfig: str, service_account: str, namespace: str, path: str) -> str:
    """Like ``KubeCluster.token_kubeconfig`` for any cluster: same server and CA as ``kubeconfig``."""
    view = json.loads(kubectl(kubeconfig, "config", "view", "--raw", "--minify", "-o", "json").stdout)
    cluster = view["clusters"][0]["cluster"]
    ca_data = cluster.get("certificate-authority-data")
    if ca_data:
        ca_pem = base64.b64decode(ca_data)
    elif cluster.get("certificate-authority"):
        with open(cluster["certificate-authority"], "rb") as handle:
            ca_pem = handle.read()
    else:
        ca_pem = b""
    user = {"token": request_token(kubeconfig, service_account, namespace)}
    text = kubeconfig_text(cluster["server"], ca_pem, user)
    if not ca_pem:
        config = json.loads(text)
        del config["clusters"][0]["cluster"]["certificate-authority-data"]
        config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = bool(cluster.get("insecure-skip-tls-verify"))
        text = json.dumps(config, indent=2)
    return write_private(path, text)


def main(argv: list[str] | None = None) -> int:
    """``python -m lab.kube``: start a cluster on 127.0.0.1, print its kubeconfig, run until ^C."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lab.kube", description=main.__doc__)
    parser.add_argument("--workdir", help="keep certificates, etcd data and logs here")
    parser.add_argument("--webhook-port", type=int, default=None,
                        help="point the webhook registrations at a controller on 127.0.0.1:PORT")
    args = parser.parse_args(argv)
    cluster = KubeCluster(args.workdir, log=lambda msg: print(msg, flush=True), webhook_port=args.webhook_port)
    try:
        cluster.start()
        print("kubeconfig: %s" % cluster.admin_kubeconfig, flush=True)
        print("try: %s --kubeconfig %s get crd" % (binary("kubectl"), cluster.admin_kubeconfig), flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except KubeError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    sys.exit(main())
