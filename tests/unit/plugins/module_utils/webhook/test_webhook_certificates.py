# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The webhook certificate: kept while good, renewed before it ends, reissued for missing names."""

from __future__ import annotations

import datetime

import pytest

x509 = pytest.importorskip("cryptography.x509")

from ansible_collections.metal.lb.plugins.module_utils.adapters.webhook.certificates import (  # noqa: E402
    CA_DAYS,
    CERT_DAYS,
    new_bundle,
    renewal,
    service_hosts,
)

NOW = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
HOSTS = service_hosts("metallb-webhook-service", "metallb-system", ["ctl1.example.org", "198.51.100.7"])


def sans(pem: bytes) -> set[str]:
    cert = x509.load_pem_x509_certificate(pem)
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


def test_the_service_names_and_loopback_are_always_there():
    assert HOSTS == ["metallb-webhook-service.metallb-system.svc",
                     "metallb-webhook-service.metallb-system.svc.cluster.local", "127.0.0.1", "ctl1.example.org",
                     "198.51.100.7"]


def test_a_good_bundle_is_kept_as_it_is():
    bundle = new_bundle(HOSTS, NOW)
    assert sans(bundle["tls.crt"]) == set(HOSTS)
    assert renewal(bundle, HOSTS, NOW + datetime.timedelta(days=100)) == ("", None)


def test_no_secret_yet_gives_a_fresh_bundle():
    why, bundle = renewal({}, HOSTS, NOW)
    assert why == "no certificate yet" and set(bundle) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}


def test_a_serving_certificate_near_its_end_is_reissued_by_the_same_ca():
    bundle = new_bundle(HOSTS, NOW)
    later = NOW + datetime.timedelta(days=CERT_DAYS - 30)
    why, renewed = renewal(bundle, HOSTS, later)
    assert why == "the serving certificate expires soon"
    assert renewed["ca.crt"] == bundle["ca.crt"] and renewed["tls.crt"] != bundle["tls.crt"]
    assert renewal(renewed, HOSTS, later) == ("", None)


def test_a_ca_near_its_end_replaces_everything():
    bundle = new_bundle(HOSTS, NOW)
    why, renewed = renewal(bundle, HOSTS, NOW + datetime.timedelta(days=CA_DAYS - 30))
    assert why == "the CA expires soon" and renewed["ca.crt"] != bundle["ca.crt"]


def test_a_replica_with_another_name_adds_it_keeping_the_others():
    bundle = new_bundle(HOSTS, NOW)
    why, renewed = renewal(bundle, [*HOSTS[:3], "ctl2.example.org"], NOW)
    assert why == "the serving certificate lacks ctl2.example.org"
    assert sans(renewed["tls.crt"]) == set(HOSTS) | {"ctl2.example.org"}
    assert renewal(renewed, HOSTS, NOW) == ("", None)  # the first replica is content with the union


def test_a_serving_certificate_from_another_ca_or_garbage_is_reissued():
    bundle, other = new_bundle(HOSTS, NOW), new_bundle(HOSTS, NOW)
    mixed = dict(bundle, **{"tls.crt": other["tls.crt"], "tls.key": other["tls.key"]})
    assert renewal(mixed, HOSTS, NOW)[0] == "the serving certificate is not from this CA"
    broken = dict(bundle, **{"tls.crt": b"garbage"})
    why, renewed = renewal(broken, HOSTS, NOW)
    assert why == "the serving certificate is unreadable" and renewed["ca.crt"] == bundle["ca.crt"]
    assert renewal({**bundle, "ca.crt": b"garbage"}, HOSTS, NOW)[0] == "the CA is unreadable"
