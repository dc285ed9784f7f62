# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the speaker keeps of the objects it watches, and the lean calls it reads them with.

Memory budget (issue 4: <= 80 MB at 1,000 VIPs). The speaker runs on every node, so what it
caches and what it imports is paid once per node:

* **Trims** (informer ``transform=``, like client-go's SetTransform and ``service_view``): each
  cache holds only the fields the speaker reads. Whatever ``layer2.election``,
  ``config.parse``, ``daemons.speaker`` or ``kube.l2_status`` reads of these kinds must be kept
  here. Repeated strings (node names, label keys, namespaces) are interned and identical small
  dicts (endpoint conditions) are shared, so 1,000 EndpointSlices on three nodes hold three
  node-name strings, not 3,000.
* **Lean core reads** (``CoreReads``): importing the generated ``CoreV1Api`` loads about 250
  pydantic model modules (~22 MB RSS) although the speaker never builds a model (it reads raw
  JSON). ``CoreReads`` issues the same requests through the client's ``ApiClient``
  (``param_serialize`` + ``call_api``: the same configuration, authentication, connection pool
  and ``ApiException``s), for the handful of core/discovery endpoints the speaker uses.
"""

from __future__ import annotations

import json
import sys
from urllib.parse import quote

from ...engine.vocabulary import (MEMBERSHIP_ANNOTATION, SERVICE_NAME_LABEL, STATUS_NODE_LABEL,
                                  STATUS_SERVICE_NAME_LABEL, STATUS_SERVICE_NAMESPACE_LABEL)

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - the daemons check HAS_KUBERNETES first
    ApiException = None

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
L2_STATUS_LABELS = frozenset({STATUS_NODE_LABEL, STATUS_SERVICE_NAME_LABEL, STATUS_SERVICE_NAMESPACE_LABEL})
_META_KEYS = frozenset({"name", "namespace", "resourceVersion"})
_CONDITIONS: dict[tuple, dict] = {}  # (ready, serving) -> one shared conditions dict


def _intern(value):
    return sys.intern(value) if isinstance(value, str) else value


def _meta(obj: dict, labels: bool = True) -> dict:
    """name, namespace, resourceVersion (what the informer and ``object_key`` need) [+ labels]."""
    meta = obj.get("metadata") or {}
    out = {key: meta[key] for key in _META_KEYS if key in meta}
    if "namespace" in out:
        out["namespace"] = _intern(out["namespace"])
    if labels and isinstance(meta.get("labels"), dict):
        out["labels"] = {_intern(k): _intern(v) for k, v in meta["labels"].items()}
    return out


def _conditions(conditions) -> dict:
    """``ready``/``serving`` only (``layer2.election.endpoint_serving``), one shared dict per
    combination of booleans (anything else is copied as it is)."""
    if not isinstance(conditions, dict):
        conditions = {}
    ready, serving = conditions.get("ready"), conditions.get("serving")
    kept = {name: value for name, value in (("ready", ready), ("serving", serving)) if value is not None}
    if not all(value is None or isinstance(value, bool) for value in (ready, serving)):
        return kept
    return _CONDITIONS.setdefault((ready, serving), kept)


def trim_endpoint_slice(obj: dict) -> dict:
    """An EndpointSlice as the election reads it: its Service label and, per endpoint, the
    serving conditions, the node and whether it has addresses (BGP announces only for endpoints
    with addresses, as MetalLB: the first one is kept; ports and targetRefs are never read)."""
    meta = _meta(obj, labels=False)
    labels = (obj.get("metadata") or {}).get("labels")
    if isinstance(labels, dict) and SERVICE_NAME_LABEL in labels:
        meta["labels"] = {SERVICE_NAME_LABEL: labels[SERVICE_NAME_LABEL]}
    endpoints = []
    for endpoint in obj.get("endpoints") or ():
        if not isinstance(endpoint, dict):
            continue
        trimmed = {"conditions": _conditions(endpoint.get("conditions"))}
        if endpoint.get("nodeName"):
            trimmed["nodeName"] = _intern(endpoint["nodeName"])
        addresses = endpoint.get("addresses")
        if isinstance(addresses, list) and addresses:
            trimmed["addresses"] = addresses[:1]
        endpoints.append(trimmed)
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": meta,
            "endpoints": endpoints}


def trim_node(obj: dict) -> dict:
    """A Node as the election, the config parser and membership read it: labels, the membership
    annotation, addresses and the NetworkUnavailable condition (a real Node also carries its
    images, capacity, nodeInfo and heartbeats: kilobytes each, never read here)."""
    meta = _meta(obj)
    annotations = (obj.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and MEMBERSHIP_ANNOTATION in annotations:
        meta["annotations"] = {MEMBERSHIP_ANNOTATION: annotations[MEMBERSHIP_ANNOTATION]}
    status = obj.get("status") or {}
    out_status: dict = {}
    if isinstance(status.get("addresses"), list):
        out_status["addresses"] = [{"type": _intern(a.get("type")), "address": a.get("address")}
                                   for a in status["addresses"] if isinstance(a, dict)]
    if isinstance(status.get("conditions"), list):
        # the first NetworkUnavailable condition counts (election.network_unavailable)
        for cond in status["conditions"]:
            if isinstance(cond, dict) and cond.get("type") == "NetworkUnavailable":
                out_status["conditions"] = [{"type": "NetworkUnavailable", "status": _intern(cond.get("status"))}]
                break
    return {"apiVersion": "v1", "kind": "Node", "metadata": meta, "status": out_status}


def trim_l2_status(obj: dict) -> dict:
    """A ServiceL2Status: its three metallb.io labels and its status (``kube.l2_status``)."""
    meta = _meta(obj, labels=False)
    labels = (obj.get("metadata") or {}).get("labels")
    if isinstance(labels, dict):
        kept = {_intern(k): _intern(v) for k, v in labels.items() if k in L2_STATUS_LABELS}
        if kept:
            meta["labels"] = kept
    out = {key: obj[key] for key in ("apiVersion", "kind") if key in obj}
    out["metadata"] = meta
    status = obj.get("status")
    if isinstance(status, dict):
        out["status"] = {_intern(k): _intern(v) if isinstance(v, str) else v for k, v in status.items()}
    return out


def trim_namespace(obj: dict) -> dict:
    """A Namespace: name and labels (serviceAllocation namespaceSelectors)."""
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(obj)}


def trim_config_object(obj: dict) -> dict:
    """Configuration objects (metallb.io CRs, ConfigMaps) are parsed whole; only the bookkeeping
    a real API adds (managedFields, kubectl's last-applied copy) is dropped."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return obj
    meta = {k: v for k, v in meta.items() if k != "managedFields"}
    annotations = meta.get("annotations")
    if isinstance(annotations, dict) and LAST_APPLIED in annotations:
        meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
    return dict(obj, metadata=meta)


def trim_secret(obj: dict) -> dict:
    """A BGP password Secret as the parser reads it: its type and password, nothing else."""
    out = {"apiVersion": "v1", "kind": "Secret", "metadata": _meta(obj, labels=False), "type": obj.get("type")}
    for field in ("data", "stringData"):
        value = obj.get(field)
        if isinstance(value, dict) and "password" in value:
            out[field] = {"password": value["password"]}
    return out


class CoreReads:
    """The core/v1 and discovery/v1 calls of the speaker, without the generated API classes.

    Same signatures as ``CoreV1Api``/``DiscoveryV1Api`` for what the informers, ``Watch.stream``
    and ``kube.writer.EventRecorder`` pass. ``_preload_content=False`` returns the raw urllib3
    response (lists, watch streams); a non-2xx answer raises ``ApiException`` as the generated
    methods do. The list methods carry no return annotation on purpose: ``Watch.stream`` reads
    it to pick a model class.
    """

    _QUERY = {"allow_watch_bookmarks": "allowWatchBookmarks", "field_selector": "fieldSelector",
              "label_selector": "labelSelector", "limit": "limit", "resource_version": "resourceVersion",
              "timeout_seconds": "timeoutSeconds", "watch": "watch", "_continue": "continue"}

    def __init__(self, api_client) -> None:
        self.api_client = api_client

    def _call(self, method: str, path: str, query: dict, body=None, content_type: str | None = None,
              preload: bool = True, request_timeout=None):
        params = [(self._QUERY[k], v) for k, v in query.items() if k in self._QUERY and v is not None]
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        request = self.api_client.param_serialize(method=method, resource_path=path, query_params=params,
                                                  header_params=headers, body=body,
                                                  auth_settings=["BearerToken"])
        response = self.api_client.call_api(*request, _request_timeout=request_timeout)
        if not 200 <= response.status <= 299:
            response.read()
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        if not preload:
            return response.response
        response.read()
        return json.loads(response.data) if response.data else None

    def _list(self, path: str, kwargs: dict):
        preload = kwargs.pop("_preload_content", True)
        timeout = kwargs.pop("_request_timeout", None)
        unknown = set(kwargs) - set(self._QUERY)
        if unknown:
            raise TypeError("unsupported list argument(s): %s" % ", ".join(sorted(unknown)))
        return self._call("GET", path, kwargs, preload=preload, request_timeout=timeout)

    def list_service_for_all_namespaces(self, **kwargs):
        return self._list("/api/v1/services", kwargs)

    def list_node(self, **kwargs):
        return self._list("/api/v1/nodes", kwargs)

    def list_namespace(self, **kwargs):
        return self._list("/api/v1/namespaces", kwargs)

    def list_namespaced_config_map(self, namespace: str, **kwargs):
        return self._list("/api/v1/namespaces/%s/configmaps" % quote(namespace, safe=""), kwargs)

    def list_namespaced_secret(self, namespace: str, **kwargs):
        return self._list("/api/v1/namespaces/%s/secrets" % quote(namespace, safe=""), kwargs)

    def list_endpoint_slice_for_all_namespaces(self, **kwargs):
        return self._list("/apis/discovery.k8s.io/v1/endpointslices", kwargs)

    def create_namespaced_event(self, namespace: str, body: dict, _preload_content: bool = True,
                                _request_timeout=None):
        return self._call("POST", "/api/v1/namespaces/%s/events" % quote(namespace, safe=""), {}, body,
                          preload=_preload_content, request_timeout=_request_timeout)

    def patch_namespaced_event(self, name: str, namespace: str, body: dict, _content_type: str | None = None,
                               _preload_content: bool = True, _request_timeout=None):
        path = "/api/v1/namespaces/%s/events/%s" % (quote(namespace, safe=""), quote(name, safe=""))
        return self._call("PATCH", path, {}, body, content_type=_content_type or "application/merge-patch+json",
                          preload=_preload_content, request_timeout=_request_timeout)
