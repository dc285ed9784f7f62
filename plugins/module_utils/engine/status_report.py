# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``metal.lb.lb_info`` returns and ``metal-lb status`` prints: one computation for both.

Pure (``kube.report_reads`` reads the snapshot). The current state comes from the Services
themselves (status IPs, pool annotation) and from the running controller's ConfigurationState
``controller``; the reasons, the IPs the controller would give and the pool usage come from the
planner run on the same snapshot, i.e. from the controller's own code.
"""

from __future__ import annotations

from collections.abc import Iterable

from .controller_pass import pending_reason
from .planner import plan
from .service import ServiceFacts

ASSIGNED, PENDING, IGNORED = "assigned", "pending", "ignored"
CONTROLLER_STATE_NAME = "controller"
CONTROLLER, ENGINE = "controller", "engine"


def _pending_reason(planned: dict | None, config_errors: list[str], has_pools: bool) -> str:
    planned = planned or {}
    return pending_reason(planned.get("events") or (), config_errors=config_errors, has_pools=has_pools,
                          would_assign=(planned.get("ips") or (), planned.get("pool")), seen=bool(planned))


def controller_state(obj: dict | None) -> dict | None:
    """The running controller's verdict from its ConfigurationState (None when it has not reported)."""
    if not isinstance(obj, dict):
        return None
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    result = status.get("result")
    if result not in ("Valid", "Invalid"):
        return None  # created but its status not written yet: no verdict
    conditions = [c for c in status.get("conditions") or () if isinstance(c, dict)]
    return {
        "result": result,
        "valid": result == "Valid",
        "error_summary": status.get("errorSummary") or "",
        "last_transition_time": conditions[0].get("lastTransitionTime") if conditions else None,
    }


def _in_use(objects: list[dict], lb_class: str, namespace: str, fallback: dict) -> dict:
    """Pool usage by the IPs Services hold now (the planner without the Services still waiting).

    A full plan also counts the IPs it would hand to pending Services, which a pool's real usage
    does not include until a controller (or metal.lb.assign) writes them.
    """
    holding = [obj for obj in objects
               if obj.get("kind") != "Service" or ServiceFacts(obj).ingress]
    if len(holding) == len(objects):
        return fallback
    return plan(holding, lb_class=lb_class, namespace=namespace)["pools"] or fallback


def build_report(objects: Iterable[dict], *, namespace: str = "metallb-system", lb_class: str = "",
                 configuration_state: dict | None = None) -> dict:
    """Facts about every LoadBalancer Service, the pools and the configuration of a snapshot.

    ``configuration_state`` is the ConfigurationState object named ``controller`` (or None).
    """
    objects = [obj for obj in objects if isinstance(obj, dict)]
    planned = plan(objects, lb_class=lb_class, namespace=namespace)
    errors = list(planned["errors"])
    blocking = list(planned["allocation_errors"])  # what stops the controller (and makes Services wait)
    services: dict = {}
    counts = {"services": 0, ASSIGNED: 0, PENDING: 0, IGNORED: 0, "pools": len(planned["pools"])}
    for obj in objects:
        if obj.get("kind") != "Service":
            continue
        facts = ServiceFacts(obj)
        if facts.type != "LoadBalancer":
            continue
        after = planned["services"].get(facts.key)
        if not facts.handled(lb_class):
            state = IGNORED
        elif facts.ingress:
            state = ASSIGNED
        else:
            state = PENDING
        entry = {
            "namespace": facts.namespace,
            "name": facts.name,
            "lb_class": facts.lb_class,
            "ips": list(facts.ingress),
            "pool": facts.pool_annotation,
            "state": state,
            "reason": _pending_reason(after, blocking, bool(planned["pools"])) if state == PENDING else None,
            "planned_ips": list(after["ips"]) if after and state != IGNORED else [],
        }
        services[facts.key] = entry
        counts["services"] += 1
        counts[state] += 1
    pools = _in_use(objects, lb_class, namespace, planned["pools"]) if planned["pools"] else {}
    running = controller_state(configuration_state)
    return {
        "services": {key: services[key] for key in sorted(services)},
        "pools": {name: pools.get(name, planned["pools"][name]) for name in planned["pools"]},
        "config_valid": running["valid"] if running else not blocking,
        "config_validated_by": CONTROLLER if running else ENGINE,
        "controller_state": running,
        "config_errors": errors,
        "allocation_errors": blocking,
        "config_warnings": list(planned["warnings"]),
        "counts": counts,
    }


def _table(rows: list[tuple]) -> list[str]:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]


def _config_line(report: dict) -> str:
    verdict = "valid" if report["config_valid"] else "INVALID"
    running = report.get("controller_state")
    if running:
        when = running.get("last_transition_time")
        return "configuration: %s (reported by the controller%s)" % (verdict, " since %s" % when if when else "")
    return "configuration: %s (checked by metal-lb; no controller has reported)" % verdict


def format_report(report: dict) -> str:
    """The report as tables for people (``metal-lb status``)."""
    lines = []
    rows = [("SERVICE", "STATE", "IPS", "POOL", "REASON")]
    for key, svc in report["services"].items():
        rows.append((key, svc["state"], ",".join(svc["ips"]) or "-", svc["pool"] or "-", svc["reason"] or ""))
    lines.extend(_table(rows) if len(rows) > 1 else ["no LoadBalancer services"])
    lines.append("")
    rows = [("POOL", "IPV4 IN USE", "IPV4 AVAILABLE", "IPV4 CAPACITY", "IPV6 IN USE", "IPV6 AVAILABLE",
             "IPV6 CAPACITY")]
    for name, pool in report["pools"].items():
        rows.append((name, pool["in_use"]["ipv4"], pool["available"]["ipv4"], pool["capacity"]["ipv4"],
                     pool["in_use"]["ipv6"], pool["available"]["ipv6"], pool["capacity"]["ipv6"]))
    lines.extend(_table(rows) if len(rows) > 1 else ["no pools"])
    lines.append("")
    counts = report["counts"]
    lines.append("services: %d (assigned %d, pending %d, ignored %d); pools: %d"
                 % (counts["services"], counts["assigned"], counts["pending"], counts["ignored"], counts["pools"]))
    lines.append(_config_line(report))
    running = report.get("controller_state")
    if running and running["error_summary"]:
        lines.append("  controller: %s" % running["error_summary"])
    if running and running["valid"] == bool(report["allocation_errors"]):
        lines.append("  note: the pools now %s; the controller has not caught up yet"
                     % ("have errors" if report["allocation_errors"] else "are valid"))
    lines.extend("  error: %s" % error for error in report["config_errors"])
    lines.extend("  warning: %s" % warning for warning in report["config_warnings"])
    return "\n".join(lines)
