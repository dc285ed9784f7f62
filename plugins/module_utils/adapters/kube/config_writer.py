# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carry out ``desired_config`` actions on metallb.io objects through the API.

A replace carries the resourceVersion the decision was made from, so a concurrent edit makes the
write fail with 409 instead of silently overwriting it (the task is then simply run again).
"""

from __future__ import annotations

import copy
import json

from ...engine.desired_config import CREATE, DELETE, UPDATE, Action
from ...engine.vocabulary import CONFIG_KINDS, GROUP, plural

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - callers check HAS_KUBERNETES
    k8s_client = None

    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

PLURALS = {kind: plural(kind) for kind in CONFIG_KINDS}


def _version(obj: dict) -> str:
    return str(obj.get("apiVersion") or "").partition("/")[2]


def apply_actions(api_client, namespace: str, actions: list[Action]) -> list[dict]:
    """Create, replace and delete; returns the objects as stored (``None`` entries skipped)."""
    custom = k8s_client.CustomObjectsApi(api_client)
    stored = []
    for action in actions:
        plural = PLURALS[action.kind]
        if action.verb == CREATE:
            resp = custom.create_namespaced_custom_object(GROUP, _version(action.desired), namespace, plural,
                                                          action.desired, _preload_content=False)
            stored.append(json.loads(resp.data))
        elif action.verb == UPDATE:
            body = copy.deepcopy(action.desired)
            body["metadata"]["resourceVersion"] = action.current["metadata"]["resourceVersion"]
            resp = custom.replace_namespaced_custom_object(GROUP, _version(action.desired), namespace, plural,
                                                           action.name, body, _preload_content=False)
            stored.append(json.loads(resp.data))
        elif action.verb == DELETE:
            rv = (action.current.get("metadata") or {}).get("resourceVersion")
            body = {"apiVersion": "v1", "kind": "DeleteOptions"}
            if rv:
                body["preconditions"] = {"resourceVersion": rv}
            try:
                custom.delete_namespaced_custom_object(GROUP, _version(action.current), namespace, plural,
                                                       action.name, body=body, _preload_content=False)
            except ApiException as exc:
                if exc.status != 404:  # already gone: the desired state holds
                    raise
    return stored


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, TypeError, AttributeError):
        message = None
    return message or "%s %s" % (getattr(exc, "status", ""), getattr(exc, "reason", "") or exc)


def dry_run(api_client, namespace: str, actions: list[Action]) -> list[str]:
    """Every create and replace as a server-side dry run: one error per object the API would reject.

    The engine checks what MetalLB checks; the API server adds its own rules (CRD schema, admission,
    a concurrent edit). Asking it first keeps "nothing written unless everything can be" true for them
    too, and lets check mode see them.
    """
    custom = k8s_client.CustomObjectsApi(api_client)
    errors = []
    for action in actions:
        plural = PLURALS[action.kind]
        try:
            if action.verb == CREATE:
                custom.create_namespaced_custom_object(GROUP, _version(action.desired), namespace, plural,
                                                       action.desired, dry_run="All", _preload_content=False)
            elif action.verb == UPDATE:
                body = copy.deepcopy(action.desired)
                body["metadata"]["resourceVersion"] = action.current["metadata"]["resourceVersion"]
                custom.replace_namespaced_custom_object(GROUP, _version(action.desired), namespace, plural,
                                                        action.name, body, dry_run="All", _preload_content=False)
        except ApiException as exc:
            if exc.status == 409:
                errors.append("%s %s: changed or created by someone else since it was read; run the task again"
                              % (action.kind, action.name))
            elif exc.status in (400, 403, 422):
                errors.append("%s %s: rejected by the API server: %s" % (action.kind, action.name, _api_message(exc)))
            else:
                raise
    return errors


def align_versions(api_client, namespace: str, current: list[dict], desired: list[dict]) -> list[dict]:
    """Re-read live objects the desired list names at another version (BGPPeer v1beta1 vs v1beta2).

    Comparing a v1beta1 spec against the v1beta2 form would look like a change on every run.
    """
    wanted = {(obj["kind"], obj["metadata"]["name"]): _version(obj) for obj in desired}
    custom = k8s_client.CustomObjectsApi(api_client)
    out = []
    for obj in current:
        key = (obj.get("kind"), (obj.get("metadata") or {}).get("name"))
        version = wanted.get(key)
        if version and version != _version(obj):
            resp = custom.get_namespaced_custom_object(GROUP, version, namespace, PLURALS[key[0]], key[1],
                                                       _preload_content=False)
            obj = json.loads(resp.data)
            obj.setdefault("kind", key[0])
            obj.setdefault("apiVersion", "%s/%s" % (GROUP, version))
        out.append(obj)
    return out
