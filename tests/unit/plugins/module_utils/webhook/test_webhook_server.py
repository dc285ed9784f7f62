# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The webhook HTTPS server on 127.0.0.1: routes, TLS with the rotator's certificate, certificate swap."""

from __future__ import annotations

import datetime
import json
import socket
import ssl

import pytest

pytest.importorskip("cryptography")
pytest.importorskip("kubernetes")

from ansible_collections.metal.lb.plugins.module_utils.adapters.webhook.certificates import new_bundle  # noqa: E402
from ansible_collections.metal.lb.plugins.module_utils.adapters.webhook.server import WebhookServer  # noqa: E402

NOW = datetime.datetime.now(datetime.timezone.utc)


class FakeRotator:
    def __init__(self) -> None:
        self.bundle = {}
        self.next = new_bundle(["127.0.0.1"], NOW)
        self.injected: list[bytes] = []

    def ensure_secret(self):
        return self.next

    def inject_ca(self, ca_pem: bytes) -> list[str]:
        self.injected.append(ca_pem)
        return []

    def sync(self) -> bool:
        changed = self.next["tls.crt"] != self.bundle.get("tls.crt")
        self.bundle = self.next
        return changed


@pytest.fixture
def server():
    rotator = FakeRotator()
    srv = WebhookServer(None, rotator, bind="127.0.0.1", port=0, namespace="metallb-system", check_seconds=3600)
    srv.lister = lambda kind, namespace: [
        {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
         "metadata": {"name": "first", "namespace": namespace}, "spec": {"addresses": ["198.51.100.0/28"]}}
    ] if kind == "IPAddressPool" else []
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def request(srv: WebhookServer, method: str, path: str, body: dict | None = None) -> tuple[int, bytes, bytes]:
    """(status, body, the server's certificate in DER), trusting only the rotator's CA."""
    context = ssl.create_default_context(cadata=srv.rotator.bundle["ca.crt"].decode())
    data = json.dumps(body).encode() if body is not None else b""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            cert = tls.getpeercert(binary_form=True)
            tls.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                        b"Connection: close\r\n\r\n%s" % (method.encode(), path.encode(), len(data), data))
            raw = b""
            while True:
                chunk = tls.recv(65536)
                if not chunk:
                    break
                raw += chunk
    head, _sep, payload = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload, cert


def pool_review(name: str, addresses: list[str]) -> dict:
    obj = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
           "metadata": {"name": name, "namespace": "metallb-system"}, "spec": {"addresses": addresses}}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "kind": {"group": "metallb.io", "version": "v1beta1", "kind": "IPAddressPool"},
                        "operation": "CREATE", "namespace": "metallb-system", "object": obj}}


def test_an_admission_review_is_answered_over_tls_with_the_ca_published(server):
    assert server.rotator.injected == [server.rotator.bundle["ca.crt"]]
    status, body, _cert = request(server, "POST", "/validate-metallb-io-v1beta1-ipaddresspool",
                                  pool_review("second", ["198.51.100.8/29"]))
    assert status == 200
    response = json.loads(body)["response"]
    assert response["allowed"] is False and "overlaps with already defined CIDR" in response["status"]["message"]
    status, body, _cert = request(server, "POST", "/validate-metallb-io-v1beta1-ipaddresspool",
                                  pool_review("second", ["203.0.113.0/29"]))
    assert json.loads(body)["response"] == {"uid": "u", "allowed": True}


def test_conversion_health_and_unknown_paths(server):
    review = {"request": {"uid": "c", "desiredAPIVersion": "metallb.io/v1beta1", "objects": [
        {"apiVersion": "metallb.io/v1beta2", "kind": "BGPPeer", "metadata": {"name": "r"}, "spec": {"vrf": "x"}}]}}
    status, body, _cert = request(server, "POST", "/convert", review)
    assert status == 200
    assert json.loads(body)["response"]["convertedObjects"][0]["spec"] == {}
    assert request(server, "GET", "/healthz")[:2] == (200, b"ok")
    assert request(server, "POST", "/nothing-here", {})[0] == 404
    assert request(server, "POST", "/convert")[0] == 400  # no body


def test_a_renewed_certificate_is_served_to_new_connections(server):
    before = request(server, "GET", "/healthz")[2]
    server.rotator.next = new_bundle(["127.0.0.1"], NOW)
    assert server.rotator.sync() is True
    server._load()  # what the periodic check does after a renewal
    after = request(server, "GET", "/healthz")[2]
    assert after != before
