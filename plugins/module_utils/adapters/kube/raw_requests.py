# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One JSON request through a ``kubernetes.client.ApiClient`` (its configuration, authentication and
connection pool), for paths the generated API classes do not cover in one call: server-side apply
of any installed kind, TokenRequest, TokenReview."""

from __future__ import annotations

import json

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - callers check HAS_KUBERNETES first
    ApiException = None

APPLY_PATCH = "application/apply-patch+yaml"


def request(api_client, method: str, path: str, *, query: list | None = None, body=None,
            content_type: str = "application/json", timeout: float = 30.0):
    """The decoded JSON answer; an ``ApiException`` for any non-2xx answer."""
    headers = {"Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = content_type
    serialized = api_client.param_serialize(method=method, resource_path=path, query_params=list(query or []),
                                            header_params=headers, body=body, auth_settings=["BearerToken"])
    response = api_client.call_api(*serialized, _request_timeout=timeout)
    response.read()
    if not 200 <= response.status <= 299:
        raise ApiException.from_response(http_resp=response, body=None, data=None)
    return json.loads(response.data) if response.data else None


def get_or_none(api_client, path: str) -> dict | None:
    """The object at ``path``; None when it does not exist."""
    try:
        return request(api_client, "GET", path)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
