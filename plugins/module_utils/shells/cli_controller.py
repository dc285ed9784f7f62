# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb controller``: run the controller daemon (the same command line the roles install)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from .console import err
from ..adapters.webhook import startup as webhook_startup
from ..engine.config.modes import DEFAULT_BGP_TYPE

NAME = "controller"
HELP = "run the IP-assigning controller against a Kubernetes API"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: structured logs for journald and log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
                 "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, sort_keys=True)


def setup_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    # The kubernetes client logs every request at DEBUG; keep ours readable.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    logging.getLogger("kubernetes").setLevel(logging.WARNING)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP)
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: K8S_AUTH_KUBECONFIG, ~/.kube/config, "
                                             "in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--namespace", default="metallb-system",
                        help="namespace of the metallb.io configuration and the Lease (default: %(default)s)")
    parser.add_argument("--lb-class", default="", help="only handle Services with this loadBalancerClass")
    parser.add_argument("--metrics-port", type=int, default=7472, help="Prometheus port, 0 disables")
    parser.add_argument("--metrics-address", default="0.0.0.0")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--lease-name", default="metallb-controller")
    parser.add_argument("--lease-duration", type=float, default=15.0)
    parser.add_argument("--renew-deadline", type=float, default=10.0)
    parser.add_argument("--retry-period", type=float, default=2.0)
    parser.add_argument("--identity", default="", help="leader-election identity (default: host_pid)")
    parser.add_argument("--bgp-type", default=os.environ.get("METALLB_BGP_TYPE") or DEFAULT_BGP_TYPE,
                        help="BGP implementation whose rules the controller and its webhooks apply to BGP objects: "
                             "frr (how the speaker speaks BGP), frr-k8s, native; any other value skips them, as "
                             "in MetalLB (default: METALLB_BGP_TYPE or %s)" % DEFAULT_BGP_TYPE)
    webhook_startup.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    log = logging.getLogger("metal_lb.controller")
    from .daemons.metrics import HAS_PROMETHEUS, serve
    from ..adapters.kube.client import HAS_KUBERNETES, KubeConfigError, build_api_client

    if not HAS_KUBERNETES or not HAS_PROMETHEUS:
        err("metal-lb controller: needs the kubernetes and prometheus-client Python libraries")
        return 2
    from .daemons.controller import Controller
    from .daemons.metrics import ControllerMetrics

    if args.webhook_mode == webhook_startup.ONLY and not args.webhook_port:
        err("metal-lb controller: --webhook-mode onlywebhook needs a --webhook-port")
        return 2

    try:
        api_client = build_api_client(kubeconfig=args.kubeconfig, context=args.context)
    except KubeConfigError as exc:
        err("metal-lb controller: %s" % exc)
        return 2
    webhooks = None
    if webhook_startup.wanted(args):
        from ..adapters.webhook.certificates import HAS_CRYPTOGRAPHY

        if not HAS_CRYPTOGRAPHY:
            err("metal-lb controller: the webhooks need the cryptography Python library (or --webhook-mode "
                "disabled)")
            return 2
        if args.webhook_mode == webhook_startup.ONLY:
            try:
                webhooks = webhook_startup.start(api_client, args)
            except webhook_startup.WebhookStartError as exc:
                err("metal-lb controller: %s" % exc)
                return 2
        else:
            webhooks = webhook_startup.Background(api_client, args, log)
    if args.webhook_mode == webhook_startup.ONLY:
        return _serve_only_webhooks(args, webhooks, ControllerMetrics(), log)
    controller = Controller(api_client, namespace=args.namespace, lb_class=args.lb_class,
                            identity=args.identity, lease_name=args.lease_name,
                            lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
                            retry_period=args.retry_period, bgp_type=args.bgp_type)
    try:
        serve(controller.metrics.registry, args.metrics_port, args.metrics_address)
    except OSError as exc:
        err("metal-lb controller: metrics port %d: %s" % (args.metrics_port, exc))
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = threading.Thread(target=controller.run, name="controller", daemon=True)
    worker.start()
    log.info("controller %s started (namespace %s, lb-class %r)", controller.identity, args.namespace,
             args.lb_class)
    while not stop.wait(0.5):
        if not worker.is_alive():
            log.error("controller loop ended unexpectedly")
            return 1
    log.info("stopping: releasing the lease")
    controller.stop()
    worker.join(timeout=5)
    if webhooks is not None:
        webhooks.stop()
    return 0


def _serve_only_webhooks(args: argparse.Namespace, webhooks, metrics, log: logging.Logger) -> int:
    """``--webhook-mode onlywebhook``: no informers, no lease, no IP assignment."""
    from .daemons.metrics import serve

    try:
        serve(metrics.registry, args.metrics_port, args.metrics_address)
    except OSError as exc:
        err("metal-lb controller: metrics port %d: %s" % (args.metrics_port, exc))
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    log.info("serving webhooks only on port %d (namespace %s)", webhooks.port, args.namespace)
    while not stop.wait(0.5):
        pass
    webhooks.stop()
    return 0
