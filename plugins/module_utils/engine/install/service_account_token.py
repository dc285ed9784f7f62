# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daemons' credentials: a kubeconfig holding a ServiceAccount token from the TokenRequest API,
and when a host's copy must be replaced.

TokenRequest rather than a Secret of type ``kubernetes.io/service-account-token``: such a Secret is
only filled in by the controller-manager's token controller (absent from clusters without one),
and its token never expires. A TokenRequest token expires; the roles renew it when less than
``renew_before`` seconds are left, so a run in between keeps the file as it is (changed=0) and a
periodic run renews it. Deleting the ServiceAccount (uninstall) revokes it at once.
"""

from __future__ import annotations

import base64
import binascii
import json

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def token_claims(token: str) -> dict | None:
    """The JWT payload of ``token`` (not verified: the API server verifies it), None when it is not a JWT."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")).decode("utf-8"))
    except (ValueError, UnicodeError, binascii.Error):
        return None
    return claims if isinstance(claims, dict) else None


def kubeconfig_text(server: str, token: str, ca_pem: bytes | None = None, insecure: bool = False,
                    name: str = "metal-lb") -> str:
    """A kubeconfig (JSON, which is YAML) for ``server`` authenticating with ``token``; the same inputs
    give the same text, so a kubeconfig that is still good is never rewritten."""
    cluster: dict = {"server": server}
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def kubeconfig_parts(text: str) -> dict | None:
    """server, token, ca_pem and insecure of a kubeconfig this module wrote; None for anything else."""
    try:
        config = json.loads(text)
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
    except (ValueError, TypeError, KeyError, IndexError):
        return None
    if not isinstance(cluster, dict) or not isinstance(user, dict) or not isinstance(user.get("token"), str):
        return None
    ca_data = cluster.get("certificate-authority-data")
    try:
        ca_pem = base64.b64decode(ca_data) if ca_data else None
    except (ValueError, binascii.Error):
        return None
    return {"server": cluster.get("server"), "token": user["token"], "ca_pem": ca_pem,
            "insecure": bool(cluster.get("insecure-skip-tls-verify"))}


def renewal_reason(current: str, *, server: str, service_account: str, namespace: str, now: float,
                   renew_before: float, ca_pem: bytes | None = None, insecure: bool = False,
                   account_uid: str | None = None) -> str | None:
    """Why the kubeconfig ``current`` (a host's copy, '' when it has none) must be replaced; None: keep it.

    Kept only when it is ours, for this server and CA, for this ServiceAccount (the same object:
    ``account_uid``), and valid for more than ``renew_before`` seconds. Whether the API server still
    accepts the token (a rebuilt cluster signs with a new key) is asked separately (TokenReview).
    """
    if not current:
        return "no kubeconfig yet"
    parts = kubeconfig_parts(current)
    if parts is None:
        return "not a kubeconfig metal.lb wrote"
    if parts["server"] != server:
        return "for another API server (%s)" % parts["server"]
    if (parts["ca_pem"] or None) != (ca_pem or None) or parts["insecure"] != bool(insecure):
        return "for another CA"
    claims = token_claims(parts["token"])
    if claims is None:
        return "its token is not a ServiceAccount token"
    subject = "%s%s:%s" % (SERVICE_ACCOUNT_PREFIX, namespace, service_account)
    if claims.get("sub") != subject:
        return "its token is for %s, not %s" % (claims.get("sub"), subject)
    if account_uid:
        claimed = ((claims.get("kubernetes.io") or {}).get("serviceaccount") or {}).get("uid")
        if claimed != account_uid:
            return "its ServiceAccount was deleted and created again"
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        return "its token does not expire (not a TokenRequest token)"
    if expires - now <= renew_before:
        return "its token expires in %d s" % max(0, int(expires - now))
    return None
