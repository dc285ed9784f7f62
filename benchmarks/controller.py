#!/usr/bin/env python3
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller figures against a real kube-apiserver (prints them; asserts nothing).

1. single create → status IP latency: 200 Services created one at a time, each waited for
   (watch on Services), p50/p95/max;
2. burst: 1,000 Services created at once (4 client threads) → all assigned, services/s;
3. controller RSS with 10,000 Services assigned (VmRSS/VmHWM of the controller process).

The API server and etcd are the ones `make k8s` builds (lab/kube.py starts them on 127.0.0.1); the
controller authenticates as its ServiceAccount, bound by the shipped RBAC.

Run: make benchmarks, or PYTHONPATH=<dir holding ansible_collections> python benchmarks/controller.py
Targets: p95 ≤ 100 ms, burst ≥ 200 services/s, RSS ≤ 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml
from kubernetes import client, config, watch

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, REPO)
from lab import kube  # noqa: E402

NS = "bench"


def start(args: list[str], log: str) -> subprocess.Popen:
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)  # noqa: SIM115


def rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def service(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"type": "LoadBalancer", "selector": {"app": name}, "ipFamilies": ["IPv6"],
                     "allocateLoadBalancerNodePorts": False,
                     "ports": [{"port": 80, "protocol": "TCP"}]}}


class Assigned:
    """Watches Services in NS and records when each first shows an ingress IP."""

    def __init__(self, core) -> None:
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self._core = core
        self._stop = False
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        rv = json.loads(self._core.list_namespaced_service(NS, _preload_content=False).data)["metadata"][
            "resourceVersion"]
        while not self._stop:
            try:
                for event in watch.Watch().stream(self._core.list_namespaced_service, NS, resource_version=rv,
                                                  timeout_seconds=60, deserialize=False):
                    rv = self._record(event["object"])
            except Exception:  # noqa: BLE001 - the API goes away at the end of the run
                if self._stop:
                    return
                raise

    def _record(self, obj: dict) -> str:
        ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress")
        if ingress:
            with self.cond:
                self.seen.setdefault(obj["metadata"]["name"], time.monotonic())
                self.cond.notify_all()
        return obj["metadata"]["resourceVersion"]

    def stop(self) -> None:
        self._stop = True

    def wait(self, names, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not all(n in self.seen for n in names):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--total", type=int, default=10000)
    opts = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mlb-bench-")
    env_py = sys.executable
    cluster = kube.KubeCluster(work)
    ctl_proc = assigned = None
    try:
        cluster.start()
        print("kube-apiserver and etcd ready, manifests applied: %.1f s" % cluster.start_seconds)
        cfg = client.Configuration()
        config.load_kube_config(cluster.admin_kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 16
        api = client.ApiClient(cfg)
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": NS}})
        # IPv6 services: the documentation IPv4 blocks hold only 512 addresses, the v6 block is ample.
        client.CustomObjectsApi(api).create_namespaced_custom_object(
            "metallb.io", "v1beta1", NS, "ipaddresspools",
            {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "bench"},
             "spec": {"addresses": ["2001:db8:200::/64"]}})
        rbac = client.RbacAuthorizationV1Api(api)
        for kind in ("role", "rolebinding"):
            with open(os.path.join(REPO, "manifests", "rbac", "controller-%s.yaml" % kind)) as handle:
                body = yaml.safe_load(handle)
            body["metadata"]["namespace"] = NS
            (rbac.create_namespaced_role if kind == "role" else rbac.create_namespaced_role_binding)(NS, body)
        kubeconfig = cluster.token_kubeconfig("controller")
        ctl_proc = start([env_py, os.path.join(REPO, "bin", "metal-lb"), "controller", "--kubeconfig", kubeconfig,
                          "--namespace", NS, "--metrics-port", "0", "--log-level", "warning"],
                         os.path.join(work, "controller.log"))
        assigned = Assigned(core)
        time.sleep(2)

        latencies = []
        for i in range(opts.single):
            name = "single-%d" % i
            t0 = time.monotonic()
            core.create_namespaced_service(NS, service(name), _preload_content=False)
            if not assigned.wait([name], 10):
                print("single: %s not assigned within 10 s" % name)
                return 1
            latencies.append(assigned.seen[name] - t0)
        latencies.sort()
        p95 = latencies[int(0.95 * len(latencies)) - 1]
        print("single create->IP latency over %d services: p50 %.1f ms  p95 %.1f ms  max %.1f ms  "
              "(target p95 <= 100 ms: %s)" % (
                  len(latencies), 1000 * statistics.median(latencies), 1000 * p95, 1000 * latencies[-1],
                  "MET" if p95 <= 0.1 else "MISSED"))

        names = ["burst-%d" % i for i in range(opts.burst)]
        t0 = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: core.create_namespaced_service(NS, service(n), _preload_content=False), names))
        created = time.monotonic() - t0
        if not assigned.wait(names, 120):
            print("burst: not all assigned within 120 s (%d/%d)" % (sum(n in assigned.seen for n in names),
                                                                 len(names)))
            return 1
        took = max(assigned.seen[n] for n in names) - t0
        rate = len(names) / took
        print("burst of %d services: created in %.2f s, all assigned after %.2f s -> %.0f services/s "
              "(target >= 200/s: %s)" % (len(names), created, took, rate, "MET" if rate >= 200 else "MISSED"))

        rest = ["bulk-%d" % i for i in range(opts.total - opts.single - opts.burst)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: core.create_namespaced_service(NS, service(n), _preload_content=False), rest))
        if not assigned.wait(rest, 300):
            print("bulk: not all assigned within 300 s (%d/%d)" % (sum(n in assigned.seen for n in rest), len(rest)))
            return 1
        time.sleep(2)
        rss, hwm = rss_mb(ctl_proc.pid)
        print("controller with %d services assigned: RSS %.1f MB (peak %.1f MB) (target <= 150 MB: %s)" % (
            opts.total, rss, hwm, "MET" if hwm <= 150 else "MISSED"))
        return 0
    finally:
        if assigned is not None:
            assigned.stop()
        if ctl_proc is not None and ctl_proc.poll() is None:
            ctl_proc.send_signal(signal.SIGTERM)
            try:
                ctl_proc.wait(10)
            except subprocess.TimeoutExpired:
                ctl_proc.kill()
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
