# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The webhook HTTPS server: MetalLB's validation paths, ``/convert`` and ``/healthz`` (I/O shell).

Decisions are ``admission`` and ``conversion``; this file reads requests, lists objects through the API
and swaps the certificate when the rotator renews it (new connections use the new one).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ...engine.config.modes import DEFAULT_BGP_TYPE
from .admission import PATHS, ListError, handle_review
from .cert_rotator import CertificateError, CertRotator
from .conversion import conversion_response

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - the CLI checks first
    k8s_client = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.webhook")
MAX_BODY = 8 * 1024 * 1024  # the API server's own request limit is 3 MiB per object
HANDSHAKE_TIMEOUT = 10.0
# kind → (API version to list at, plural); Nodes are cluster-wide.
LISTED = {
    "IPAddressPool": ("v1beta1", "ipaddresspools"),
    "L2Advertisement": ("v1beta1", "l2advertisements"),
    "BGPAdvertisement": ("v1beta1", "bgpadvertisements"),
    "Community": ("v1beta1", "communities"),
    "BFDProfile": ("v1beta1", "bfdprofiles"),
    "BGPPeer": ("v1beta2", "bgppeers"),
}


class ApiLister:
    """``lister(kind, namespace)`` for ``admission.decide``: one list call, never a cache (see there)."""

    def __init__(self, api_client) -> None:
        self.custom = k8s_client.CustomObjectsApi(api_client)
        self.core = k8s_client.CoreV1Api(api_client)

    def __call__(self, kind: str, namespace: str) -> list:
        try:
            if kind == "Node":
                raw = self.core.list_node(_preload_content=False)
                return [dict(item, kind="Node", apiVersion="v1") for item in json.loads(raw.data)["items"]]
            version, plural = LISTED[kind]
            raw = self.custom.list_namespaced_custom_object("metallb.io", version, namespace, plural,
                                                            _preload_content=False)
            return [dict(item, kind=kind, apiVersion="metallb.io/" + version)
                    for item in json.loads(raw.data)["items"]]
        except ApiException as exc:
            where = "" if kind == "Node" else " in namespace %s" % namespace
            raise ListError("failed to get existing %s objects%s: %s %s"
                            % (kind, where, exc.status, exc.reason)) from exc
        except (OSError, ValueError, KeyError) as exc:
            raise ListError("failed to get existing %s objects: %s" % (kind, exc)) from exc


class _Handler(BaseHTTPRequestHandler):
    server_version = "metal-lb-webhook"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.request.settimeout(HANDSHAKE_TIMEOUT)
        self.request.do_handshake()
        super().setup()

    def log_message(self, fmt: str, *args) -> None:  # the access log goes to debug
        LOG.debug("webhook %s: " + fmt, self.client_address[0], *args)

    def _reply(self, code: int, body: dict | str) -> None:
        data = (json.dumps(body) if isinstance(body, dict) else body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path in ("/healthz", "/readyz"):
            self._reply(200, "ok")
        else:
            self._reply(404, "not found")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path not in PATHS and path != "/convert":
            self._reply(404, "not found")
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._reply(400, "a JSON body of at most %d bytes is expected" % MAX_BODY)
            return
        try:
            review = json.loads(self.rfile.read(length))
        except ValueError as exc:
            self._reply(400, "not JSON: %s" % exc)
            return
        owner: WebhookServer = self.server.owner  # type: ignore[attr-defined]
        if path == "/convert":
            answer = conversion_response(review)
        else:
            answer = handle_review(path, review, owner.lister, **owner.options)
            response = answer["response"]
            if not response["allowed"]:
                LOG.info("denied %s: %s", path, response["status"]["message"])
        self._reply(200, answer)


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: WebhookServer

    def __init__(self, address, owner: WebhookServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        """A client that fails the TLS handshake or hangs up is not the server's error."""
        LOG.debug("webhook connection from %s failed", client_address[0], exc_info=True)

    def get_request(self):
        sock, addr = self.socket.accept()
        return self.owner.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr


class WebhookServer:
    """Serve the webhooks on ``bind:port`` with the rotator's certificate; ``run`` re-syncs it every
    ``check_seconds`` (renewal, another replica's renewal, a CA bundle lost by a re-applied manifest)."""

    def __init__(self, api_client, rotator: CertRotator, *, bind: str, port: int, namespace: str,
                 any_namespace: bool = False, bgp_type: str = DEFAULT_BGP_TYPE, check_seconds: float = 60.0) -> None:
        self.rotator = rotator
        self.lister = ApiLister(api_client)
        self.options = {"namespace": namespace, "any_namespace": any_namespace, "bgp_type": bgp_type}
        self.bind = bind
        self.port = port
        self.check_seconds = check_seconds
        self.context: ssl.SSLContext | None = None
        self._server: _TLSServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _load(self) -> None:
        """Build a new server context from the rotator's bundle (files only for the moment of loading)."""
        bundle = self.rotator.bundle
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        with tempfile.TemporaryDirectory(prefix="metal-lb-webhook-") as tmp:
            cert, key = os.path.join(tmp, "tls.crt"), os.path.join(tmp, "tls.key")
            for path, data in ((cert, bundle["tls.crt"]), (key, bundle["tls.key"])):
                with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
                    handle.write(data)
            context.load_cert_chain(cert, key)
        self.context = context

    def start(self) -> None:
        """Certificate first (raises CertificateError, or OSError when the port is taken), then listen, then
        publish the CA: once the CA is in the registrations the server answers."""
        self.rotator.bundle = self.rotator.ensure_secret()
        self._load()
        self._server = _TLSServer((self.bind, self.port), self)
        self.port = self._server.server_address[1]
        serve = threading.Thread(target=self._server.serve_forever, name="webhook-server", daemon=True)
        serve.start()
        for what in self.rotator.inject_ca(self.rotator.bundle["ca.crt"]):
            LOG.info("webhook CA written into %s", what)
        watch = threading.Thread(target=self._watch, name="webhook-certificates", daemon=True)
        watch.start()
        self._threads = [serve, watch]
        LOG.info("webhooks served on %s:%d", self.bind, self.port)

    def _watch(self) -> None:
        while not self._stop.wait(self.check_seconds):
            try:
                if self.rotator.sync():
                    self._load()
                    LOG.info("webhook certificate reloaded")
            except (CertificateError, ApiException, OSError, ValueError) as exc:
                LOG.warning("webhook certificate check failed (serving the current one): %s", exc)

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
