# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Read everything the engine decides from, in one pass, as plain dicts.

The Ansible modules and ``metal-lb status`` plan on the live cluster with the same engine
the controller uses; this is their only read path. Lists are read raw (no client model
classes) and stamped with kind/apiVersion like ``kubectl get -o yaml`` would.
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

GROUP = "metallb.io"
# kind, plural, version to read (BGPPeer in its storage version)
CONFIG_KINDS = (
    ("IPAddressPool", "ipaddresspools", "v1beta1"),
    ("L2Advertisement", "l2advertisements", "v1beta1"),
    ("BGPAdvertisement", "bgpadvertisements", "v1beta1"),
    ("BGPPeer", "bgppeers", "v1beta2"),
    ("Community", "communities", "v1beta1"),
    ("BFDProfile", "bfdprofiles", "v1beta1"),
)


def _items(resp, kind: str, api_version: str) -> list[dict]:
    items = json.loads(resp.data).get("items") or []
    for item in items:
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", api_version)
    return items


def config_objects(api_client, namespace: str) -> list[dict]:
    """The metallb.io objects of ``namespace`` (a missing CRD counts as no objects)."""
    custom = k8s_client.CustomObjectsApi(api_client)
    objects: list[dict] = []
    for kind, plural, version in CONFIG_KINDS:
        try:
            resp = custom.list_namespaced_custom_object(GROUP, version, namespace, plural,
                                                        _preload_content=False)
        except ApiException as exc:
            if exc.status == 404:
                continue
            raise
        objects.extend(_items(resp, kind, "%s/%s" % (GROUP, version)))
    return objects


def cluster_objects(api_client, namespace: str, *, services: bool = True) -> list[dict]:
    """Config objects + Namespaces, Nodes, the legacy ConfigMap, Secrets of ``namespace`` and Services."""
    core = k8s_client.CoreV1Api(api_client)
    objects = config_objects(api_client, namespace)
    objects.extend(_items(core.list_namespace(_preload_content=False), "Namespace", "v1"))
    objects.extend(_items(core.list_node(_preload_content=False), "Node", "v1"))
    objects.extend(_items(core.list_namespaced_config_map(namespace, field_selector="metadata.name=config",
                                                          _preload_content=False), "ConfigMap", "v1"))
    try:
        objects.extend(_items(core.list_namespaced_secret(namespace, _preload_content=False), "Secret", "v1"))
    except ApiException as exc:
        if exc.status != 403:  # BGP password secrets are optional for planning
            raise
    if services:
        objects.extend(_items(core.list_service_for_all_namespaces(_preload_content=False), "Service", "v1"))
    return objects
