# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Kubernetes objects from text: whatever ``kubectl get -o yaml|json`` or a manifest holds.

Read defensively, as the API server reads: nesting deeper than ``MAX_DEPTH`` is refused before
anything recurses into it (libyaml's C composer overflows the C stack on 50,000 ``[``; deep
JSON raises RecursionError), YAML aliases may not expand a document into a multiple of itself
(go-yaml's "excessive aliasing" rule, which kubectl applies), recursive aliases and duplicate
mapping keys are refused as kubectl refuses them, and text that is not UTF-8 is unreadable.
"""

from __future__ import annotations

import json
import re

from .message_text import type_name

try:
    import yaml
    from yaml.composer import Composer, ComposerError
    from yaml.events import AliasEvent, MappingEndEvent, ScalarEvent, SequenceEndEvent, SequenceStartEvent
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    HAS_YAML = True
except ImportError:  # pragma: no cover - callers report missing_required_lib
    yaml = None
    HAS_YAML = False

MAX_DEPTH = 100  # Kubernetes objects, CRD schemas included, nest far less
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
# go-yaml's allowedAliasRatio: small documents may come mostly from aliases, large ones hardly.
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000


def allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _ALIAS_LOW:
        return 0.99
    if decodes >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


if HAS_YAML:
    _Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class BoundedComposer(Composer):
        """PyYAML's composer with the bounds: depth, alias expansion (nodes counted as expanded),
        recursive aliases and duplicate keys. Composing in Python on libyaml's events keeps the C
        parser's speed without the C composer's unbounded recursion. Path resolvers are not
        supported (KubeLoader has none)."""

        def compose_document(self):
            self._depth = 0
            self._decodes = 0
            self._alias_decodes = 0
            self._sizes = {}  # id(node) -> nodes it stands for, aliases expanded; absent while open
            self.get_event()  # DocumentStart
            node = self.compose_node(None, None)
            self.get_event()  # DocumentEnd
            self.anchors = {}
            self._sizes = {}
            return node

        def compose_node(self, parent, index):
            event = self.get_event()
            if isinstance(event, AliasEvent):
                node = self.anchors.get(event.anchor)
                if node is None:
                    raise ComposerError(None, None, "found undefined alias %s" % event.anchor, event.start_mark)
                size = self._sizes.get(id(node))
                if size is None:
                    raise ComposerError(None, None, "found recursive alias %s" % event.anchor, event.start_mark)
                self._decodes += size
                self._alias_decodes += size
                if (self._alias_decodes > 100 and self._decodes > 1000
                        and self._alias_decodes / self._decodes > allowed_alias_ratio(self._decodes)):
                    raise ComposerError(None, None, "document contains excessive aliasing", event.start_mark)
                return node
            anchor = event.anchor
            if anchor is not None and anchor in self.anchors:
                raise ComposerError("found duplicate anchor %s; first occurrence" % anchor,
                                    self.anchors[anchor].start_mark, "second occurrence", event.start_mark)
            self._decodes += 1
            if isinstance(event, ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = self.resolve(ScalarNode, event.value, event.implicit)
                node = ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
                if anchor is not None:
                    self.anchors[anchor] = node
                    self._sizes[id(node)] = 1
                return node
            self._depth += 1
            if self._depth > MAX_DEPTH:
                raise ComposerError(None, None, "nesting deeper than %d levels" % MAX_DEPTH, event.start_mark)
            before = self._decodes - 1
            tag = event.tag
            if isinstance(event, SequenceStartEvent):
                if tag is None or tag == "!":
                    tag = self.resolve(SequenceNode, None, event.implicit)
                node = SequenceNode(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if anchor is not None:
                    self.anchors[anchor] = node
                items = node.value
                while not isinstance(self.peek_event(), SequenceEndEvent):
                    items.append(self.compose_node(node, None))
            else:
                if tag is None or tag == "!":
                    tag = self.resolve(MappingNode, None, event.implicit)
                node = MappingNode(tag, [], event.start_mark, None, flow_style=event.flow_style)
                if anchor is not None:
                    self.anchors[anchor] = node
                pairs = node.value
                keys = set()
                while not isinstance(self.peek_event(), MappingEndEvent):
                    key = self.compose_node(node, None)
                    if isinstance(key, ScalarNode) and key.tag != _MERGE:
                        if key.value in keys:
                            raise ComposerError("while composing a mapping", node.start_mark,
                                                'found duplicate key "%s"' % key.value, key.start_mark)
                        keys.add(key.value)
                    pairs.append((key, self.compose_node(node, key)))
            node.end_mark = self.get_event().end_mark
            self._depth -= 1
            if anchor is not None:
                self._sizes[id(node)] = self._decodes - before
            return node

    class KubeLoader(BoundedComposer, _Base):  # type: ignore[misc,valid-type]
        """Safe loading as kubectl reads YAML: no YAML 1.1 base-60 numbers, and the bounds above.

        PyYAML turns MetalLB's documented community ``value: 1234:1`` into the integer 74041;
        kubectl keeps it the string "1234:1". Same for ``1:30`` durations and the like.
        """

        def __init__(self, stream) -> None:
            _Base.__init__(self, stream)
            self.anchors = {}  # Composer's state: _Base initialises its own parts only

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
                            % (source, index, type_name(doc)))
    kind = doc.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
        item_kind = kind[:-4] if kind != "List" else None
        for item in doc["items"]:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = dict(item, kind=item_kind, apiVersion=doc.get("apiVersion", "v1"))
            _flatten(item, source, index, out)
        return
    out.append(doc)


def decode_text(data: bytes, source: str = "<input>") -> str:
    """UTF-8 (a BOM allowed), as Kubernetes reads manifests; anything else is unreadable."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError("%s: unreadable: not UTF-8 text (byte 0x%02x at offset %d)"
                            % (source, data[exc.start], exc.start)) from None


def _yaml_message(exc: Exception) -> str:
    """One line: the problem and where (PyYAML's own text spans several lines with a snippet)."""
    problem = getattr(exc, "problem", None)
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if not problem:
        return " ".join(str(exc).split())
    where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark is not None else ""
    context = getattr(exc, "context", None)
    return "%s%s%s" % ("%s: " % context if context else "", problem, where)


def _too_deep(value, limit: int = MAX_DEPTH) -> bool:
    """Iterative: the check itself must not recurse."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def load_documents(text: str, source: str = "<input>") -> list:
    """Every YAML document of ``text``, within the bounds; raises ManifestError (one line)."""
    if not HAS_YAML:
        raise ManifestError("%s: PyYAML is required to read YAML" % source)
    try:
        return list(yaml.load_all(text, Loader=KubeLoader))
    except yaml.YAMLError as exc:
        raise ManifestError("%s: invalid YAML: %s" % (source, _yaml_message(exc))) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more digits than Python converts
        raise ManifestError("%s: invalid YAML: %s" % (source, " ".join(str(exc).split()))) from None


def load_objects(text: str, source: str = "<input>") -> list[dict]:
    """Multi-document YAML or JSON; ``kind: List``/``*List`` items are flattened."""
    if isinstance(text, bytes):
        text = decode_text(text, source)
    stripped = text.lstrip()
    docs: list = []
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            parsed = json.loads(text)
        except RecursionError:
            raise ManifestError("%s: invalid JSON: nesting deeper than %d levels" % (source, MAX_DEPTH)) from None
        except ValueError:
            parsed = None  # not JSON after all: YAML is a superset, try it
        if parsed is not None:
            if _too_deep(parsed):
                raise ManifestError("%s: invalid JSON: nesting deeper than %d levels" % (source, MAX_DEPTH))
            docs = parsed if isinstance(parsed, list) else [parsed]
    if not docs:
        docs = load_documents(text, source)
    out: list[dict] = []
    for index, doc in enumerate(docs):
        _flatten(doc, source, index, out)
    return out
