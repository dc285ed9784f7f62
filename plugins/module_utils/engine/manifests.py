# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects from text: whatever ``kubectl get -o yaml|json`` or a manifest holds."""

from __future__ import annotations

import json
import re

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - callers report missing_required_lib
    yaml = None
    HAS_YAML = False

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"

if HAS_YAML:
    class KubeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        """Safe loading as kubectl reads YAML: no YAML 1.1 base-60 numbers.

        PyYAML turns MetalLB's documented community ``value: 1234:1`` into the integer 74041;
        kubectl keeps it the string "1234:1". Same for ``1:30`` durations and the like.
        """

    KubeLoader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
        for first, resolvers in KubeLoader.yaml_implicit_resolvers.items()
    }
    KubeLoader.add_implicit_resolver(
        _INT, re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
        list("-+0123456789"))
    KubeLoader.add_implicit_resolver(
        _FLOAT, re.compile(r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
                           r"|\.[0-9_]+(?:[eE][-+][0-9]+)?"
                           r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
        list("-+0123456789."))


class ManifestError(ValueError):
    """The text is not Kubernetes objects; the message names the source and document."""


def _flatten(doc, source: str, index: int, out: list[dict]) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        raise ManifestError("%s: document %d is not a Kubernetes object (got %s)"
                            % (source, index, type(doc).__name__))
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        item_kind = kind[:-4] if kind != "List" else None
        for item in doc["items"]:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = dict(item, kind=item_kind, apiVersion=doc.get("apiVersion", "v1"))
            _flatten(item, source, index, out)
        return
    out.append(doc)


def load_objects(text: str, source: str = "<input>") -> list[dict]:
    """Multi-document YAML or JSON; ``kind: List``/``*List`` items are flattened."""
    stripped = text.lstrip()
    docs: list = []
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            parsed = json.loads(text)
            docs = parsed if isinstance(parsed, list) else [parsed]
        except ValueError:
            docs = []  # not JSON after all: YAML is a superset, try it
    if not docs:
        if not HAS_YAML:
            raise ManifestError("%s: PyYAML is required to read YAML" % source)
        try:
            docs = list(yaml.load_all(text, Loader=KubeLoader))
        except yaml.YAMLError as exc:
            raise ManifestError("%s: invalid YAML: %s" % (source, exc)) from exc
    out: list[dict] = []
    for index, doc in enumerate(docs):
        _flatten(doc, source, index, out)
    return out
