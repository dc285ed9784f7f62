# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the API server reaches the controller's webhooks, which run on hosts, not in pods.

Two registrations:

* ``service`` (the default, any cluster whose API server reaches Services): the shipped
  registrations keep calling ``metallb-webhook-service``, a Service without selector; this module
  writes its endpoints, the controller hosts' addresses on the controller's webhook port, as an
  ``Endpoints`` object (what an API server with ``--enable-aggregator-routing`` dials) and one
  ``EndpointSlice`` per address family (what kube-proxy routes the Service's cluster IP to). The
  Endpoints carry ``endpointslice.kubernetes.io/skip-mirror`` so the mirroring controller does not
  write a second set of slices. Every controller host is an endpoint: the API server reaches
  whichever answers, so the webhooks survive the loss of a controller host.
* ``url``: every registration (the validating webhooks and the BGPPeer conversion) calls one URL,
  ``https://host:port``. For API servers that cannot reach Services (no kube-proxy on the
  control-plane hosts) and for test clusters, whose webhooks must call 127.0.0.1. One URL means one
  controller host answers them.
"""

from __future__ import annotations

import copy
import ipaddress
from urllib.parse import urlsplit

SERVICE = "service"
URL = "url"
MODES = (SERVICE, URL)

WEBHOOK_SERVICE = "metallb-webhook-service"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "metal.lb"
PART_OF = {"app.kubernetes.io/part-of": "metal-lb", "app.kubernetes.io/component": "controller"}


class RegistrationError(ValueError):
    """A registration the inputs cannot make (names the input)."""


def check_url(url: str) -> str:
    """``https://host:port`` without a path (the registrations append theirs); returned without a
    trailing slash."""
    if not isinstance(url, str) or not url:
        raise RegistrationError("webhook url: required with the url registration")
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise RegistrationError("webhook url %r: must be https://HOST:PORT" % url)
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise RegistrationError("webhook url %r: must not have a path (each webhook adds its own)" % url)
    return url.rstrip("/")


def _service_path(client_config: dict) -> str | None:
    service = client_config.get("service") if isinstance(client_config, dict) else None
    if not isinstance(service, dict) or service.get("name") != WEBHOOK_SERVICE:
        return None
    return service.get("path") or ""


def point_at_url(objects: list[dict], url: str) -> list[dict]:
    """The objects with every client config that calls ``metallb-webhook-service`` calling ``url``."""
    base = check_url(url)
    out = []
    for obj in objects:
        obj = copy.deepcopy(obj)
        if obj.get("kind") == "ValidatingWebhookConfiguration":
            for hook in obj.get("webhooks") or []:
                path = _service_path(hook.get("clientConfig"))
                if path is not None:
                    hook["clientConfig"] = {"url": base + path}
        elif obj.get("kind") == "CustomResourceDefinition":
            webhook = ((obj.get("spec") or {}).get("conversion") or {}).get("webhook")
            if isinstance(webhook, dict):
                path = _service_path(webhook.get("clientConfig"))
                if path is not None:
                    webhook["clientConfig"] = {"url": base + (path or "/convert")}
        out.append(obj)
    return out


def _addresses(addresses: list[str]) -> dict[str, list[str]]:
    """Addresses by EndpointSlice address type, each once, in the given order."""
    families: dict[str, list[str]] = {"IPv4": [], "IPv6": []}
    for raw in addresses:
        try:
            address = ipaddress.ip_address(str(raw).strip())
        except ValueError:
            raise RegistrationError("webhook address %r: not an IP address" % raw) from None
        if address.is_loopback or address.is_unspecified or address.is_link_local or address.is_multicast:
            raise RegistrationError("webhook address %s: the API server cannot call a loopback, link-local, "
                                    "multicast or unspecified address as an endpoint (use the url "
                                    "registration for a controller on the API server's own host)" % address)
        family = "IPv4" if address.version == 4 else "IPv6"
        if str(address) not in families[family]:
            families[family].append(str(address))
    return {family: found for family, found in families.items() if found}


def _port(port: int) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise RegistrationError("webhook port %r: must be 1-65535" % (port,))
    return port


def endpoint_objects(addresses: list[str], port: int, namespace: str) -> list[dict]:
    """The Endpoints and EndpointSlices of ``metallb-webhook-service``: the controller hosts."""
    port = _port(port)
    if not addresses:
        raise RegistrationError("webhook addresses: the service registration needs the controller hosts' "
                                "addresses")
    families = _addresses(addresses)
    everyone = [a for found in families.values() for a in found]
    endpoints = {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": WEBHOOK_SERVICE, "namespace": namespace,
                     "labels": dict(PART_OF, **{SKIP_MIRROR_LABEL: "true"})},
        "subsets": [{"addresses": [{"ip": a} for a in everyone],
                     "ports": [{"name": "webhook", "port": port, "protocol": "TCP"}]}],
    }
    slices = [{
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "%s-%s" % (WEBHOOK_SERVICE, family.lower()), "namespace": namespace,
                     "labels": dict(PART_OF, **{SERVICE_NAME_LABEL: WEBHOOK_SERVICE, MANAGED_BY_LABEL: MANAGED_BY})},
        "addressType": family,
        "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in found],
        "ports": [{"name": "webhook", "port": port, "protocol": "TCP"}],
    } for family, found in families.items()]
    return [endpoints] + slices


def registration(objects: list[dict], mode: str = SERVICE, url: str = "", addresses: list[str] | None = None,
                 port: int = 9443, namespace: str = "metallb-system") -> list[dict]:
    """The shipped objects as this cluster registers the webhooks (see the module docstring)."""
    if mode == URL:
        return point_at_url(objects, url)
    if mode == SERVICE:
        return [copy.deepcopy(o) for o in objects] + endpoint_objects(list(addresses or []), port, namespace)
    raise RegistrationError("webhook registration %r: one of %s" % (mode, ", ".join(MODES)))
