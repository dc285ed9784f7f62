# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection options of the metal.lb modules (doc fragment metal.lb.kube_auth) and their client.

One argument spec for every module, so the options and the fragment that documents them cannot
drift apart module by module; K8S_AUTH_* fallbacks are applied by ``client.build_api_client``.
"""

from __future__ import annotations

import json

from .client import build_api_client

AUTH_ARGUMENT_SPEC = dict(
    kubeconfig=dict(type="path"),
    context=dict(type="str"),
    host=dict(type="str"),
    api_key=dict(type="str", no_log=True),
    validate_certs=dict(type="bool", aliases=["verify_ssl"]),
    ca_cert=dict(type="path", aliases=["ssl_ca_cert"]),
    namespace=dict(type="str", default="metallb-system"),
)

AUTH_OPTIONS = ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert")


def argument_spec(**extra: dict) -> dict:
    """The auth options plus a module's own (a module option never silently replaces an auth one)."""
    spec = {name: dict(value) for name, value in AUTH_ARGUMENT_SPEC.items()}
    clash = sorted(set(spec) & set(extra))
    if clash:
        raise ValueError("options %s are already connection options" % ", ".join(clash))
    spec.update(extra)
    return spec


def api_client_from_params(params: dict):
    """A ``kubernetes.client.ApiClient`` for the module's parameters (raises KubeConfigError)."""
    return build_api_client(**{name: params.get(name) for name in AUTH_OPTIONS})


def describe_api_error(exc: Exception) -> str:
    """One line for an ApiException: status, reason and the API's own message when it sent one."""
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None) or ""
    message = ""
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message") or ""
        except (ValueError, TypeError, AttributeError):
            message = str(body)[:300]
    if status is None:
        return str(exc)
    text = "Kubernetes API error %s %s" % (status, reason)
    return "%s: %s" % (text.strip(), message) if message else text.strip()
