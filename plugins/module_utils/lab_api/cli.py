# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""Command line of the lab API server.

    python -m ansible_collections.metal.lb.plugins.module_utils.lab_api \\
        [--port 0] [--crds manifests/crds] [--kubeconfig-out PATH] [--service-cidr LIST] [--state FILE]

Prints the port it listens on (one line, then flushes) and, with ``--kubeconfig-out``, writes a
kubeconfig for ``http://127.0.0.1:PORT`` without authentication. SIGTERM/SIGINT stop it cleanly
(watch streams end; with ``--state`` the objects are saved, and loaded again at the next start, so a
restart on the same port keeps every object and resourceVersion).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading

from .http import LabServer
from .operations import HAS_YAML, LabApi
from .resources import Registry
from .services import ServiceAllocator
from .store import Store


DEFAULT_SERVICE_CIDR = "203.0.113.0/24,2001:db8:ffff::/112"


def default_crd_dir() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "..", "manifests", "crds"))


def kubeconfig_text(port: int) -> str:
    return (
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: metal-lb-lab\n"
        "  cluster:\n"
        f"    server: http://127.0.0.1:{port}\n"
        "users:\n"
        "- name: metal-lb-lab\n"
        "  user: {}\n"
        "contexts:\n"
        "- name: metal-lb-lab\n"
        "  context:\n"
        "    cluster: metal-lb-lab\n"
        "    user: metal-lb-lab\n"
        "current-context: metal-lb-lab\n"
    )


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="metal-lb lab-api",
        description="A small Kubernetes API server for "
        "the metal.lb lab and integration tests (no authentication; 127.0.0.1 only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="only 127.0.0.1 is accepted")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (default)")
    parser.add_argument(
        "--crds",
        default=default_crd_dir(),
        help="directory of CRD manifests created at start-up (default: manifests/crds)",
    )
    parser.add_argument("--kubeconfig-out", help="write a kubeconfig for this server here")
    parser.add_argument(
        "--service-cidr",
        default=DEFAULT_SERVICE_CIDR,
        help="comma-separated cluster IP ranges, at most one per family (default: %(default)s)",
    )
    parser.add_argument("--state", help="load objects from this file at start, save them there on shutdown")
    parser.add_argument(
        "--history",
        type=int,
        default=10000,
        help="watch events kept for resuming watches (default: %(default)s)",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=30.0,
        help="seconds between BOOKMARK events on idle watches (default: %(default)s)",
    )
    parser.add_argument("--log-requests", action="store_true", help="log every request to stderr")
    return parser.parse_args(argv)


def build(args: argparse.Namespace) -> tuple[LabApi, list[str]]:
    """The API with its objects: from ``--state`` if present, the bootstrap objects, the CRDs."""
    snapshot: dict | None = None
    if args.state and os.path.exists(args.state):
        with open(args.state, encoding="utf-8") as handle:
            snapshot = json.load(handle)
    store = Store(
        history_size=args.history, initial_rv=int(snapshot["resourceVersion"]) if snapshot else None
    )
    allocator = ServiceAllocator([c for c in args.service_cidr.split(",") if c.strip()])
    api = LabApi(store, Registry(), allocator)
    if snapshot:
        api.restore(snapshot)
    api.bootstrap()
    problems = api.load_crd_dir(args.crds) if args.crds else []
    return api, problems


def save_state(api: LabApi, path: str) -> None:
    _write_atomic(path, json.dumps(api.store.snapshot(), separators=(",", ":")))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not HAS_YAML:
        sys.stderr.write("lab-api: PyYAML is required (pip install pyyaml)\n")
        return 2
    try:
        api, problems = build(args)
        server = LabServer(api, args.host, args.port, args.bookmark_interval, args.log_requests)
    except (ValueError, OSError) as exc:
        sys.stderr.write(f"lab-api: {exc}\n")
        return 2
    for problem in problems:
        sys.stderr.write(f"lab-api: not loaded: {problem}\n")
    if args.kubeconfig_out:
        _write_atomic(args.kubeconfig_out, kubeconfig_text(server.port))
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server.start()
    sys.stdout.write(f"{server.port}\n")
    sys.stdout.flush()
    sys.stderr.write(f"lab-api: listening on http://127.0.0.1:{server.port}\n")
    sys.stderr.flush()
    while not stop.wait(3600):
        pass
    server.shutdown()
    if args.state:
        save_state(api, args.state)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
