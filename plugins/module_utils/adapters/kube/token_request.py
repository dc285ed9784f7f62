# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceAccount tokens: TokenRequest for a new one, TokenReview to ask whether one still works."""

from __future__ import annotations

from .raw_requests import get_or_none, request


def service_account(api_client, namespace: str, name: str) -> dict | None:
    return get_or_none(api_client, "/api/v1/namespaces/%s/serviceaccounts/%s" % (namespace, name))


def request_token(api_client, namespace: str, name: str, seconds: int, dry_run: bool = False) -> dict:
    """``{"token": ..., "expirationTimestamp": ...}`` for a token valid ``seconds`` (the API server may
    shorten it to its --service-account-max-token-expiration)."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": int(seconds)}}
    query = [("dryRun", "All")] if dry_run else []
    answer = request(api_client, "POST", "/api/v1/namespaces/%s/serviceaccounts/%s/token" % (namespace, name),
                     query=query, body=body)
    return (answer or {}).get("status") or {}


def token_accepted(api_client, token: str) -> bool:
    """Whether the API server authenticates ``token`` (a cluster rebuilt with a new signing key does not)."""
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    answer = request(api_client, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", body=body)
    return bool(((answer or {}).get("status") or {}).get("authenticated"))


def client_server(api_client) -> tuple[str, bytes | None, bool]:
    """(server URL, CA PEM or None, TLS verification off) of the client's own connection."""
    configuration = api_client.configuration
    ca_pem = None
    if configuration.ssl_ca_cert:
        with open(configuration.ssl_ca_cert, "rb") as handle:
            ca_pem = handle.read()
    return configuration.host, ca_pem, not configuration.verify_ssl
