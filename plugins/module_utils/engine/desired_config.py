# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure half of ``metal.lb.config``: desired metallb.io objects, what to write, what it does to Services.

Separate from the API calls so that every decision (which object is created, replaced, pruned or left
alone, and which Service would get, keep, move or lose an IP) is testable without a cluster.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence

from .config.object_meta import meta_problem, object_name
from .config.parse import parse_config
from .config.secrets import masked_spec
from .message_text import printable
from .planner import plan
from .service import ServiceFacts
from .vocabulary import CONFIG_KINDS, GROUP, LAST_APPLIED_ANNOTATION, MANAGED_BY_LABEL

MANAGED_BY = "metal.lb"
# The spec as last written by metal.lb.config: detects fields removed from the desired object,
# which a subset comparison against the (defaulted) live object cannot see. kubectl apply's idea.
LAST_APPLIED = LAST_APPLIED_ANNOTATION
L2_ALL_POOLS_NAME = "l2-all-pools"
DEFAULT_VERSION = {"BGPPeer": "v1beta2"}
CREATE, UPDATE, DELETE, UNCHANGED = "create", "update", "delete", "unchanged"


class DesiredConfigError(ValueError):
    """Desired objects that cannot be applied; ``problems`` has one line per object and field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def _label_selector(value: dict) -> dict:
    """A survey-friendly ``{label: value}`` map or a full LabelSelector, as a LabelSelector."""
    if "matchLabels" in value or "matchExpressions" in value:
        return dict(value)
    return {"matchLabels": {str(k): str(v) for k, v in value.items()}}


def split_entries(values: Iterable[object] | None) -> list[str]:
    """List entries that may each hold several values separated by commas, blanks or new lines.

    An AWX survey text area arrives as one string with new lines; Ansible's list type splits only
    a whole string on commas.
    """
    out: list[str] = []
    for value in values or ():
        out.extend(part for part in re.split(r"[\s,]+", str(value)) if part)
    return out


def flat_resources(pools: Sequence[dict] | None, l2_advertisements: Sequence[dict] | None,
                   l2_all_pools: bool, namespace: str) -> list[dict]:
    """The layer-2 survey options as metallb.io objects (MetalLB's field names and defaults)."""
    out: list[dict] = []
    for pool in pools or ():
        spec: dict = {"addresses": split_entries(pool.get("addresses"))}
        if pool.get("auto_assign") is not None:
            spec["autoAssign"] = bool(pool["auto_assign"])
        if pool.get("avoid_buggy_ips") is not None:
            spec["avoidBuggyIPs"] = bool(pool["avoid_buggy_ips"])
        out.append({"apiVersion": "%s/v1beta1" % GROUP, "kind": "IPAddressPool",
                    "metadata": {"name": pool.get("name"), "namespace": namespace}, "spec": spec})
    for ad in l2_advertisements or ():
        spec = {}
        if split_entries(ad.get("pools")):
            spec["ipAddressPools"] = split_entries(ad["pools"])
        if split_entries(ad.get("interfaces")):
            spec["interfaces"] = split_entries(ad["interfaces"])
        if ad.get("node_selectors"):
            spec["nodeSelectors"] = [_label_selector(s) for s in ad["node_selectors"]]
        out.append({"apiVersion": "%s/v1beta1" % GROUP, "kind": "L2Advertisement",
                    "metadata": {"name": ad.get("name"), "namespace": namespace}, "spec": spec})
    if l2_all_pools:
        out.append({"apiVersion": "%s/v1beta1" % GROUP, "kind": "L2Advertisement",
                    "metadata": {"name": L2_ALL_POOLS_NAME, "namespace": namespace}, "spec": {}})
    return out


def _where(obj: dict, index: int) -> str:
    kind = obj.get("kind")
    return printable("%s %s" % (kind if isinstance(kind, str) and kind else "resources[%d]" % index,
                                object_name(obj) or "resources[%d]" % index))


def normalize(resources: Iterable[dict], namespace: str) -> list[dict]:
    """Check every desired object and add what metal.lb.config owns: namespace, apiVersion, label.

    Raises DesiredConfigError with every problem at once (one line per object and field).
    """
    out: list[dict] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for index, raw in enumerate(resources):
        if not isinstance(raw, dict):
            problems.append("resources[%d]: not a dictionary" % index)
            continue
        obj = copy.deepcopy(raw)
        kind = obj.get("kind")
        where = _where(obj, index)
        if kind not in CONFIG_KINDS:
            problems.append("%s: kind: must be one of %s" % (where, ", ".join(CONFIG_KINDS)))
            continue
        api = obj.get("apiVersion") or "%s/%s" % (GROUP, DEFAULT_VERSION.get(kind, "v1beta1"))
        if not isinstance(api, str) or not api.startswith(GROUP + "/"):
            problems.append("%s: apiVersion: must be in group %s, not %r" % (where, GROUP, api))
            continue
        obj["apiVersion"] = api
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            problems.append("%s: metadata.name: required" % where)
            continue
        problem = meta_problem(obj)  # Kubernetes' types: names, labels, annotations are strings
        if problem:
            problems.append("%s: %s: %s" % (where, problem[0], problem[1]))
            continue
        if meta.get("namespace") not in (None, "", namespace):
            problems.append("%s: metadata.namespace: is %r, but this task manages namespace %r"
                            % (where, meta["namespace"], namespace))
            continue
        if (kind, meta["name"]) in seen:
            problems.append("%s: metadata.name: listed more than once" % where)
            continue
        seen.add((kind, meta["name"]))
        if obj.get("spec") is None:
            obj["spec"] = {}
        meta["namespace"] = namespace
        labels = meta.get("labels") if isinstance(meta.get("labels"), dict) else {}
        meta["labels"] = dict(labels, **{MANAGED_BY_LABEL: MANAGED_BY})
        annotations = meta.get("annotations") if isinstance(meta.get("annotations"), dict) else {}
        # never the BGP password: the annotation only has to show that a field was there
        meta["annotations"] = dict(annotations, **{LAST_APPLIED: canonical(masked_spec(kind, obj["spec"]))})
        for key in [k for k in meta if k not in ("name", "namespace", "labels", "annotations")]:
            del meta[key]  # server-owned fields (resourceVersion, uid, ...) of a copied object
        obj.pop("status", None)
        out.append(obj)
    if problems:
        raise DesiredConfigError(problems)
    return out


def canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def is_managed(obj: dict) -> bool:
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_BY_LABEL) == MANAGED_BY


def contains(current: object, desired: object) -> bool:
    """``desired`` is part of ``current``: the API server only adds defaults, never removes."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(k in current and contains(current[k], v)
                                                 for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(current, list) and len(current) == len(desired)
                and all(contains(c, d) for c, d in zip(current, desired)))
    return current == desired


def needs_write(current: dict, desired: dict) -> bool:
    cur_meta, want_meta = current.get("metadata") or {}, desired["metadata"]
    return not (contains(current.get("spec") or {}, desired.get("spec") or {})
                and contains(cur_meta.get("labels") or {}, want_meta.get("labels") or {})
                and contains(cur_meta.get("annotations") or {}, want_meta.get("annotations") or {}))


def ident(obj: dict) -> tuple[str, str]:
    return str(obj.get("kind")), str((obj.get("metadata") or {}).get("name"))


class Action:
    """One object's fate: create, update (replace), delete or unchanged."""

    __slots__ = ("verb", "kind", "name", "current", "desired")

    def __init__(self, verb: str, current: dict | None, desired: dict | None) -> None:
        self.verb = verb
        self.kind, self.name = ident(desired if desired is not None else current)
        self.current = current
        self.desired = desired

    def __repr__(self) -> str:
        return "Action(%s %s/%s)" % (self.verb, self.kind, self.name)


def plan_actions(current: Iterable[dict], desired: Iterable[dict], *, state: str = "present",
                 prune: bool = True) -> list[Action]:
    """What to write so the namespace holds ``desired``; unlabelled objects are never pruned."""
    by_id = {ident(obj): obj for obj in current}
    actions: list[Action] = []
    wanted = set()
    for obj in desired:
        key = ident(obj)
        wanted.add(key)
        live = by_id.get(key)
        if state == "absent":
            if live is not None:
                actions.append(Action(DELETE, live, None))
            continue
        if live is None:
            actions.append(Action(CREATE, None, obj))
        elif needs_write(live, obj):
            actions.append(Action(UPDATE, live, obj))
        else:
            actions.append(Action(UNCHANGED, live, obj))
    if state == "present" and prune:
        for key in sorted(by_id):
            if key not in wanted and is_managed(by_id[key]):
                actions.append(Action(DELETE, by_id[key], None))
    return actions


def resulting_objects(current: Iterable[dict], actions: Iterable[Action]) -> list[dict]:
    """The configuration objects the namespace holds once ``actions`` are done."""
    result = {ident(obj): obj for obj in current}
    for action in actions:
        key = (action.kind, action.name)
        if action.verb == DELETE:
            result.pop(key, None)
        elif action.verb in (CREATE, UPDATE):
            result[key] = action.desired
    return [result[key] for key in sorted(result)]


def shown(obj: dict | None) -> dict:
    """An object as a diff shows it: without server-owned metadata, status and our bookkeeping."""
    if obj is None:
        return {}
    meta = obj.get("metadata") or {}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    out_meta: dict = {"name": meta.get("name"), "namespace": meta.get("namespace")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    if annotations:
        out_meta["annotations"] = annotations
    return {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": out_meta,
            "spec": copy.deepcopy(masked_spec(obj.get("kind"), obj.get("spec") or {}))}


def diff_entries(actions: Iterable[Action]) -> list[dict]:
    """Ansible ``diff`` entries (before/after) for every object that changes."""
    out = []
    for action in actions:
        if action.verb == UNCHANGED:
            continue
        header = "%s/%s" % (action.kind, action.name)
        out.append({"before_header": header, "after_header": header,
                    "before": shown(action.current), "after": shown(action.desired)})
    return out


def service_changes(services: Iterable[dict], planned: dict, lb_class: str = "") -> dict:
    """Which Services would get, keep, move or lose an IP: current statuses against the planner's result.

    A Service this installation does not handle (another load balancer class) is left out; one that
    has no IP before and none after is in no list.
    """
    changes: dict = {"get": [], "keep": [], "move": [], "lose": []}
    current = {}
    for svc in services:
        facts = ServiceFacts(svc)
        if facts.handled(lb_class):
            current[facts.key] = facts
    for key in sorted(set(current) | set(planned)):
        facts = current.get(key)
        if facts is None:
            continue
        old_ips = list(facts.ingress)
        after = planned.get(key) or {}
        if after.get("state") == "ignored":
            continue
        new_ips = list(after.get("ips") or [])
        entry = {"service": key, "old_ips": old_ips, "new_ips": new_ips,
                 "old_pool": facts.pool_annotation, "new_pool": after.get("pool")}
        if not old_ips and not new_ips:
            continue
        if not old_ips:
            changes["get"].append(entry)
        elif not new_ips:
            changes["lose"].append(entry)
        elif sorted(old_ips) == sorted(new_ips):
            changes["keep"].append(entry)
        else:
            changes["move"].append(entry)
    return changes


# ----------------------------------------------------------------- the metal.lb.config module's decisions

def desired_objects(params: dict) -> list[dict]:
    """Every desired object, normalised (raises DesiredConfigError naming each bad object)."""
    pools, ads = list(params["pools"]), list(params["l2_advertisements"])
    if params["pool_name"]:
        pools.append({"name": params["pool_name"], "addresses": params["pool_addresses"]})
        ads.append({"name": params["pool_name"], "pools": [params["pool_name"]],
                    "interfaces": params["pool_interfaces"] or []})
    flat = flat_resources(pools, ads, params["l2_all_pools"], params["namespace"])
    return normalize(list(params["resources"]) + flat, params["namespace"])


def is_config_object(obj: dict) -> bool:
    return obj.get("kind") in CONFIG_KINDS and str(obj.get("apiVersion") or "").startswith(GROUP + "/")


def evaluate(objects: list[dict], desired: list[dict], params: dict, current: list[dict] | None = None) -> dict:
    """Actions, validation and service changes for a snapshot (pure: no API calls).

    ``current`` overrides the snapshot's config objects (for objects re-read at another version).
    """
    if current is None:
        current = [obj for obj in objects if is_config_object(obj)]
    others = [obj for obj in objects if not is_config_object(obj)]
    actions = plan_actions(current, desired, state=params["state"], prune=params["prune"])
    resulting = resulting_objects(current, actions) + others
    checks = dict(service_cidrs=params["service_cidrs"], gateways=params["gateways"],
                  allow_node_ip_pools=params["allow_node_ip_pools"])
    parsed = parse_config(resulting, namespace=params["namespace"], **checks)
    out = {"actions": actions, "errors": [str(e) for e in parsed.errors], "warnings": list(parsed.warnings),
           "plan": None, "service_changes": {"get": [], "keep": [], "move": [], "lose": []}}
    if out["errors"]:
        return out
    planned = plan(resulting, lb_class=params["lb_class"], namespace=params["namespace"], **checks)
    services = [obj for obj in others if obj.get("kind") == "Service"]
    out["service_changes"] = service_changes(services, planned["services"], params["lb_class"])
    out["plan"] = {"services": planned["services"], "pools": planned["pools"],
                   "service_changes": out["service_changes"]}
    return out
