# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Status of metal.lb's own objects: IPAddressPool counters and ConfigurationState.

Both are written only when their content changes, so a quiet cluster costs no writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timezone

from ...engine.vocabulary import COMPONENT_TYPE_LABEL, CONFIGURATION_STATE, GROUP, NODE_NAME_LABEL, version

try:
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover
    class ApiException(Exception):  # type: ignore[no-redef]
        status = 0

LOG = logging.getLogger("metal_lb.status")
VERSION = version(CONFIGURATION_STATE)
MERGE_PATCH = "application/merge-patch+json"


def configuration_state_status(component: str, errors: Sequence[str], transition_time: str) -> dict:
    """MetalLB's ConfigurationState status for a component (controller: poolReconcilerValid)."""
    condition_type = "poolReconcilerValid" if component == "controller" else "configReconcilerValid"
    valid = not errors
    return {
        "conditions": [{
            "type": condition_type,
            "status": "True" if valid else "False",
            "reason": "Reconciled" if valid else "ConfigurationError",
            "message": "" if valid else "; ".join(errors),
            "lastTransitionTime": transition_time,
        }],
        "result": "Valid" if valid else "Invalid",
        "errorSummary": "" if valid else "; ".join(errors),
    }


class StatusObjects:
    def __init__(self, custom_api, namespace: str) -> None:
        self._api = custom_api
        self.namespace = namespace
        self._pool_status: dict[str, dict] = {}
        self._config_state: dict[str, tuple] = {}

    def pool_counters(self, pool: str, assigned_v4: int, assigned_v6: int,
                      available_v4: int, available_v6: int) -> None:
        status = {"assignedIPv4": assigned_v4, "assignedIPv6": assigned_v6,
                  "availableIPv4": available_v4, "availableIPv6": available_v6}
        if self._pool_status.get(pool) == status:
            return
        try:
            self._api.patch_namespaced_custom_object_status(
                GROUP, VERSION, self.namespace, "ipaddresspools", pool, {"status": status},
                _content_type=MERGE_PATCH, _preload_content=False)
            self._pool_status[pool] = status
        except ApiException as exc:
            if exc.status == 404:
                self._pool_status.pop(pool, None)
                return
            raise

    def forget_pools(self, keep: set[str]) -> None:
        for pool in list(self._pool_status):
            if pool not in keep:
                del self._pool_status[pool]

    def configuration_state(self, name: str, component: str, node: str, errors: Sequence[str]) -> None:
        key = tuple(errors)
        if self._config_state.get(name) == key:
            return
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        labels = {COMPONENT_TYPE_LABEL: component}
        if node:
            labels[NODE_NAME_LABEL] = node
        body = {"apiVersion": "%s/%s" % (GROUP, VERSION), "kind": "ConfigurationState",
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels}}
        try:
            self._api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "configurationstates",
                                                      body, _preload_content=False)
        except ApiException as exc:
            if exc.status != 409:
                raise
        self._api.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "configurationstates", name,
            {"status": configuration_state_status(component, errors, stamp)},
            _content_type=MERGE_PATCH, _preload_content=False)
        self._config_state[name] = key
