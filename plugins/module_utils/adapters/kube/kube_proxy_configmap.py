# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""kube-proxy's ConfigMap and pods through the API: read, write with its resourceVersion, restart.

The write is a merge patch carrying the resourceVersion it was read at, so an edit made in
between (kubeadm, another operator) makes the write fail instead of being overwritten. In check
mode the same patch goes to the API server as a dry run.
"""

from __future__ import annotations

import json

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - callers check HAS_KUBERNETES
    k8s_client = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0


def read_configmap(api_client, namespace: str, name: str) -> dict | None:
    """The ConfigMap as a plain dict, or None when it does not exist."""
    core = k8s_client.CoreV1Api(api_client)
    try:
        resp = core.read_namespaced_config_map(name, namespace, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return json.loads(resp.data)


def write_configmap_key(api_client, namespace: str, name: str, key: str, text: str, resource_version: str,
                        dry_run: bool) -> None:
    """Set one data key, only if the ConfigMap is still at ``resource_version`` (409 otherwise)."""
    core = k8s_client.CoreV1Api(api_client)
    body = {"metadata": {"resourceVersion": resource_version}, "data": {key: text}}
    kwargs = {"dry_run": "All"} if dry_run else {}
    core.patch_namespaced_config_map(name, namespace, body, **kwargs)


def pods_matching(api_client, namespace: str, selector: str) -> list[str]:
    core = k8s_client.CoreV1Api(api_client)
    resp = core.list_namespaced_pod(namespace, label_selector=selector, _preload_content=False)
    return sorted(item["metadata"]["name"] for item in json.loads(resp.data).get("items") or [])


def delete_pods(api_client, namespace: str, names: list[str]) -> list[str]:
    """Delete the named pods (their DaemonSet starts new ones that read the new ConfigMap); the ones
    deleted, a pod already gone counting as deleted."""
    core = k8s_client.CoreV1Api(api_client)
    deleted = []
    for name in names:
        try:
            core.delete_namespaced_pod(name, namespace)
        except ApiException as exc:
            if exc.status != 404:
                raise
        deleted.append(name)
    return deleted
