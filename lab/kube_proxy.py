# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""kube-proxy in IPVS mode, emulated for one lab node (runs inside the node's namespace).

What matters to a layer-2 load balancer is reproduced, nothing else:
- every LoadBalancer IP is on ``kube-ipvs0`` (a port-less, down bridge; the kernel here has no
  ``dummy``), so the node treats it as local — and, with ``arp_ignore=0``, answers ARP for it
  on eth0: the problem MetalLB's strictARP advice is about;
- ``ipvs.strictARP`` of the ``kube-system/kube-proxy`` ConfigMap (``config.conf``) sets
  ``net.ipv4.conf.all.arp_ignore=1`` / ``arp_announce=2`` (and 0/0 when false, so tests can flip it);
- nftables stands in for IPVS: DNAT from VIP:port to the serving endpoints (all of them, with
  masquerade, for ``externalTrafficPolicy: Cluster``; this node's only for ``Local``), and, like
  kube-proxy's KUBE-IPVS-FILTER, anything else addressed to a VIP is rejected, so a host service
  listening on 0.0.0.0 is not reachable through a VIP.

Services, EndpointSlices and the ConfigMap are watched with the kubernetes client; when the API
is unreachable the last state stays applied (as kube-proxy does).

    python -m lab.kube_proxy --node node1 --kubeconfig F
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping

import yaml
from kubernetes import client, config, watch

LOG = logging.getLogger("lab.kube_proxy")
DEVICE = "kube-ipvs0"
TABLE = "lab_kube_proxy"


# ------------------------------------------------------------------ pure: what should be applied


def strict_arp(configmap: Mapping | None) -> bool:
    """``ipvs.strictARP`` of kube-proxy's ``config.conf`` (false when absent or unreadable)."""
    text = ((configmap or {}).get("data") or {}).get("config.conf") or ""
    try:
        conf = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return False
    return bool(isinstance(conf, dict) and (conf.get("ipvs") or {}).get("strictARP") is True)


def _serving(endpoint: Mapping) -> bool:
    ready = (endpoint.get("conditions") or {}).get("ready")
    return ready is None or ready is True


def service_rules(svc: Mapping, slices: list[Mapping], node: str) -> tuple[set[str], list[str]]:
    """(LB IPs, nft rule lines) for one Service."""
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    if spec.get("type") != "LoadBalancer":
        return set(), []
    ips = {i["ip"] for i in ((status.get("loadBalancer") or {}).get("ingress") or []) if i.get("ip")}
    local_only = spec.get("externalTrafficPolicy") == "Local"
    rules = []
    for ip in sorted(ips):
        family = "IPv6" if ":" in ip else "IPv4"
        proto_kw = "ip6" if family == "IPv6" else "ip"
        for port in spec.get("ports") or []:
            backends = []
            for eps in slices:
                if eps.get("addressType") != family:
                    continue
                target = next(
                    (
                        p.get("port")
                        for p in eps.get("ports") or []
                        if (p.get("name") or "") == (port.get("name") or "")
                    ),
                    None,
                )
                if target is None:
                    continue
                for ep in eps.get("endpoints") or []:
                    if not _serving(ep) or (local_only and ep.get("nodeName") != node):
                        continue
                    backends.extend((addr, target) for addr in ep.get("addresses") or [])
            if not backends:
                continue  # no DNAT: the input filter rejects it, as kube-proxy does
            proto = (port.get("protocol") or "TCP").lower()
            fmt = "[%s] . %d" if family == "IPv6" else "%s . %d"
            elements = ", ".join("%d : %s" % (n, fmt % b) for n, b in enumerate(sorted(backends)))
            rules.append(
                "%s daddr %s %s dport %d dnat %s to numgen random mod %d map { %s }"
                % (proto_kw, ip, proto, port["port"], proto_kw, len(backends), elements)
            )
    return ips, rules


def desired(
    services: Mapping[str, Mapping], slices: Mapping[str, Mapping], node: str
) -> tuple[set[str], str]:
    """(addresses for kube-ipvs0, nftables script replacing our table atomically)."""
    by_service: dict[str, list[Mapping]] = {}
    for eps in slices.values():
        meta = eps.get("metadata") or {}
        name = (meta.get("labels") or {}).get("kubernetes.io/service-name")
        if name:
            by_service.setdefault("%s/%s" % (meta.get("namespace"), name), []).append(eps)
    ips: set[str] = set()
    rules: list[str] = []
    for key in sorted(services):
        svc_ips, svc_rules = service_rules(services[key], by_service.get(key, []), node)
        ips |= svc_ips
        rules += svc_rules
    v4 = sorted(i for i in ips if ":" not in i)
    v6 = sorted(i for i in ips if ":" in i)
    lines = [
        "table inet %s" % TABLE,
        "delete table inet %s" % TABLE,
        "table inet %s {" % TABLE,
        "  set lb4 { type ipv4_addr; %s}" % ("elements = { %s } " % ", ".join(v4) if v4 else ""),
        "  set lb6 { type ipv6_addr; %s}" % ("elements = { %s } " % ", ".join(v6) if v6 else ""),
    ]
    for chain in ("prerouting", "output"):
        lines.append("  chain %s { type nat hook %s priority -100; policy accept;" % (chain, chain))
        lines += ["    " + r for r in rules]
        lines.append("  }")
    lines += [
        "  chain postrouting { type nat hook postrouting priority srcnat; policy accept;",
        '    ct status dnat oifname "eth0" masquerade',
        "  }",
        "  chain input { type filter hook input priority filter; policy accept;",
        "    ip daddr @lb4 reject",
        "    ip6 daddr @lb6 reject",
        "  }",
        "}",
    ]
    return ips, "\n".join(lines) + "\n"


# ------------------------------------------------------------------ I/O


def sh(*argv: str, stdin: str | None = None) -> None:
    out = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=20, check=False)
    if out.returncode != 0:
        LOG.warning("%s: %s", " ".join(argv[:4]), out.stderr.strip())


def device_addresses() -> set[str]:
    out = subprocess.run(
        ["ip", "-o", "addr", "show", "dev", DEVICE], capture_output=True, text=True, timeout=10, check=False
    ).stdout
    found = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > 3 and parts[2] in ("inet", "inet6"):
            found.add(str(ipaddress.ip_interface(parts[3]).ip))
    return found


class Cache:
    """list+watch of one resource kind into a dict; ``changed`` is set on every change."""

    def __init__(self, name: str, list_fn, changed: threading.Event, serialize, **kw) -> None:
        self.name, self.list_fn, self.changed, self.serialize, self.kw = name, list_fn, changed, serialize, kw
        self.items: dict[str, dict] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.run, daemon=True, name=name).start()

    @staticmethod
    def key(obj: Mapping) -> str:
        meta = obj.get("metadata") or {}
        return "%s/%s" % (meta.get("namespace"), meta.get("name"))

    def snapshot(self) -> dict[str, dict]:
        with self.lock:
            return dict(self.items)

    def run(self) -> None:
        while True:
            try:
                listing = self.serialize(self.list_fn(**self.kw, _request_timeout=10))
                with self.lock:
                    self.items = {self.key(o): o for o in listing.get("items") or []}
                self.changed.set()
                rv = listing["metadata"]["resourceVersion"]
                for event in watch.Watch().stream(
                    self.list_fn, resource_version=rv, timeout_seconds=120, _request_timeout=150, **self.kw
                ):
                    obj = self.serialize(event["object"])
                    with self.lock:
                        if event["type"] == "DELETED":
                            self.items.pop(self.key(obj), None)
                        elif event["type"] in ("ADDED", "MODIFIED"):
                            self.items[self.key(obj)] = obj
                    self.changed.set()
            except Exception as exc:  # API down, 410, timeouts: relist after a pause, keep state
                LOG.debug("%s watch: %s", self.name, exc)
                time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab.kube_proxy")
    parser.add_argument("--node", required=True)
    parser.add_argument("--kubeconfig", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="kube-proxy[%s] %%(message)s" % args.node)
    sh("ip", "link", "add", DEVICE, "type", "bridge")  # exists already after a restart: harmless warning
    config.load_kube_config(config_file=args.kubeconfig)
    api = client.ApiClient()
    core, discovery = client.CoreV1Api(api), client.DiscoveryV1Api(api)
    changed = threading.Event()
    serialize = api.sanitize_for_serialization
    services = Cache("services", core.list_service_for_all_namespaces, changed, serialize)
    slices = Cache("endpointslices", discovery.list_endpoint_slice_for_all_namespaces, changed, serialize)
    configmaps = Cache(
        "configmaps",
        core.list_namespaced_config_map,
        changed,
        serialize,
        namespace="kube-system",
        field_selector="metadata.name=kube-proxy",
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), changed.set()))
    applied_rules, applied_strict = None, None
    print("READY", flush=True)
    while not stop.is_set():
        changed.wait(5.0)
        if stop.is_set():
            break
        changed.clear()
        time.sleep(0.02)  # coalesce bursts of events
        strict = strict_arp(configmaps.snapshot().get("kube-system/kube-proxy"))
        if strict != applied_strict:
            value = ("1", "2") if strict else ("0", "0")
            sh(
                "sysctl",
                "-qw",
                "net.ipv4.conf.all.arp_ignore=" + value[0],
                "net.ipv4.conf.all.arp_announce=" + value[1],
            )
            applied_strict = strict
            LOG.info("strictARP %s", "on" if strict else "off")
        ips, rules = desired(services.snapshot(), slices.snapshot(), args.node)
        have = device_addresses()
        batch = [
            "addr add %s dev %s%s"
            % (ip + ("/128" if ":" in ip else "/32"), DEVICE, " nodad" if ":" in ip else "")
            for ip in sorted(ips - have)
        ]
        batch += [
            "addr del %s dev %s" % (ip + ("/128" if ":" in ip else "/32"), DEVICE)
            for ip in sorted(have - ips)
        ]
        if batch:
            sh("ip", "-force", "-batch", "-", stdin="\n".join(batch) + "\n")
        if rules != applied_rules:
            sh("nft", "-f", "-", stdin=rules)
            applied_rules = rules
    sh("nft", "delete", "table", "inet", TABLE)
    sh("ip", "link", "del", DEVICE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
