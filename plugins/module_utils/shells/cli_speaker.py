# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb speaker``: run the speaker daemon of one node (the command line the roles install).

Signals: SIGTERM/SIGINT = planned handover (leave membership, peers take over at once, then stop
answering; BGP routes get GRACEFUL_SHUTDOWN, then are withdrawn and FRR stops); SIGUSR1 = a fresh
gratuitous ARP/NA burst for every IP this node announces (what ``metal.lb.announce gratuitous=true``
sends).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading

from .cli_controller import setup_logging
from .daemons import status_file as status_files

NAME = "speaker"
HELP = ("run the speaker of one node (layer 2: ARP/NDP answers for the IPs this node leads; BGP: sessions "
        "and prefixes through the node's own FRR)")
DEFAULT_METRICS_PORT = 7473
STARTUP_TIMEOUT_EXTRA = 3.0  # seconds a starting speaker waits at most for unknown peers


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(NAME, help=HELP, description=HELP)
    parser.add_argument("--node", default=os.environ.get("METAL_LB_NODE_NAME"),
                        help="this node's name as in its Node object (default: METAL_LB_NODE_NAME)")
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: K8S_AUTH_KUBECONFIG, ~/.kube/config, "
                                             "in-cluster)")
    parser.add_argument("--context", help="kubeconfig context")
    parser.add_argument("--namespace", default="metallb-system",
                        help="namespace of the metallb.io configuration (default: %(default)s)")
    parser.add_argument("--lb-class", default="", help="only handle Services with this loadBalancerClass")
    parser.add_argument("--membership-bind", default="",
                        help="ADDR[:PORT] of the membership UDP socket (default 0.0.0.0:7946 when a key file "
                             "is given)")
    parser.add_argument("--membership-key-file", default="",
                        help="shared HMAC key file (one key per line, first signs); without it membership is "
                             "off and every Node counts as live (MetalLB with memberlist disabled)")
    parser.add_argument("--membership-heartbeat", type=float, default=None, metavar="SECONDS",
                        help="heartbeat interval (default 0.1)")
    parser.add_argument("--membership-failure-timeout", type=float, default=None, metavar="SECONDS",
                        help="silence after which a peer is accused (default 0.35)")
    parser.add_argument("--membership-stable-period", type=float, default=None, metavar="SECONDS",
                        help="how long a (re)joining speaker must stay alive before it may announce "
                             "(default 2.0)")
    parser.add_argument("--membership-known-file", default="",
                        help="remember the members learned from the API in this file, so a speaker restarted "
                             "during an API outage still finds its peers (default: off)")
    parser.add_argument("--metrics-port", type=int, default=DEFAULT_METRICS_PORT,
                        help="Prometheus port, 0 disables (default: %(default)s)")
    parser.add_argument("--metrics-address", default="0.0.0.0")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--no-layer2-responder", dest="responder", action="store_false",
                        help="decide, write statuses and metrics, but open no raw socket (nothing answers)")
    parser.add_argument("--gratuitous-refresh", type=float, default=None, metavar="SECONDS",
                        help="after the take-over burst, re-send one gratuitous round every SECONDS "
                             "(for switches that age out entries; default off)")
    parser.add_argument("--status-file", default=status_files.DEFAULT_PATH,
                        help="JSON file describing what this node announces, for metal.lb.announce; '' "
                             "disables (default: %(default)s)")
    parser.add_argument("--ignore-exclude-lb", action="store_true",
                        help="ignore node.kubernetes.io/exclude-from-external-load-balancers (MetalLB's flag)")
    parser.add_argument("--status-qps", type=float, default=20.0,
                        help="at most this many ServiceL2Status (and ServiceBGPStatus) writes per second "
                             "(default: %(default)s)")
    bgp = parser.add_argument_group("BGP (spoken by the node's own FRR instance)")
    bgp.add_argument("--no-bgp", dest="bgp", action="store_false",
                     help="layer 2 only: never start FRR, ignore BGPPeers and BGPAdvertisements")
    bgp.add_argument("--frr-pathspace", default="metal-lb",
                     help="FRR pathspace (-N) of the speaker's FRR: sockets in /var/run/frr/NAME, config in "
                          "/etc/frr/NAME, so another FRR of the host is left alone (default: %(default)s)")
    bgp.add_argument("--frr-dir", default="/usr/lib/frr",
                     help="where zebra, bgpd and bfdd are (default: %(default)s)")
    bgp.add_argument("--frr-bgp-port", type=int, default=179,
                     help="TCP port bgpd listens on; 0: it only connects out (default: %(default)s)")
    bgp.add_argument("--bgp-shutdown-wait", type=float, default=5.0, metavar="SECONDS",
                     help="on a planned stop, routes carry GRACEFUL_SHUTDOWN (65535:0) this long before they "
                          "are withdrawn, so routers move traffic first (default: %(default)s)")
    bgp.add_argument("--bgp-poll-interval", type=float, default=2.0, metavar="SECONDS",
                     help="how often FRR's sessions are read for the status file and metrics, and its daemons "
                          "checked (default: %(default)s)")
    return parser


def bgp_factory(args):
    """The BGP protocol as the speaker loop builds it (None with --no-bgp)."""
    if not args.bgp:
        return None
    from functools import partial

    from ..adapters.frr.instance import FrrInstance
    from .daemons.bgp_protocol import BGP

    if args.frr_bgp_port < 0 or args.frr_bgp_port > 65535:
        raise ValueError("--frr-bgp-port %d: not a port" % args.frr_bgp_port)
    if args.bgp_shutdown_wait < 0 or args.bgp_poll_interval <= 0:
        raise ValueError("--bgp-shutdown-wait must be >= 0 and --bgp-poll-interval > 0")
    frr = FrrInstance(args.frr_pathspace, frr_dir=args.frr_dir, bgp_port=args.frr_bgp_port)
    return partial(BGP, frr=frr, shutdown_wait=args.bgp_shutdown_wait, poll_interval=args.bgp_poll_interval,
                   status_qps=args.status_qps)


def _fail(text: str) -> int:
    sys.stderr.write("metal-lb speaker: %s\n" % text)
    return 2


def membership_config(args):
    """The detector timing from the command line (library defaults for what is not given)."""
    from ..adapters.membership.detector import DetectorConfig

    timing = {k: v for k, v in (("heartbeat_interval", args.membership_heartbeat),
                                ("failure_timeout", args.membership_failure_timeout),
                                ("stable_period", args.membership_stable_period)) if v is not None}
    return DetectorConfig(**timing)


def _check_bind(bind: tuple[str, int]) -> None:
    """Fail at startup, with the option named, when the membership address cannot be bound: the
    speaker binds it for real only once its caches are synced (``Speaker.run``)."""
    from ..adapters.membership.transport import MembershipConfigError

    family = socket.AF_INET6 if ":" in bind[0] else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.bind(bind)
    except OSError as exc:
        raise MembershipConfigError("--membership-bind %s:%d: %s" % (bind[0], bind[1], exc.strerror)) from None


def _membership(args, node: str):
    """A MembershipThread, not started yet (the speaker joins once its caches are synced), or None
    when membership is off. Raises MembershipConfigError."""
    from ..adapters.membership.service import MembershipThread
    from ..adapters.membership.transport import load_keys, parse_bind

    if not args.membership_key_file:
        if args.membership_bind:
            raise ValueError("--membership-bind needs --membership-key-file (membership is authenticated)")
        return None, None
    keys = load_keys(args.membership_key_file)
    bind = parse_bind(args.membership_bind or "0.0.0.0")
    config = membership_config(args)
    _check_bind(bind)
    thread = MembershipThread(node, bind, keys, cluster="metal-lb/%s" % args.namespace, config=config,
                              known_file=args.membership_known_file or None)
    return thread, bind


def _widen_connection_pool(api_client, size: int = 32) -> None:
    """One long-lived watch per informer (ten of them) plus the writers exceed the client's default
    pool of 10 connections ("Connection pool is full" warnings and reconnects): widen it. Done
    before the first request, so no connection is lost."""
    try:
        from kubernetes.client import rest

        api_client.configuration.connection_pool_maxsize = max(
            size, api_client.configuration.connection_pool_maxsize or 0)
        api_client.rest_client = rest.RESTClientObject(api_client.configuration)
    except (ImportError, AttributeError, TypeError) as exc:  # another client version: keep its pool
        logging.getLogger("metal_lb.speaker").debug("connection pool not widened: %s", exc)


def membership_timing(config) -> tuple[float, float]:
    """(grace, timeout) of a starting speaker, from when it joins membership. Its peers count it
    live ``stable_period`` after they first hear it, which is when it joins: it announces from
    then (half a heartbeat later, so the peer that withdraws goes first rather than both
    answering for a moment), once its own view is settled; nodes that never answer stop holding
    it back after ``timeout``."""
    grace = config.stable_period + config.heartbeat_interval / 2
    timeout = config.stable_period + config.failure_timeout + config.heartbeat_interval + STARTUP_TIMEOUT_EXTRA
    return grace, timeout


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    log = logging.getLogger("metal_lb.speaker")
    if not args.node:
        return _fail("--node is required (or set METAL_LB_NODE_NAME)")
    from .daemons.metrics import HAS_PROMETHEUS, serve
    from ..adapters.kube.client import HAS_KUBERNETES, KubeConfigError, build_api_client

    if not HAS_KUBERNETES or not HAS_PROMETHEUS:
        return _fail("needs the kubernetes and prometheus-client Python libraries")
    from .daemons.speaker import Speaker
    from .daemons.speaker_metrics import SpeakerMetrics
    from ..adapters.layer2.announcer import Announcer
    from ..adapters.membership.transport import MembershipConfigError

    try:
        api_client = build_api_client(kubeconfig=args.kubeconfig, context=args.context)
    except KubeConfigError as exc:
        return _fail(str(exc))
    _widen_connection_pool(api_client)
    try:
        membership, bind = _membership(args, args.node)
    except (MembershipConfigError, ValueError, TimeoutError) as exc:
        return _fail(str(exc))
    if membership is None:
        log.warning("membership is off (no --membership-key-file): every Node counts as a live speaker and a "
                    "dead node is not detected")
    metrics = SpeakerMetrics(args.node, membership.stats if membership is not None else None)
    try:
        announcer = Announcer(metrics=metrics, refresh_interval=args.gratuitous_refresh)
    except ValueError as exc:
        return _fail("--gratuitous-refresh: %s" % exc)
    responder = None
    if args.responder:
        from ..adapters.layer2.responder import Responder

        responder = Responder(announcer)
    status_file = status_files.path_for(args.status_file, args.node)
    try:
        bgp = bgp_factory(args)
    except ValueError as exc:
        return _fail(str(exc))
    grace, timeout = membership_timing(membership_config(args)) if membership is not None else (0.0, 0.0)
    speaker = Speaker(api_client, node=args.node, namespace=args.namespace, lb_class=args.lb_class,
                      membership=membership, membership_port=bind[1] if bind else 7946,
                      membership_v6=bool(bind and ":" in bind[0]), announcer=announcer, metrics=metrics,
                      responder=responder, status_file=status_file, ignore_exclude_lb=args.ignore_exclude_lb,
                      status_qps=args.status_qps,
                      startup_grace=grace, startup_timeout=timeout,
                      protocol_factories=[bgp] if bgp is not None else [])
    if responder is not None:
        try:
            responder.start()
        except (PermissionError, OSError, RuntimeError) as exc:
            if membership is not None:
                membership.stop(graceful=True)
            return _fail(str(exc))
    try:
        serve(metrics.registry, args.metrics_port, args.metrics_address)
    except OSError as exc:
        speaker.stop(drain_timeout=0)
        return _fail("metrics port %d: %s" % (args.metrics_port, exc))
    stop = threading.Event()
    burst = threading.Event()  # set by SIGUSR1, served by this loop (no logging inside a handler)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: burst.set())
    worker = threading.Thread(target=speaker.run, name="speaker", daemon=True)
    worker.start()
    log.info("speaker %s started (namespace %s, lb-class %r, membership %s, responder %s, bgp %s)", args.node,
             args.namespace, args.lb_class, "%s:%d" % bind if bind else "off",
             "on" if responder is not None else "off",
             "FRR pathspace %s" % args.frr_pathspace if bgp is not None else "off")
    while not stop.wait(0.2):
        if burst.is_set():
            burst.clear()
            speaker.burst()
        if not worker.is_alive() and speaker.join_error is not None:
            speaker.stop(drain_timeout=0)
            return _fail(str(speaker.join_error))
        if not worker.is_alive() or (responder is not None and not responder.alive()):
            log.error("%s ended unexpectedly; stopping (the service manager restarts the speaker)",
                      "speaker loop" if not worker.is_alive() else "layer2 responder")
            speaker.stop(drain_timeout=0)
            return 1
    log.info("stopping: leaving membership, handing over")
    speaker.stop()
    worker.join(timeout=5 + (args.bgp_shutdown_wait if bgp is not None else 0))
    return 0
