# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The webhook's own certificates, as MetalLB's cert-rotator keeps them: a self-signed CA and a serving
certificate it signs, in one Secret (``ca.crt``, ``ca.key``, ``tls.crt``, ``tls.key``).

Pure: the time is a parameter, so renewal decisions are tested without waiting years.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable, Mapping

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    HAS_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - the CLI reports it
    HAS_CRYPTOGRAPHY = False

CA_DAYS = 3650
CERT_DAYS = 365
RENEW_BEFORE = datetime.timedelta(days=90)  # cert-rotator's look-ahead
KEYS = ("ca.crt", "ca.key", "tls.crt", "tls.key")


def service_hosts(service: str, namespace: str, extra: Iterable[str] = ()) -> list[str]:
    """The names the API server may use: the Service's DNS names, loopback (a controller beside the API
    server) and the operator's ``--webhook-host`` names and addresses."""
    names = ["%s.%s.svc" % (service, namespace), "%s.%s.svc.cluster.local" % (service, namespace), "127.0.0.1"]
    return list(dict.fromkeys([*names, *[h for h in extra if h]]))


def _san(host: str):
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue_cert(ca_cert, ca_key, hosts: Iterable[str], now: datetime.datetime) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    hosts = list(hosts)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(min(now + datetime.timedelta(days=CERT_DAYS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)


def new_bundle(hosts: Iterable[str], now: datetime.datetime) -> dict[str, bytes]:
    """A fresh CA and a serving certificate for ``hosts``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "metal-lb-webhook-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert, cert_key = _issue_cert(ca, key, hosts, now)
    return {"ca.crt": ca.public_bytes(serialization.Encoding.PEM), "ca.key": _pem_key(key),
            "tls.crt": cert, "tls.key": cert_key}


def _sans(cert) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(v) for v in ext.get_values_for_type(x509.IPAddress)} | set(ext.get_values_for_type(x509.DNSName))


def _signed_by(cert, ca) -> bool:
    try:
        ca.public_key().verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    except (InvalidSignature, TypeError, AttributeError):  # another signature, or not an EC CA
        return False
    return True


def renewal(data: Mapping[str, bytes], hosts: Iterable[str], now: datetime.datetime) -> tuple[str, dict | None]:
    """(why, bundle): ``bundle`` None means ``data`` serves as it is; otherwise the bundle to store and
    why. A CA near its end is replaced with everything; a serving certificate that is near its end,
    unreadable, not from this CA, or lacks one of ``hosts`` is issued again by the same CA, for the
    union of the names it had and ``hosts`` (replicas with different names converge instead of taking
    turns)."""
    hosts = list(hosts)
    if any(not data.get(k) for k in KEYS):
        return "no certificate yet", new_bundle(hosts, now)
    try:
        ca = x509.load_pem_x509_certificate(data["ca.crt"])
        ca_key = serialization.load_pem_private_key(data["ca.key"], None)
    except ValueError:
        return "the CA is unreadable", new_bundle(hosts, now)
    if ca.not_valid_after_utc - RENEW_BEFORE <= now or ca_key.public_key() != ca.public_key():
        return "the CA expires soon", new_bundle(hosts, now)
    reason = ""
    names: list[str] = []
    try:
        cert = x509.load_pem_x509_certificate(data["tls.crt"])
        key = serialization.load_pem_private_key(data["tls.key"], None)
        names = sorted(_sans(cert))
        if cert.issuer != ca.subject or key.public_key() != cert.public_key() or not _signed_by(cert, ca):
            reason = "the serving certificate is not from this CA"
        elif cert.not_valid_after_utc - RENEW_BEFORE <= now:
            reason = "the serving certificate expires soon"
        elif not set(hosts) <= set(names):
            reason = "the serving certificate lacks %s" % ", ".join(sorted(set(hosts) - set(names)))
    except Exception:  # noqa: BLE001 - any unreadable or unverifiable certificate is replaced
        reason = reason or "the serving certificate is unreadable"
    if not reason:
        return "", None
    cert_pem, key_pem = _issue_cert(ca, ca_key, list(dict.fromkeys([*hosts, *names])), now)
    return reason, {"ca.crt": data["ca.crt"], "ca.key": data["ca.key"], "tls.crt": cert_pem, "tls.key": key_pem}
