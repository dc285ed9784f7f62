# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lab API throughput and watch latency: prints figures, asserts nothing.

Run (from the collection root, with the usual symlink farm):
    PYTHONPATH=/tmp/acol python benchmarks/lab_api.py [--creates N] [--threads T]

Starts the lab API as a separate process on 127.0.0.1 and measures
- creates/s over keep-alive HTTP connections (T client threads; the wire cost of the server),
- creates/s through the ``kubernetes`` client (1 and T threads of one client process; the client's own
  request building costs as much CPU as the server's work),
- create → watch event latency (p50/p95 over sequential creates, event read by a watch stream),
- the server's CPU use while idle with open watches.
Target from the lab API brief: 1,000 creates/s from a client on a 2-core machine.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MODULE = "ansible_collections.metal.lb.plugins.module_utils.lab_api"


def start_server(workdir: str) -> tuple[subprocess.Popen, int, str]:
    kubeconfig = os.path.join(workdir, "kubeconfig")
    proc = subprocess.Popen(
        [sys.executable, "-m", MODULE, "--kubeconfig-out", kubeconfig, "--history", "100000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    port = int(proc.stdout.readline())
    for _attempt in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.05)
    return proc, port, kubeconfig


def request(conn: http.client.HTTPConnection, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    payload = resp.read()
    if resp.status >= 300:
        raise RuntimeError(f"{method} {path}: {resp.status} {payload[:200]!r}")
    return json.loads(payload)


def bench_http_creates(port: int, total: int, threads: int) -> float:
    setup = http.client.HTTPConnection("127.0.0.1", port)
    request(setup, "POST", "/api/v1/namespaces", {"metadata": {"name": "bench-http"}})
    per_thread = total // threads

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for j in range(per_thread):
            request(
                conn,
                "POST",
                "/api/v1/namespaces/bench-http/configmaps",
                {"metadata": {"name": f"cm-{index}-{j}", "labels": {"bench": "yes"}}, "data": {"k": "v"}},
            )

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - start)


def bench_client_creates(kubeconfig: str, total: int, threads: int) -> float:
    from kubernetes import client, config

    configuration = client.Configuration()
    config.load_kube_config(kubeconfig, client_configuration=configuration)
    api = client.ApiClient(configuration)
    core = client.CoreV1Api(api)
    namespace = f"bench-client-{threads}"
    core.create_namespace({"metadata": {"name": namespace}})
    per_thread = total // threads

    def worker(index: int) -> None:
        for i in range(per_thread):
            core.create_namespaced_config_map(
                namespace,
                {"metadata": {"name": f"cm-{index}-{i}"}, "data": {"k": "v"}},
                _preload_content=False,
            )

    workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return per_thread * threads / (time.perf_counter() - start)


def bench_watch_latency(port: int, count: int) -> list[float]:
    setup = http.client.HTTPConnection("127.0.0.1", port)
    request(setup, "POST", "/api/v1/namespaces", {"metadata": {"name": "bench-watch"}})
    rv = request(setup, "GET", "/api/v1/namespaces/bench-watch/configmaps")["metadata"]["resourceVersion"]
    arrived: dict[str, float] = {}
    done = threading.Event()

    def reader() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request(
            "GET",
            f"/api/v1/namespaces/bench-watch/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=120",
        )
        resp = conn.getresponse()
        while len(arrived) < count:
            line = resp.readline()
            if not line:
                break
            event = json.loads(line)
            arrived[event["object"]["metadata"]["name"]] = time.perf_counter()
        done.set()
        conn.close()

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    time.sleep(0.2)
    sent: dict[str, float] = {}
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(count):
        name = f"w-{i}"
        sent[name] = time.perf_counter()
        request(conn, "POST", "/api/v1/namespaces/bench-watch/configmaps", {"metadata": {"name": name}})
    done.wait(60)
    return sorted((arrived[n] - sent[n]) * 1000 for n in sent if n in arrived)


def idle_cpu_percent(pid: int, port: int, seconds: float = 5.0) -> float:
    conns = []
    for _watch in range(5):  # idle watches must not cost CPU either
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=60")
        conn.getresponse()
        conns.append(conn)

    def cpu() -> float:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    time.sleep(0.5)
    before = cpu()
    time.sleep(seconds)
    used = cpu() - before
    for conn in conns:
        conn.close()
    return 100.0 * used / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--creates", type=int, default=4000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--client-creates", type=int, default=1000)
    parser.add_argument("--watch-events", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        proc, port, kubeconfig = start_server(workdir)
        try:
            rate = bench_http_creates(port, args.creates, args.threads)
            print(
                f"creates/s over HTTP ({args.threads} keep-alive connections, {args.creates} objects): "
                f"{rate:.0f}"
            )
            try:
                for threads in (1, args.threads):
                    client_rate = bench_client_creates(kubeconfig, args.client_creates, threads)
                    print(f"creates/s through the kubernetes client ({threads} thread(s)): {client_rate:.0f}")
            except ImportError:
                print("creates/s through the kubernetes client: skipped (kubernetes not installed)")
            latencies = bench_watch_latency(port, args.watch_events)
            if latencies:
                p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
                print(
                    f"create -> watch event latency over {len(latencies)} events: "
                    f"p50 {statistics.median(latencies):.2f} ms, p95 {p95:.2f} ms"
                )
            print(f"idle CPU with 5 open watches: {idle_cpu_percent(proc.pid, port):.2f} %")
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
