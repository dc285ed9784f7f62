# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""List calls and informers for the configuration sources (``config.sources``).

The controller's and the speaker's informers and the modules' snapshot all read the list in
``config.sources`` through ``list_call``, so a kind is read the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Callable

from ...engine.config.sources import CLUSTER, Source, sources_for
from .informer import ChangeHandler, Informer

# plural -> the CoreV1Api list method (namespaced ones take the namespace first)
_CORE_LIST = {"namespaces": "list_namespace", "nodes": "list_node",
              "configmaps": "list_namespaced_config_map", "secrets": "list_namespaced_secret"}


def list_call(source: Source, core, custom, namespace: str) -> tuple[Callable, tuple, dict]:
    """(function, args, kwargs) that list ``source``'s objects: the call an informer repeats."""
    kwargs = {"field_selector": source.field_selector} if source.field_selector else {}
    if source.custom:
        return (custom.list_namespaced_custom_object, (source.group, source.version, namespace, source.plural),
                kwargs)
    args = () if source.scope == CLUSTER else (namespace,)
    return getattr(core, _CORE_LIST[source.plural]), args, kwargs


def config_informers(reader: str, core, custom, namespace: str, on_change: ChangeHandler,
                     transforms: dict[str, Callable[[dict], dict]] | None = None,
                     skip: tuple[str, ...] = ()) -> list[Informer]:
    """One informer per source ``reader`` reads (except the kinds in ``skip``, which it watches
    on its own), each stamping kind/apiVersion, with the transform of its kind if any."""
    out = []
    for source in sources_for(reader):
        if source.kind in skip:
            continue
        fn, args, kwargs = list_call(source, core, custom, namespace)
        out.append(Informer(source.plural, fn, on_change, args=args, kwargs=kwargs, kind=source.kind,
                            api_version=source.api_version,
                            transform=(transforms or {}).get(source.kind)))
    return out
