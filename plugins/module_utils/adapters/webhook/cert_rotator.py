# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Keeps the webhook certificate in its Secret and its CA in the registrations (I/O shell).

Replicas share the Secret: the first creates it, the others read the winner's (a create conflict);
a renewal is an update with the resourceVersion read, so two replicas renewing at once end with one
bundle. The CA is written into every webhook of the ValidatingWebhookConfiguration and into the
bgppeers CRD's conversion webhook, and checked again on every ``sync`` (a re-applied manifest that
lost it is repaired).
"""

from __future__ import annotations

import base64
import datetime
import json
import logging

from .certificates import KEYS, renewal

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - the CLI checks first
    k8s_client = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.webhook")
ATTEMPTS = 5


class CertificateError(Exception):
    """The Secret could not be read or written (the message says which and why)."""


def _decode(secret) -> dict[str, bytes]:
    data = (secret.data or {}) if secret is not None else {}
    return {k: base64.b64decode(data[k]) for k in KEYS if data.get(k)}


class CertRotator:
    def __init__(self, api_client, *, namespace: str, secret: str, hosts: list[str], webhook_configuration: str,
                 crd: str) -> None:
        self.core = k8s_client.CoreV1Api(api_client)
        self.admission = k8s_client.AdmissionregistrationV1Api(api_client)
        self.extensions = k8s_client.ApiextensionsV1Api(api_client)
        self.namespace = namespace
        self.secret = secret
        self.hosts = hosts
        self.webhook_configuration = webhook_configuration
        self.crd = crd
        self.bundle: dict[str, bytes] = {}

    def _read(self):
        try:
            return self.core.read_namespaced_secret(self.secret, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def ensure_secret(self, now: datetime.datetime | None = None) -> dict[str, bytes]:
        """The bundle to serve with: the stored one if it is good, else a renewed one (stored first)."""
        for _attempt in range(ATTEMPTS):
            now = now or datetime.datetime.now(datetime.timezone.utc)
            try:
                secret = self._read()
                current = _decode(secret)
                why, renewed = renewal(current, self.hosts, now)
                if renewed is None:
                    return current
                data = {k: base64.b64encode(v).decode() for k, v in renewed.items()}
                if secret is None:
                    body = k8s_client.V1Secret(metadata=k8s_client.V1ObjectMeta(
                        name=self.secret, namespace=self.namespace,
                        labels={"app.kubernetes.io/part-of": "metal-lb", "app.kubernetes.io/component": "controller"}),
                        type="Opaque", data=data)
                    self.core.create_namespaced_secret(self.namespace, body)
                else:
                    secret.data = dict(secret.data or {}, **data)
                    self.core.replace_namespaced_secret(self.secret, self.namespace, secret)
                LOG.info("webhook certificate in Secret %s/%s written: %s", self.namespace, self.secret, why)
                return renewed
            except ApiException as exc:
                if exc.status == 409:  # another replica wrote it first: use theirs
                    continue
                raise CertificateError("Secret %s/%s: %s %s" % (self.namespace, self.secret, exc.status,
                                                                exc.reason)) from exc
        raise CertificateError("Secret %s/%s: kept changing under us (%d attempts)"
                               % (self.namespace, self.secret, ATTEMPTS))

    def inject_ca(self, ca_pem: bytes) -> list[str]:
        """Write the CA where the API server reads it; returns what was changed. A missing registration is
        logged (the manifests are not applied yet) and tried again on the next sync."""
        bundle = base64.b64encode(ca_pem).decode()
        changed = []
        try:
            config = json.loads(self.admission.read_validating_webhook_configuration(
                self.webhook_configuration, _preload_content=False).data)
            patch = []
            for index, hook in enumerate(config.get("webhooks") or []):
                if (hook.get("clientConfig") or {}).get("caBundle", "") != bundle:
                    patch += [{"op": "test", "path": "/webhooks/%d/name" % index, "value": hook.get("name")},
                              {"op": "add", "path": "/webhooks/%d/clientConfig/caBundle" % index, "value": bundle}]
            if patch:
                self.admission.patch_validating_webhook_configuration(self.webhook_configuration, patch)
                changed.append("ValidatingWebhookConfiguration %s" % self.webhook_configuration)
        except ApiException as exc:
            LOG.warning("ValidatingWebhookConfiguration %s: CA not written: %s %s", self.webhook_configuration,
                        exc.status, exc.reason)
        try:
            crd = json.loads(self.extensions.read_custom_resource_definition(self.crd, _preload_content=False).data)
            conversion = (crd.get("spec") or {}).get("conversion") or {}
            if conversion.get("strategy") == "Webhook" and conversion.get("webhook"):
                if (conversion["webhook"].get("clientConfig") or {}).get("caBundle", "") != bundle:
                    self.extensions.patch_custom_resource_definition(self.crd, [
                        {"op": "add", "path": "/spec/conversion/webhook/clientConfig/caBundle", "value": bundle}])
                    changed.append("CustomResourceDefinition %s" % self.crd)
        except ApiException as exc:
            LOG.warning("CustomResourceDefinition %s: CA not written: %s %s", self.crd, exc.status, exc.reason)
        return changed

    def sync(self) -> bool:
        """Ensure the Secret and the CA bundles; True if the serving certificate changed."""
        bundle = self.ensure_secret()
        changed = bundle.get("tls.crt") != self.bundle.get("tls.crt") or bundle.get("tls.key") != self.bundle.get(
            "tls.key")
        self.bundle = bundle
        for what in self.inject_ca(bundle["ca.crt"]):
            LOG.info("webhook CA written into %s", what)
        return changed
