# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument handling shared by the pool filters.

Templates hand the filters pools in three shapes: address entries (a string or a list of strings,
as in ``spec.addresses``), one ``IPAddressPool`` object, or a list of objects (e.g. a manifest
loaded with ``from_yaml_all``). This turns each into what the engine takes and turns the engine's
exceptions into one AnsibleFilterError; the engine decides everything else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine import addresses
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import printable, type_name

POOL_KIND = "IPAddressPool"
METALLB_API_VERSION = "metallb.io/v1beta1"
# Name given to a pool written as bare address entries, so the engine can name it in messages.
ENTRIES_POOL_NAME = "addresses"
DEFAULT_NAMESPACE = "metallb-system"

T = TypeVar("T")


class PoolEntries(NamedTuple):
    """The address entries of one pool, as written, with what changes how they are counted."""

    pool: str  # "" when the filter was given bare entries
    entries: tuple[str, ...]
    avoid_buggy_ips: bool = False


def require_netaddr(filter_name: str) -> None:
    """The engine's address arithmetic is netaddr; say so instead of failing deep inside it."""
    if not getattr(addresses, "HAS_NETADDR", True):
        raise AnsibleFilterError("%s: the netaddr Python library is required on the controller" % filter_name)


def engine_call(filter_name: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one engine function; a value it rejects becomes one clear filter error."""
    try:
        return function(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        # from None: ansible-core appends the cause to the message, unescaped
        raise AnsibleFilterError("%s: %s" % (filter_name, printable(exc))) from None


def is_object(value: Any) -> bool:
    return isinstance(value, Mapping)


def is_entry_list(value: Any) -> bool:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return False
    return all(isinstance(v, str) for v in value)


def object_label(obj: Mapping) -> str:
    metadata = obj.get("metadata") or {}
    name = metadata.get("name", "<unnamed>") if isinstance(metadata, Mapping) else "<unnamed>"
    return printable("%s %s" % (obj.get("kind", "<no kind>"), name))


def entries_pool_object(entries: Sequence[str], namespace: str = DEFAULT_NAMESPACE) -> dict:
    """A minimal IPAddressPool around bare entries, so bare entries get the same validation."""
    return {
        "apiVersion": METALLB_API_VERSION,
        "kind": POOL_KIND,
        "metadata": {"name": ENTRIES_POOL_NAME, "namespace": namespace},
        "spec": {"addresses": list(entries)},
    }


def with_api_version(obj: Mapping) -> dict:
    """A pool written in a template without apiVersion is meant as a metallb.io pool, not ignored."""
    obj = dict(obj)
    if obj.get("kind") == POOL_KIND and not obj.get("apiVersion"):
        obj["apiVersion"] = METALLB_API_VERSION
    return obj


def as_objects(filter_name: str, value: Any, namespace: str = DEFAULT_NAMESPACE) -> list[dict]:
    """Any accepted shape as a list of Kubernetes objects (bare entries become one pool)."""
    if isinstance(value, str) or is_entry_list(value):
        return [entries_pool_object([value] if isinstance(value, str) else value, namespace)]
    if is_object(value):
        return [with_api_version(value)]
    if isinstance(value, Sequence) and all(is_object(v) for v in value):
        return [with_api_version(v) for v in value]
    raise AnsibleFilterError(
        "%s: expected address entries (a string or a list of strings), an IPAddressPool object or a "
        "list of objects, got %s" % (filter_name, type_name(value))
    )


def pool_entries(filter_name: str, value: Any) -> list[PoolEntries]:
    """The entries of every pool in ``value``; objects of other kinds are skipped."""
    if isinstance(value, str):
        return [PoolEntries("", (value,))]
    if is_entry_list(value):
        return [PoolEntries("", tuple(value))]
    pools = []
    for obj in as_objects(filter_name, value):
        if obj.get("kind") != POOL_KIND:
            if is_object(value):  # a single object must be a pool; a list may hold other kinds
                raise AnsibleFilterError(
                    "%s: expected an IPAddressPool, got %s" % (filter_name, object_label(obj))
                )
            continue
        spec = obj.get("spec") or {}
        entries = spec.get("addresses") if isinstance(spec, Mapping) else None
        if not is_entry_list(entries):
            raise AnsibleFilterError(
                "%s: %s: spec.addresses must be a list of strings" % (filter_name, object_label(obj))
            )
        name = (obj.get("metadata") or {}).get("name", "")
        pools.append(PoolEntries(str(name), tuple(entries), bool(spec.get("avoidBuggyIPs", False))))
    return pools
