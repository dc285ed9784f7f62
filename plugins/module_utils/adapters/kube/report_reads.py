# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what ``status_report`` reports on: a snapshot and the controller's ConfigurationState."""

from __future__ import annotations

import json

from ...engine.status_report import CONTROLLER_STATE_NAME, build_report
from ...engine.vocabulary import CONFIGURATION_STATE, GROUP, plural, version
from .snapshot import ApiException, cluster_objects, k8s_client


def read_configuration_state(api_client, namespace: str) -> dict | None:
    """The ConfigurationState ``controller`` of ``namespace``; None when absent (no controller yet)."""
    custom = k8s_client.CustomObjectsApi(api_client)
    try:
        resp = custom.get_namespaced_custom_object(GROUP, version(CONFIGURATION_STATE), namespace,
                                                   plural(CONFIGURATION_STATE), CONTROLLER_STATE_NAME,
                                                   _preload_content=False)
    except ApiException as exc:
        if exc.status in (403, 404):  # no controller has reported, or no CRD / no right to read it
            return None
        raise
    return json.loads(resp.data)


def read_report(api_client, namespace: str = "metallb-system", lb_class: str = "") -> dict:
    """``status_report.build_report`` on a fresh snapshot of the cluster."""
    objects = cluster_objects(api_client, namespace)
    return build_report(objects, namespace=namespace, lb_class=lb_class,
                        configuration_state=read_configuration_state(api_client, namespace))
