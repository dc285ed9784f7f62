# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb status``: the facts of ``metal.lb.lb_info`` as tables for people (same function)."""

from __future__ import annotations

import argparse
import json
from .console import err, out

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
    return parser


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
    if args.output == "json":
        out(json.dumps(report, indent=2, sort_keys=True))
    else:
        out(format_report(report))
    return 0 if report["config_valid"] else 1
