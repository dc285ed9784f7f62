# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of every module that talks to a Kubernetes API (kubernetes.core's names)."""

from __future__ import annotations


class ModuleDocFragment:
    """kubernetes.core-style auth options with their K8S_AUTH_* fallbacks, plus the metal.lb namespace.

    The names and variables match kubernetes.core so that AWX's "OpenShift or Kubernetes API Bearer
    Token" credential (which exports K8S_AUTH_HOST, K8S_AUTH_API_KEY, K8S_AUTH_VERIFY_SSL and
    K8S_AUTH_SSL_CA_CERT) works without extra task arguments.
    """

    DOCUMENTATION = r"""
options:
  kubeconfig:
    description:
      - Path of a kubeconfig file on the managed node.
      - When not given, the E(K8S_AUTH_KUBECONFIG) environment variable is used; without either,
        C(~/.kube/config) if it exists, else the in-cluster service account (unless O(host) is set).
    type: path
  context:
    description:
      - The kubeconfig context to use instead of the file's current context.
      - Falls back to the E(K8S_AUTH_CONTEXT) environment variable.
    type: str
  host:
    description:
      - URL of the Kubernetes API server, for example V(https://k8s.example.test:6443).
      - Falls back to the E(K8S_AUTH_HOST) environment variable.
      - Overrides the server of the kubeconfig when both are given.
    type: str
  api_key:
    description:
      - A bearer token for the API server.
      - Falls back to the E(K8S_AUTH_API_KEY) environment variable.
    type: str
  validate_certs:
    description:
      - Whether to verify the API server's TLS certificate.
      - Falls back to the E(K8S_AUTH_VERIFY_SSL) environment variable; without either, the kubeconfig's
        setting (verification on unless it says otherwise).
    type: bool
    aliases: [verify_ssl]
  ca_cert:
    description:
      - Path of a CA certificate bundle to verify the API server with.
      - Falls back to the E(K8S_AUTH_SSL_CA_CERT) environment variable.
    type: path
    aliases: [ssl_ca_cert]
  namespace:
    description:
      - The namespace metal.lb runs in, which holds its C(metallb.io) configuration objects (MetalLB's
        C(metallb-system)). C(metallb.io) objects in other namespaces are ignored, as MetalLB does.
    type: str
    default: metallb-system
requirements:
  - kubernetes >= 29.0.0 (the Kubernetes Python client)
"""
