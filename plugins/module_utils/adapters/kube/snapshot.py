# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
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

from ...engine.config.sources import MODULES, sources_for
from .config_reads import list_call


def _items(resp, kind: str, api_version: str) -> list[dict]:
    items = json.loads(resp.data).get("items") or []
    for item in items:
        item.setdefault("kind", kind)
        item.setdefault("apiVersion", api_version)
    return items


def _read(sources, core, custom, namespace: str) -> list[dict]:
    objects: list[dict] = []
    for source in sources:
        fn, args, kwargs = list_call(source, core, custom, namespace)
        try:
            resp = fn(*args, _preload_content=False, **kwargs)
        except ApiException as exc:
            if exc.status == 404 and source.custom:
                continue  # a CRD not installed: no objects of it
            if exc.status == 403 and source.optional:
                continue  # e.g. BGP password Secrets: optional for planning
            raise
        objects.extend(_items(resp, source.kind, source.api_version))
    return objects


def config_objects(api_client, namespace: str) -> list[dict]:
    """The metallb.io objects of ``namespace`` (a missing CRD counts as no objects)."""
    return _read([s for s in sources_for(MODULES) if s.custom], None, k8s_client.CustomObjectsApi(api_client),
                 namespace)


def cluster_objects(api_client, namespace: str, *, services: bool = True) -> list[dict]:
    """Everything ``config.sources`` lists for the modules, and every Service."""
    core = k8s_client.CoreV1Api(api_client)
    objects = _read(sources_for(MODULES), core, k8s_client.CustomObjectsApi(api_client), namespace)
    if services:
        objects.extend(_items(core.list_service_for_all_namespaces(_preload_content=False), "Service", "v1"))
    return objects
