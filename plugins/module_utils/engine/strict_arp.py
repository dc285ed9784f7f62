# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""``ipvs.strictARP: true`` in kube-proxy's ``config.conf``, as a targeted text edit.

kube-proxy in IPVS mode puts every LoadBalancer IP on ``kube-ipvs0`` of every node, so with the
kernel's default ARP settings every node answers ARP for every VIP and a layer-2 load balancer
cannot steer traffic. ``strictARP`` makes kube-proxy set ``arp_ignore=1``/``arp_announce=2``.

The file is edited as text, not re-serialised: comments, key order, quoting and every byte
outside the one scalar (or the one inserted line) stay as the operator or kubeadm wrote them, so
the diff a reviewer sees is exactly one line. The result is parsed again and compared with the
original plus ``ipvs.strictARP: true``; any other difference is refused, never written.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - callers report missing_required_lib
    yaml = None
    HAS_YAML = False

KEY = "strictARP"
IPVS = "ipvs"


class StrictArpError(Exception):
    """``config.conf`` cannot be read or cannot be edited safely (the message says which part)."""


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``replacement``: the only bytes that change."""

    start: int
    end: int
    replacement: str

    def apply(self, text: str) -> str:
        return text[: self.start] + self.replacement + text[self.end:]


@dataclass(frozen=True)
class StrictArpResult:
    text: str  # config.conf afterwards (the input when nothing changes)
    changed: bool
    mode: str  # kube-proxy's mode as written ("" means the platform default: iptables on Linux)
    applies: bool  # mode is ipvs
    strict_arp: bool  # ipvs.strictARP afterwards
    message: str
    edit: Edit | None = None


def _load(text: str) -> dict:
    try:
        conf = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StrictArpError("not parseable YAML: %s" % " ".join(str(exc).split())) from exc
    if conf is None:
        conf = {}
    if not isinstance(conf, dict):
        raise StrictArpError("not a KubeProxyConfiguration mapping (found %s)" % type(conf).__name__)
    return conf


def _pairs(node) -> list:
    """(key, value) node pairs of a mapping node, refusing duplicate keys (kube-proxy rejects them too)."""
    seen = set()
    for key, _value in node.value:
        name = key.value if isinstance(key, yaml.ScalarNode) else None
        if name in seen:
            raise StrictArpError("duplicate key %r" % name)
        seen.add(name)
    return list(node.value)


def _find(node, name: str):
    for key, value in _pairs(node):
        if isinstance(key, yaml.ScalarNode) and key.value == name:
            return key, value
    return None


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _after_line(text: str, index: int, newline: str) -> tuple[int, str]:
    """Position of the next line start at or after ``index`` (and a newline to add at end of file)."""
    if index > 0 and text[index - 1] == "\n":
        return index, ""
    found = text.find("\n", index)
    if found < 0:
        return len(text), newline
    return found + 1, ""


def _insert_into_block(text: str, mapping, name: str, line: str) -> Edit:
    """A new ``line`` in a block mapping at its keys' indentation: in sorted position when the keys are
    sorted (as kubeadm writes them), else after the last key."""
    newline = _newline(text)
    pairs = _pairs(mapping)
    keys = [k.value if isinstance(k, yaml.ScalarNode) else None for k, _v in pairs]
    indent = pairs[0][0].start_mark.column
    if all(isinstance(k, str) for k in keys) and keys == sorted(keys):
        for key, _value in pairs:
            if key.value > name:
                at = _line_start(text, key.start_mark.index)
                if text[at:key.start_mark.index].strip():
                    break  # the key shares its line with something else: fall back to the end
                return Edit(at, at, " " * key.start_mark.column + line + newline)
    at, prefix = _after_line(text, pairs[-1][1].end_mark.index, newline)
    return Edit(at, at, prefix + " " * indent + line + newline)


def _insert_into_flow(text: str, mapping, entry: str) -> Edit:
    """``{a: 1}`` → ``{strictARP: true, a: 1}``."""
    at = mapping.start_mark.index + 1
    if text[at - 1] != "{":  # the node starts with an anchor or a tag, not its brace
        raise StrictArpError("%s uses YAML anchors, aliases or tags: set %s.%s by hand" % (IPVS, IPVS, KEY))
    return Edit(at, at, entry + (", " if mapping.value else ""))


def _plan_edit(text: str) -> Edit:
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise StrictArpError("not parseable YAML: %s" % " ".join(str(exc).split())) from exc
    if root is None:
        return Edit(len(text), len(text), "%s:%s  %s: true%s" % (IPVS, _newline(text), KEY, _newline(text)))
    if not isinstance(root, yaml.MappingNode):
        raise StrictArpError("not a KubeProxyConfiguration mapping")
    newline = _newline(text)
    found = _find(root, IPVS)
    if found is None:
        if root.flow_style:
            return _insert_into_flow(text, root, "%s: {%s: true}" % (IPVS, KEY))
        if not root.value:
            raise StrictArpError("an empty mapping without keys cannot be extended safely")
        return _insert_into_block(text, root, IPVS, "%s:%s%s%s: true" % (
            IPVS, newline, " " * (root.value[0][0].start_mark.column + 2), KEY))
    _key, ipvs = found
    if isinstance(ipvs, yaml.ScalarNode):
        if ipvs.tag != "tag:yaml.org,2002:null":
            raise StrictArpError("%s is not a mapping" % IPVS)
        replacement = "{%s: true}" % KEY
        start, end = ipvs.start_mark.index, ipvs.end_mark.index
        if start == end:  # "ipvs:" with nothing after it
            replacement = " " + replacement
        return Edit(start, end, replacement)
    if not isinstance(ipvs, yaml.MappingNode):
        raise StrictArpError("%s is not a mapping" % IPVS)
    existing = _find(ipvs, KEY)
    if existing is not None:
        value = existing[1]
        if not isinstance(value, yaml.ScalarNode):
            raise StrictArpError("%s.%s is not a scalar" % (IPVS, KEY))
        return Edit(value.start_mark.index, value.end_mark.index, "true")
    if ipvs.flow_style or not ipvs.value:
        if not ipvs.flow_style:
            raise StrictArpError("%s is an empty block mapping" % IPVS)
        return _insert_into_flow(text, ipvs, "%s: true" % KEY)
    return _insert_into_block(text, ipvs, KEY, "%s: true" % KEY)


def kube_proxy_mode(conf: dict) -> str:
    mode = conf.get("mode")
    return "" if mode is None else str(mode)


def ensure_strict_arp(text: str) -> StrictArpResult:
    """Set ``ipvs.strictARP: true`` when kube-proxy runs in IPVS mode; anything else is left alone.

    Raises StrictArpError when the text is not a parseable mapping or the edit would change more
    than that one key.
    """
    conf = _load(text)
    mode = kube_proxy_mode(conf)
    ipvs = conf.get(IPVS)
    current = isinstance(ipvs, dict) and ipvs.get(KEY) is True
    if mode != "ipvs":
        shown = mode or "unset (iptables, the default)"
        return StrictArpResult(text, False, mode, False, current,
                               "kube-proxy mode is %s: strictARP applies to ipvs mode only, nothing to do" % shown)
    if current:
        return StrictArpResult(text, False, mode, True, True, "kube-proxy mode is ipvs and strictARP is already true")
    if ipvs is not None and not isinstance(ipvs, dict):
        raise StrictArpError("%s is not a mapping" % IPVS)
    edit = _plan_edit(text)
    new_text = edit.apply(text)
    expected = copy.deepcopy(conf)
    expected.setdefault(IPVS, None)
    expected[IPVS] = dict(expected[IPVS] or {}, **{KEY: True})
    try:
        got = yaml.safe_load(new_text)
    except yaml.YAMLError as exc:
        raise StrictArpError("the edit would make it unparseable (%s); set %s.%s by hand"
                             % (" ".join(str(exc).split()), IPVS, KEY)) from exc
    if got != expected:
        raise StrictArpError("setting %s.%s would change other keys too (anchors, aliases or merge keys?); "
                             "set it by hand" % (IPVS, KEY))
    return StrictArpResult(new_text, True, mode, True, True,
                           "kube-proxy mode is ipvs: strictARP set to true", edit)
