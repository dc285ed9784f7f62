# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb status``: the facts of ``metal.lb.lb_info`` as tables for people (same function)."""

from __future__ import annotations

import argparse
import json

from .console import err, out
from .daemons import status_file as status_files

NAME = "status"
HELP = "show every LoadBalancer service, pool usage and whether the configuration is valid"


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP)
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: K8S_AUTH_KUBECONFIG, ~/.kube/config, "
                                             "in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--namespace", default="metallb-system",
                        help="namespace of the metallb.io configuration (default: %(default)s)")
    parser.add_argument("--lb-class", default="", help="the loadBalancerClass the controller handles")
    parser.add_argument("--output", "-o", choices=["table", "json"], default="table")
    parser.add_argument("--node", default="",
                        help="also show this node's BGP sessions, from its speaker's status file (run on the node)")
    parser.add_argument("--status-file", default=status_files.DEFAULT_PATH,
                        help="the speaker's status file ({node} is replaced; default: %(default)s)")
    return parser


def node_sessions(args) -> tuple[list[dict] | None, str]:
    """(the node's BGP sessions, why not) from its speaker's status file."""
    path = status_files.path_for(args.status_file, args.node)
    try:
        content = status_files.read(path)
    except ValueError as exc:
        return None, str(exc)
    if content is None:
        return None, "no speaker status file %s" % path
    return status_files.bgp_sessions(content), ""


def format_sessions(node: str, sessions: list[dict]) -> str:
    lines = ["BGP sessions of node %s:" % node]
    if not sessions:
        lines.append("  (none)")
    for s in sessions:
        uptime = "%ds" % s["uptime"] if s["uptime"] is not None else "-"
        lines.append("  %-20s %-28s %-12s up %-8s prefixes %d/%d  bfd %s" % (
            s["name"], s["peer"] + ("%" + s["vrf"] if s["vrf"] else ""), s["state"], uptime, s["prefixes_sent"],
            s["prefixes"], s["bfd"] or "-"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when the configuration is valid, 1 when it is not, 2 when the API cannot be read."""
    from ..adapters.kube.client import HAS_KUBERNETES, KubeConfigError, build_api_client
    from ..adapters.kube.module_auth import describe_api_error
    from ..adapters.kube.report_reads import read_report
    from ..engine.status_report import format_report

    if not HAS_KUBERNETES:
        err("metal-lb status: needs the kubernetes Python library")
        return 2
    try:
        api_client = build_api_client(kubeconfig=args.kubeconfig, context=args.context)
    except KubeConfigError as exc:
        err("metal-lb status: %s" % exc)
        return 2
    try:
        report = read_report(api_client, args.namespace, args.lb_class)
    except Exception as exc:  # noqa: BLE001 - an API or network failure is one line, not a traceback
        err("metal-lb status: %s" % describe_api_error(exc))
        return 2
    finally:
        api_client.close()
    sessions, why = node_sessions(args) if args.node else (None, "")
    if why:
        err("metal-lb status: %s" % why)
    if args.output == "json":
        if sessions is not None:
            report = dict(report, node={"name": args.node, "bgp_sessions": sessions})
        out(json.dumps(report, indent=2, sort_keys=True))
    else:
        out(format_report(report))
        if sessions is not None:
            out(format_sessions(args.node, sessions))
    return 0 if report["config_valid"] else 1
