# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The controller's webhook options (MetalLB's flags) and their start-up."""

from __future__ import annotations

import argparse
import logging
import threading

ENABLED, DISABLED, ONLY = "enabled", "disabled", "onlywebhook"
SERVICE = "metallb-webhook-service"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("webhooks", "MetalLB's validating and BGPPeer conversion webhooks")
    group.add_argument("--webhook-mode", choices=[ENABLED, DISABLED, ONLY], default=ENABLED,
                       help="enabled: assign IPs and serve the webhooks; onlywebhook: serve them and assign "
                            "nothing; disabled: no webhooks (default: %(default)s)")
    group.add_argument("--webhook-port", type=int, default=9443, help="HTTPS port, 0 disables (default: 9443)")
    group.add_argument("--webhook-bind", default="0.0.0.0",
                       help="address to listen on: the API server reaches the controller's host address "
                            "through the metallb-webhook-service endpoints (default: %(default)s)")
    group.add_argument("--webhook-host", action="append", default=[], metavar="NAME_OR_IP",
                       help="extra name or address in the serving certificate (repeatable); the Service "
                            "names and 127.0.0.1 are always in it")
    group.add_argument("--webhook-secret", default="metallb-webhook-cert",
                       help="Secret (in --namespace) that keeps the CA and serving certificate")
    group.add_argument("--webhook-configuration", default="metallb-webhook-configuration",
                       help="ValidatingWebhookConfiguration to write the CA into")
    group.add_argument("--webhook-crd", default="bgppeers.metallb.io",
                       help="CustomResourceDefinition whose conversion webhook gets the CA")
    group.add_argument("--webhook-any-namespace", action="store_true",
                       help="judge metallb.io objects of any namespace with the objects of their own namespace "
                            "instead of refusing those outside --namespace (test clusters only)")


def wanted(args: argparse.Namespace) -> bool:
    return args.webhook_mode != DISABLED and args.webhook_port != 0


class WebhookStartError(Exception):
    """The webhooks could not start (one line for the operator)."""


def start(api_client, args: argparse.Namespace):
    """Start serving (certificate, listen, CA into the registrations); returns the server to ``stop``.
    Raises WebhookStartError."""
    try:
        return _start(api_client, args)
    except Exception as exc:  # noqa: BLE001 - API, network, port and certificate errors alike: one line
        raise WebhookStartError("webhooks on %s:%d: %s" % (args.webhook_bind, args.webhook_port,
                                                           str(exc).splitlines()[0] if str(exc) else
                                                           type(exc).__name__)) from exc


class Background:
    """Beside IP assignment (``--webhook-mode enabled``) a webhook that cannot start yet (API down, port
    taken, RBAC not updated) is retried every ``interval`` seconds; assigning IPs never waits for it."""

    def __init__(self, api_client, args: argparse.Namespace, log: logging.Logger, interval: float = 30.0) -> None:
        self.server = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(api_client, args, log, interval),
                                        name="webhook-start", daemon=True)
        self._thread.start()

    def _run(self, api_client, args, log: logging.Logger, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self.server = start(api_client, args)
                return
            except WebhookStartError as exc:
                log.error("%s (retrying in %.0f s; IP assignment goes on)", exc, interval)
            self._stop.wait(interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        if self.server is not None:
            self.server.stop()


def _start(api_client, args: argparse.Namespace):
    from .cert_rotator import CertRotator
    from .certificates import service_hosts
    from .server import WebhookServer

    rotator = CertRotator(api_client, namespace=args.namespace, secret=args.webhook_secret,
                          hosts=service_hosts(SERVICE, args.namespace, args.webhook_host),
                          webhook_configuration=args.webhook_configuration, crd=args.webhook_crd)
    server = WebhookServer(api_client, rotator, bind=args.webhook_bind, port=args.webhook_port,
                           namespace=args.namespace, any_namespace=args.webhook_any_namespace,
                           bgp_type=args.bgp_type)
    server.start()
    return server
