# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.pool_validate: MetalLB's validation of pools, for asserts (documented in pool_validate.yml)."""

from __future__ import annotations

from typing import Any

from ansible_collections.metal.lb.plugins.module_utils.engine.config import parse
from ansible_collections.metal.lb.plugins.plugin_utils.pool_input import (
    DEFAULT_NAMESPACE,
    as_objects,
    engine_call,
    require_netaddr,
)


def pool_validate(value: Any, namespace: str = DEFAULT_NAMESPACE) -> list[str]:
    """Every configuration error in the pools (and whatever else is in a list of objects)."""
    require_netaddr("pool_validate")
    objects = as_objects("pool_validate", value, namespace)
    result = engine_call("pool_validate", parse.parse_config, objects, namespace=namespace)
    return [str(error) for error in result.errors]


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"pool_validate": pool_validate}
