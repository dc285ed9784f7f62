# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb``: plan | validate | convert | controller | speaker | status.

Exit codes: 0 ok, 1 the configuration is invalid, 2 usage or I/O errors. Errors are one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from .console import err, out
from ..engine.message_text import printable
from . import cli_controller, cli_speaker, cli_status
from ..engine.manifests import ManifestError, decode_text, load_objects


class CliError(Exception):
    """A usage or I/O problem: printed as one line, exit 2."""


def read_files(paths: list[str]) -> list[dict]:
    objects: list[dict] = []
    for path in paths:
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            objects.extend(load_objects(decode_text(stdin.read(), "<stdin>") if stdin is not None
                                        else sys.stdin.read(), "<stdin>"))
            continue
        if os.path.isdir(path):
            names = sorted(n for n in os.listdir(path) if n.endswith((".yaml", ".yml", ".json")))
            objects.extend(read_files([os.path.join(path, n) for n in names]))
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise CliError("%s: %s" % (path, exc.strerror or exc)) from exc
        objects.extend(load_objects(decode_text(data, path), path))
    return objects


def _plan_table(result: dict) -> str:
    rows = [("SERVICE", "STATE", "IPS", "POOL", "CHANGED", "REASON")]
    for key, svc in result["services"].items():
        reason = ""
        if svc["state"] == "pending":
            failures = [e["message"] for e in svc["events"] if e["type"] == "Warning"]
            reason = failures[-1] if failures else ""
        rows.append((key, svc["state"], ",".join(svc["ips"]) or "-", svc["pool"] or "-",
                     "yes" if svc["changed"] else "no", reason))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(5)) + ("  " + r[5] if r[5] else "") for r in rows]
    lines.append("")
    lines.append("POOL  IPV4 (in use/capacity)  IPV6 (in use/capacity)")
    for name, pool in result["pools"].items():
        lines.append("%s  %d/%d  %d/%d" % (name, pool["in_use"]["ipv4"], pool["capacity"]["ipv4"],
                                           pool["in_use"]["ipv6"], pool["capacity"]["ipv6"]))
    for error in result["errors"]:
        lines.append("error: %s" % error)
    for warning in result["warnings"]:
        lines.append("warning: %s" % warning)
    return "\n".join(lines)


def _add_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filename", dest="files", action="append", required=True,
                        help="YAML/JSON file, directory, or - for stdin (repeatable)")
    parser.add_argument("--namespace", default="metallb-system", help="namespace of the metallb.io objects")
    parser.add_argument("--service-cidr", dest="service_cidrs", action="append", default=[], type=_cidr,
                        help="service CIDR a pool must not overlap (repeatable)")
    parser.add_argument("--gateway", dest="gateways", action="append", default=[], type=_gateway,
                        help="gateway IP a pool must not contain (repeatable)")
    parser.add_argument("--allow-node-ip-pools", action="store_true",
                        help="accept a node IP listed by itself as a /32 or /128 pool entry")


def _cidr(text: str) -> str:
    """``--service-cidr``: a usage error (exit 2) when it is not a CIDR, as the engine reads it."""
    from ..engine.addresses import parse_entry

    try:
        parse_entry(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(printable(exc)) from None
    return text


def _gateway(text: str) -> str:
    """``--gateway``: a usage error when it is not an IP address (never silently dropped)."""
    from ..engine.addresses import parse_ip

    if parse_ip(text) is None:
        raise argparse.ArgumentTypeError('invalid gateway "%s": not an IP address' % printable(text))
    return text


def _members(text: str) -> list[str]:
    """``--members a,b``: node names, blanks dropped (``--members ''`` means no live speaker)."""
    return [name.strip() for name in text.split(",") if name.strip()]


def cmd_plan(args: argparse.Namespace) -> int:
    from ..engine.planner import plan

    result = plan(read_files(args.files), lb_class=args.lb_class, namespace=args.namespace,
                  service_cidrs=args.service_cidrs, gateways=args.gateways,
                  allow_node_ip_pools=args.allow_node_ip_pools, members=args.members, bgp_type=args.bgp_type)
    if args.output == "table":
        out(_plan_table(result))
    else:
        out(json.dumps(result, indent=2, sort_keys=True))
    return 1 if result["errors"] else 0


def cmd_validate(args: argparse.Namespace) -> int:
    from ..engine.config.parse import parse_config

    result = parse_config(read_files(args.files), namespace=args.namespace, service_cidrs=args.service_cidrs,
                          gateways=args.gateways, allow_node_ip_pools=args.allow_node_ip_pools)
    for warning in result.warnings:
        err("warning: %s" % warning)
    if result.errors:
        for error in result.errors:
            out(str(error))
        return 1
    if not result.config_objects:
        return 0  # the warning above says there was nothing to validate
    config = result.config
    counts = (len(config.pools), len(config.l2_advertisements), len(config.bgp_advertisements), len(config.peers))
    out("configuration valid: %d pools, %d L2 advertisements, %d BGP advertisements, %d BGP peers" % counts)
    return 0


def _cm_name(obj: dict) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    name = name if isinstance(name, str) else ""
    return "%s/%s" % (namespace, name) if isinstance(namespace, str) and namespace else name


def legacy_source(objects: list[dict], namespace: str) -> tuple[dict, str]:
    """The ConfigMap to convert and a note saying which, from anything ``kubectl get cm`` prints.

    MetalLB reads the ConfigMap named ``config``; a namespace dump also holds others
    (``kube-root-ca.crt``). Without one named so, a single ConfigMap with a ``config`` key is
    taken (charts named theirs differently). A file of the bare configuration text is read as such.
    """
    maps = [o for o in objects if o.get("kind") == "ConfigMap"]
    if not maps:
        if len(objects) == 1 and "kind" not in objects[0]:
            return objects[0], ""
        raise CliError('no ConfigMap in the input (%d objects read): MetalLB\'s legacy configuration is the '
                       'ConfigMap "config" (kubectl get configmap config -n NAMESPACE -o yaml)' % len(objects))

    def name_of(obj: dict) -> str:
        return _cm_name(obj).rpartition("/")[2]

    def has_config(obj: dict) -> bool:
        return isinstance(obj.get("data"), dict) and "config" in obj["data"]

    chosen = [o for o in maps if name_of(o) == "config"]
    how = 'converting ConfigMap "%s"'
    if not chosen:
        chosen = [o for o in maps if has_config(o)]
        how = 'no ConfigMap named "config": converting ConfigMap "%s", the one with a data.config key'
    if len(chosen) > 1:
        here = [o for o in chosen if (o.get("metadata") or {}).get("namespace") in (namespace, None)]
        if len(here) != 1:
            raise CliError("several candidate ConfigMaps (%s): pass only one, or --namespace"
                           % ", ".join(_cm_name(o) for o in chosen))
        chosen = here
    if not chosen:
        raise CliError('no ConfigMap named "config" in the input (ConfigMaps read: %s)'
                       % ", ".join(_cm_name(o) or "?" for o in maps))
    others = [_cm_name(o) for o in maps if o is not chosen[0]]
    note = how % _cm_name(chosen[0]) + ("; ignored: %s" % ", ".join(others) if others else "")
    return chosen[0], note if others or how != 'converting ConfigMap "%s"' else ""


def cmd_convert(args: argparse.Namespace) -> int:
    from ..engine.config.legacy import LegacyConfigError, convert_configmap

    import yaml

    source, note = legacy_source(read_files(args.files), args.namespace)
    if note:
        err("note: %s" % note)
    try:
        converted = convert_configmap(source, namespace=args.namespace)
    except LegacyConfigError as exc:
        name = _cm_name(source) if source.get("kind") == "ConfigMap" else ""
        err("metal-lb convert: %s%s" % ('ConfigMap "%s": ' % name if name else "", exc))
        return 1
    out(yaml.safe_dump_all(converted, sort_keys=False, default_flow_style=False), end="")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line (argparse prints the usage text first), exit 2."""

    def error(self, message: str):  # type: ignore[override]
        err("%s: %s (see %s --help)" % (self.prog, printable(message), self.prog))
        self.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metal-lb", description="metal.lb: MetalLB-compatible load "
                     "balancer for bare-metal Kubernetes")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="what the controller would assign, from manifests or kubectl output")
    _add_input(p)
    p.add_argument("--lb-class", default="", help="the loadBalancerClass the controller handles")
    p.add_argument("--output", "-o", choices=["json", "table"], default="json")
    p.add_argument("--members", type=_members, default=None, metavar="NODE[,NODE...]",
                   help="the nodes whose speakers are alive, for the layer-2 announcements "
                        "(default: every Node in the input)")
    p.add_argument("--bgp-type", choices=["native", "frr", "frr-k8s"], default="native",
                   help="validate BGP objects as MetalLB's native or FRR mode does (metal.lb speaks BGP as FRR "
                        "mode; default: native, MetalLB's default)")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("validate", help="check the metallb.io configuration only")
    _add_input(p)
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("convert", help="legacy MetalLB ConfigMap → metallb.io CRs (YAML)")
    p.add_argument("-f", "--filename", dest="files", action="append", required=True)
    p.add_argument("--namespace", default="metallb-system")
    p.set_defaults(func=cmd_convert)
    cli_controller.add_parser(sub).set_defaults(func=cli_controller.run)
    cli_speaker.add_parser(sub).set_defaults(func=cli_speaker.run)
    cli_status.add_parser(sub).set_defaults(func=cli_status.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (CliError, ManifestError) as exc:
        err("metal-lb %s: %s" % (args.command, exc))
        return 2
    except KeyboardInterrupt:
        return 130
