# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Where a cluster says what its Service (ClusterIP) CIDRs are.

The API has no field for it before Kubernetes 1.33: there, ServiceCIDR objects
(``networking.k8s.io``) list them; kubeadm clusters also keep ``networking.serviceSubnet`` in the
``kube-system/kubeadm-config`` ConfigMap. An explicit list always wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

try:
    import yaml
except ImportError:  # pragma: no cover - callers report missing_required_lib
    yaml = None


def from_service_cidr_objects(objects: Iterable[Mapping]) -> list[str]:
    cidrs: list[str] = []
    for obj in objects:
        spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
        for cidr in spec.get("cidrs") or ():
            if str(cidr) not in cidrs:
                cidrs.append(str(cidr))
    return cidrs


def from_kubeadm_config(configmap: Mapping | None) -> list[str]:
    data = (configmap or {}).get("data") or {}
    text = data.get("ClusterConfiguration") if isinstance(data, Mapping) else None
    if not text:
        return []
    try:
        conf = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    networking = conf.get("networking") if isinstance(conf, Mapping) else None
    subnet = networking.get("serviceSubnet") if isinstance(networking, Mapping) else None
    return [part.strip() for part in str(subnet).split(",") if part.strip()] if subnet else []


def choose(given: list[str], service_cidr_objects: Iterable[Mapping], kubeadm_config: Mapping | None
           ) -> tuple[list[str], str]:
    """(CIDRs, where they come from): the option, ServiceCIDR objects, kubeadm-config, or none."""
    if given:
        return list(given), "option"
    found = from_service_cidr_objects(service_cidr_objects)
    if found:
        return found, "ServiceCIDR objects"
    found = from_kubeadm_config(kubeadm_config)
    if found:
        return found, "ConfigMap kube-system/kubeadm-config"
    return [], "unknown"
