# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a kubernetes ApiClient the way kubernetes.core does.

Modules, the CLI and the daemons share this so that an AWX Kubernetes credential
(which exports ``K8S_AUTH_*``), a kubeconfig file and in-cluster service accounts all work.
"""

from __future__ import annotations

import os

try:
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    HAS_KUBERNETES = True
except ImportError:  # pragma: no cover - reported by callers via missing_required_lib
    k8s_client = None
    k8s_config = None
    HAS_KUBERNETES = False

ENV = {
    "kubeconfig": "K8S_AUTH_KUBECONFIG",
    "context": "K8S_AUTH_CONTEXT",
    "host": "K8S_AUTH_HOST",
    "api_key": "K8S_AUTH_API_KEY",
    "validate_certs": "K8S_AUTH_VERIFY_SSL",
    "ca_cert": "K8S_AUTH_SSL_CA_CERT",
}


class KubeConfigError(Exception):
    """The connection settings cannot be turned into a client."""


def _env_bool(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def auth_settings(**given: object | None) -> dict:
    """Merge explicit options with ``K8S_AUTH_*`` variables; explicit values win."""
    merged: dict = {}
    for option, variable in ENV.items():
        value = given.get(option)
        if value is None and os.environ.get(variable):
            raw = os.environ[variable]
            value = _env_bool(raw) if option == "validate_certs" else raw
        merged[option] = value
    return merged


def build_api_client(
    kubeconfig: str | None = None,
    context: str | None = None,
    host: str | None = None,
    api_key: str | None = None,
    validate_certs: bool | None = None,
    ca_cert: str | None = None,
):
    """Return a ``kubernetes.client.ApiClient``.

    Order as kubernetes.core: explicit host/api_key, else a kubeconfig (option, env, default
    ``~/.kube/config``), else the in-cluster service account.
    """
    if not HAS_KUBERNETES:
        raise KubeConfigError("the kubernetes Python client is not installed")
    opts = auth_settings(
        kubeconfig=kubeconfig, context=context, host=host, api_key=api_key,
        validate_certs=validate_certs, ca_cert=ca_cert,
    )
    configuration = k8s_client.Configuration()
    try:
        if opts["kubeconfig"] or not opts["host"]:
            path = opts["kubeconfig"] or os.path.expanduser("~/.kube/config")
            if os.path.exists(path):
                k8s_config.load_kube_config(
                    config_file=path, context=opts["context"], client_configuration=configuration
                )
            elif opts["kubeconfig"]:
                raise KubeConfigError("kubeconfig %s does not exist" % path)
            elif not opts["host"]:
                k8s_config.load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException as exc:
        raise KubeConfigError("cannot load Kubernetes configuration: %s" % exc) from exc
    if opts["host"]:
        configuration.host = opts["host"]
    if opts["api_key"]:
        configuration.api_key = {"authorization": "Bearer %s" % opts["api_key"]}
    if opts["validate_certs"] is not None:
        configuration.verify_ssl = bool(opts["validate_certs"])
    if opts["ca_cert"]:
        configuration.ssl_ca_cert = opts["ca_cert"]
    return k8s_client.ApiClient(configuration)
