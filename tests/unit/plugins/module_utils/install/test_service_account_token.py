# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import json

from ansible_collections.metal.lb.plugins.module_utils.engine.install.service_account_token import (
    kubeconfig_parts,
    kubeconfig_text,
    renewal_reason,
    token_claims,
)

SERVER = "https://198.51.100.2:6443"
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
NOW = 1_800_000_000.0
DAY = 86400


def jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return "%s.%s.signature" % (part({"alg": "RS256"}), part(claims))


def token(days_left: float = 300, sub: str = "system:serviceaccount:metallb-system:speaker", uid: str = "u1") -> str:
    return jwt({"sub": sub, "exp": int(NOW + days_left * DAY),
                "kubernetes.io": {"namespace": "metallb-system", "serviceaccount": {"name": "speaker", "uid": uid}}})


def reason(current: str, **kw) -> str | None:
    args = dict(server=SERVER, service_account="speaker", namespace="metallb-system", now=NOW,
                renew_before=30 * DAY, ca_pem=CA, account_uid="u1")
    args.update(kw)
    return renewal_reason(current, **args)


def test_claims_of_a_jwt_and_of_something_else():
    assert token_claims(token())["sub"] == "system:serviceaccount:metallb-system:speaker"
    assert token_claims("abc") is None
    assert token_claims("a.%%%.c") is None


def test_the_same_inputs_give_the_same_text_and_it_reads_back():
    text = kubeconfig_text(SERVER, token(), ca_pem=CA)
    assert text == kubeconfig_text(SERVER, token(), ca_pem=CA)
    assert kubeconfig_parts(text) == {"server": SERVER, "token": token(), "ca_pem": CA, "insecure": False}


def test_a_good_kubeconfig_is_kept():
    assert reason(kubeconfig_text(SERVER, token(), ca_pem=CA)) is None


def test_renewed_near_expiry_and_only_then():
    assert reason(kubeconfig_text(SERVER, token(days_left=31), ca_pem=CA)) is None
    assert "expires in" in reason(kubeconfig_text(SERVER, token(days_left=29), ca_pem=CA))
    assert "expires in 0 s" in reason(kubeconfig_text(SERVER, token(days_left=-1), ca_pem=CA))


def test_renewed_when_anything_it_is_for_differs():
    good = kubeconfig_text(SERVER, token(), ca_pem=CA)
    assert reason("") == "no kubeconfig yet"
    assert reason("apiVersion: v1\nkind: Config\n") == "not a kubeconfig metal.lb wrote"
    assert "another API server" in reason(good, server="https://203.0.113.5:6443")
    assert reason(good, ca_pem=b"other") == "for another CA"
    assert reason(good, ca_pem=None, insecure=True) == "for another CA"
    assert "not system:serviceaccount:metallb-system:controller" in reason(good, service_account="controller")
    assert "deleted and created again" in reason(good, account_uid="u2")
    assert "not a ServiceAccount token" in reason(kubeconfig_text(SERVER, "opaque", ca_pem=CA))
    no_exp = jwt({"sub": "system:serviceaccount:metallb-system:speaker"})
    assert "does not expire" in reason(kubeconfig_text(SERVER, no_exp, ca_pem=CA), account_uid=None)
