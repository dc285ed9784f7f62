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

try:
    import yaml
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url
except ImportError:  # pragma: no cover - the kubernetes client depends on PyYAML and urllib3
    yaml = None
    LocationParseError = ValueError
    parse_url = None

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


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _describe_load_error(path: str, exc: Exception) -> str:
    """One line naming the file and what is wrong with it (never the client's traceback)."""
    where = "kubeconfig %s" % path if path else "in-cluster configuration"
    if yaml is not None and isinstance(exc, yaml.YAMLError):
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or _one_line(exc)
        at = " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark is not None else ""
        return "%s: not valid YAML%s: %s" % (where, at, problem)
    if isinstance(exc, UnicodeDecodeError):
        return "%s: not UTF-8 text" % where
    if isinstance(exc, OSError):
        return "%s: cannot read: %s" % (where, exc.strerror or _one_line(exc))
    if isinstance(exc, (TypeError, AttributeError, KeyError, IndexError)):
        return ("%s: not a kubeconfig (apiVersion, clusters, contexts, users with the fields kubectl "
                "expects): %s" % (where, _one_line(exc)))
    return "%s: %s" % (where, _one_line(exc))


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
    path = ""
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
                path = ""
                k8s_config.load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException as exc:
        raise KubeConfigError("cannot load Kubernetes configuration: %s" % _one_line(exc)) from exc
    except KubeConfigError:
        raise
    except Exception as exc:  # the client's loader trusts the file's shape: anything can come out
        raise KubeConfigError(_describe_load_error(path, exc)) from exc
    if opts["host"]:
        configuration.host = opts["host"]
    if opts["api_key"]:
        configuration.api_key = {"authorization": "Bearer %s" % opts["api_key"]}
    if opts["validate_certs"] is not None:
        configuration.verify_ssl = bool(opts["validate_certs"])
    if opts["ca_cert"]:
        configuration.ssl_ca_cert = opts["ca_cert"]
    _check_server(configuration.host, path if not opts["host"] else "")
    return k8s_client.ApiClient(configuration)


def _check_server(url: object, path: str) -> None:
    """Refuse a server URL the HTTP client cannot parse now, not as an endless 'API outage' later."""
    where = "kubeconfig %s: server" % path if path else "host"
    if parse_url is None:
        return
    if not isinstance(url, str) or not url.strip():
        raise KubeConfigError("%s %r is not a URL" % (where, url))
    try:
        parsed = parse_url(url)
    except (LocationParseError, ValueError) as exc:
        raise KubeConfigError("%s %r is not a URL: %s" % (where, url, _one_line(exc))) from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise KubeConfigError("%s %r is not an http(s) URL" % (where, url))
