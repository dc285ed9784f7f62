# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.config_objects: the metallb.io objects metal.lb.config would write, offline
(documented in config_objects.yml)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine.desired_config import (
    DesiredConfigError,
    desired_objects,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import printable, type_name

DEFAULTS = {"resources": [], "pool_name": None, "pool_addresses": None, "pool_interfaces": None, "pools": [],
            "l2_advertisements": [], "l2_all_pools": False, "namespace": "metallb-system"}


def _list(value: Any) -> list:
    if value is None or value == "":
        return []
    return [value] if isinstance(value, (str, Mapping)) else list(value)


def config_objects(options: Any) -> list[dict]:
    if not isinstance(options, Mapping):
        raise AnsibleFilterError("config_objects: expected the options of metal.lb.config (a dictionary), got %s"
                                 % type_name(options))
    unknown = sorted(set(options) - set(DEFAULTS) - {"kubeconfig", "context", "host", "api_key", "validate_certs",
                                                     "ca_cert", "state", "prune", "lb_class", "service_cidrs",
                                                     "gateways", "allow_node_ip_pools"})
    if unknown:
        raise AnsibleFilterError("config_objects: unknown option(s) %s" % ", ".join(unknown))
    params = dict(DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS})
    for key in ("resources", "pools", "l2_advertisements"):
        params[key] = [dict(item) if isinstance(item, Mapping) else item for item in _list(params[key])]
    for key in ("pool_addresses", "pool_interfaces"):
        params[key] = [str(item) for item in _list(params[key])]
    for pool in params["pools"]:
        if isinstance(pool, dict):
            pool.setdefault("auto_assign", None)
            pool.setdefault("avoid_buggy_ips", None)
    params["pool_name"] = params["pool_name"] or None
    params["l2_all_pools"] = bool(params["l2_all_pools"])
    try:
        return desired_objects(params)
    except DesiredConfigError as exc:
        raise AnsibleFilterError("config_objects: %s" % printable(exc)) from None
    except (TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("config_objects: %s" % printable(exc)) from None


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"config_objects": config_objects}
