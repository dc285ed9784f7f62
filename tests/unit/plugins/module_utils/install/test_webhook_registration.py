# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.metal.lb.plugins.module_utils.engine.install.webhook_registration import (
    RegistrationError,
    registration,
)

MANIFESTS = Path(__file__).resolve().parents[5] / "manifests"


def shipped() -> list[dict]:
    objects = []
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects += list(yaml.safe_load_all(path.read_text()))
    return objects


def test_url_registration_points_every_webhook_and_the_conversion_at_the_url():
    out = registration(shipped(), mode="url", url="https://127.0.0.1:9443/")
    config = next(o for o in out if o["kind"] == "ValidatingWebhookConfiguration")
    urls = [h["clientConfig"] for h in config["webhooks"]]
    assert urls and all(set(c) == {"url"} and c["url"].startswith("https://127.0.0.1:9443/validate-metallb-io-")
                        for c in urls)
    crd = next(o for o in out if o["metadata"]["name"] == "bgppeers.metallb.io")
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"] == {"url": "https://127.0.0.1:9443/convert"}
    assert not any(o["kind"] in ("Endpoints", "EndpointSlice") for o in out)
    # the input is not modified
    assert "service" in next(o for o in shipped() if o["kind"] == "ValidatingWebhookConfiguration")[
        "webhooks"][0]["clientConfig"]


def test_service_registration_adds_every_controller_host_as_an_endpoint_per_family():
    out = registration(shipped(), addresses=["198.51.100.11", "2001:db8::11", "198.51.100.12", "198.51.100.11"],
                       port=9443)
    endpoints = next(o for o in out if o["kind"] == "Endpoints")
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == ["198.51.100.11", "198.51.100.12",
                                                                       "2001:db8::11"]
    assert endpoints["metadata"]["labels"]["endpointslice.kubernetes.io/skip-mirror"] == "true"
    slices = {o["addressType"]: o for o in out if o["kind"] == "EndpointSlice"}
    assert sorted(slices) == ["IPv4", "IPv6"]
    assert [e["addresses"] for e in slices["IPv4"]["endpoints"]] == [["198.51.100.11"], ["198.51.100.12"]]
    assert slices["IPv6"]["metadata"]["labels"]["kubernetes.io/service-name"] == "metallb-webhook-service"
    assert slices["IPv4"]["ports"] == [{"name": "webhook", "port": 9443, "protocol": "TCP"}]
    config = next(o for o in out if o["kind"] == "ValidatingWebhookConfiguration")
    assert all("service" in h["clientConfig"] for h in config["webhooks"])


@pytest.mark.parametrize("kwargs, fragment", [
    ({"mode": "url", "url": "http://127.0.0.1:9443"}, "must be https://HOST:PORT"),
    ({"mode": "url", "url": "https://127.0.0.1:9443/x"}, "must not have a path"),
    ({"mode": "url"}, "required with the url registration"),
    ({"addresses": []}, "needs the controller hosts' addresses"),
    ({"addresses": ["127.0.0.1"]}, "cannot call a loopback"),
    ({"addresses": ["node1"]}, "'node1': not an IP address"),
    ({"addresses": ["198.51.100.11"], "port": 0}, "port 0: must be 1-65535"),
    ({"mode": "dns"}, "'dns': one of service, url"),
])
def test_registrations_it_cannot_make_are_refused_with_the_input_named(kwargs, fragment):
    with pytest.raises(RegistrationError, match=fragment.replace(".", r"\.").replace("/", "/")):
        registration(shipped(), **kwargs)
