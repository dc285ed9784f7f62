# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``make lab``: build the lab with its systemd hosts, install metal.lb on them with
``playbooks/site.yml`` exactly as a user runs it (over SSH from the admin namespace; a second run must
change nothing), give a 3-replica Service an external IP, show who announces it and which pods
answer, kill the announcing speaker and print the measured failover time.

The lab is torn down at the end (also on failure or Ctrl-C). ``make lab KEEP=1`` (``--keep``) leaves
it running for exploring; ``make lab-down`` removes it then.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from . import kube, netns, probe, site, topology
from .cluster import LabCluster, missing_requirements, wait_for


def say(text: str = "") -> None:
    print(text, flush=True)


def step(text: str) -> None:
    say("\n== " + text)


def measure_failover(lab: LabCluster, ip: str, leader: str, sig: int = signal.SIGKILL) -> dict:
    """Probe ``ip`` from the client every 10 ms while the leader's speaker gets ``sig``."""
    old_mac = lab.hosts[leader].mac
    run = lab.start_probe(ip, seconds=30)
    time.sleep(0.5)
    event = time.monotonic()
    lab.kill_speaker(leader, sig)
    names = lab.mac_to_node()
    wait_for(lambda: set(lab.announcing_nodes(ip, count=1)) - {leader}, 15, 0.2)
    time.sleep(0.3)
    data = run.stop()
    arp_gap, arp_at = probe.outage(data["arp"], event, lambda mac: True, lambda mac: mac != old_mac)
    tcp_gap, _ = probe.outage(data["tcp"], event, lambda ok: ok)
    new = next((names.get(m, m) for t, m in data["arp"] if t > event and m != old_mac), None)
    return {
        "arp_outage": arp_gap,
        "arp_new_after": (arp_at - event) if arp_at else None,
        "tcp_outage": tcp_gap,
        "new_leader": new,
    }


def install(lab: LabCluster) -> bool:
    """site.yml twice, as a user runs it; the second run must report no change."""
    hosts = lab.lab_hosts
    command = "ip netns exec %s ansible-playbook -i %s playbooks/site.yml" % (hosts.admin.ns, hosts.inventory)
    step("install: %s" % command)
    say("   (ANSIBLE_COLLECTIONS_PATH=%s; inventory: groups metal_lb_controllers [cp1], metal_lb_speakers "
        "[node1..node3], metal_lb_pool_name lab-pool, metal_lb_pool_addresses %s)"
        % (site.collections_path(), topology.POOL_V4))
    first = site.run_playbook(hosts)
    if not first.ok:
        say("   site.yml failed after %.0f s:\n%s" % (first.seconds, first.failure()))
        return False
    say("   first run:  %.0f s, changed %s" % (first.seconds, first.changed))
    second = site.run_playbook(hosts)
    if not second.ok:
        say("   the second site.yml run failed after %.0f s:\n%s" % (second.seconds, second.failure()))
        return False
    say("   second run: %.0f s, changed %s" % (second.seconds, second.changed))
    if any(second.changed.values()):
        say("   the second run changed something: site.yml is not idempotent")
        return False
    lab.has_speakers = True
    for name in hosts.containers:
        out = hosts.ssh(name, "systemctl is-active metal-lb-controller.service metal-lb-speaker.service")
        say("   %-6s %s" % (name, " ".join(
            "%s=%s" % (unit, state) for unit, state in zip(("controller", "speaker"), out.stdout.split())
            if state != "inactive")))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make lab")
    parser.add_argument("--keep", action="store_true", help="leave the lab up (make lab-down removes it)")
    args = parser.parse_args(argv)
    reason = missing_requirements()
    if reason:
        say("make lab: %s" % reason)
        return 2
    started = time.monotonic()
    lab = LabCluster(strict_arp=True, hosts=True, log=lambda m: say("   " + m))
    keep = False
    try:
        step("the daemons' wheelhouse, built on this machine (the lab has no network beyond itself)")
        site.build_wheelhouse(log=lambda m: say("   " + m))
        step("building the lab (bridge, apiserver, cp1 and node1..node3 as systemd hosts, admin, client; "
             "198.51.100.0/24, 2001:db8:0:1::/64)")
        lab.__enter__()
        if not install(lab):
            return 1
        step("Service default/web: type LoadBalancer, 3 replicas (one pod per node)")
        svc = lab.create_service("web", replicas=3)
        for pod in svc.pods:
            say("   pod %-14s on %s  %s:%d" % (pod.name, pod.node, pod.v4, topology.BACKEND_PORT))
        ip = lab.wait_ingress("web", timeout=60)[0]
        say("   EXTERNAL-IP %s   (status.loadBalancer.ingress, written by the controller)" % ip)
        kubectl = "%s --kubeconfig %s" % (kube.binary("kubectl"), lab.host_kubeconfig)
        say("   kubectl against the lab (while it runs; `make lab KEEP=1` keeps it):")
        for command in ("get svc web -o wide", "get ipaddresspools,l2advertisements -n metallb-system",
                        "get servicel2statuses -n metallb-system", "get events -n default"):
            say("     %s %s" % (kubectl, command))
        lab.wait_kube_proxy(ip)
        if not lab.has_speakers:
            step("no speaker yet: with strictARP on, nobody answers ARP for %s" % ip)
            say("   answering nodes: %s" % (sorted(lab.announcing_nodes(ip)) or "none"))
            return 0
        step("who announces %s (arping from the client)" % ip)
        nodes = lab.wait_announcer(ip, timeout=30)
        if len(nodes) != 1:
            say("   expected exactly one node to answer, got %s" % (sorted(nodes) or "none"))
            return 1
        leader = next(iter(nodes))
        say(
            "   %s answers with MAC %s — the only node that does (strictARP on)"
            % (leader, lab.hosts[leader].mac)
        )
        step("curl http://%s/ from the client" % ip)
        seen = set()
        for _ in range(8):
            body = lab.curl(ip)
            say("   %s" % body)
            if body:
                seen.add(body.split()[1])
        say("   %d different pods answered" % len(seen))
        step("failover: SIGKILL the speaker on %s, probing ARP and TCP every 10 ms from the client" % leader)
        result = measure_failover(lab, ip, leader)
        if result["new_leader"] is None:
            say("   no other node took %s over" % ip)
            return 1
        say("   new announcer: %s" % result["new_leader"])
        say("   failover time (no ARP answer for %s): %.0f ms" % (ip, result["arp_outage"] * 1000))
        say("   %s answered %.0f ms after the kill" % (result["new_leader"], result["arp_new_after"] * 1000))
        if result["tcp_outage"] is not None:
            say(
                "   longest TCP connect gap: %.0f ms (the old node's kube-proxy still forwards; only the "
                "speaker died)" % (result["tcp_outage"] * 1000)
            )
        body = lab.curl(ip)
        say("   curl after failover: %s" % body)
        keep = args.keep
        if keep:
            lab.start_speaker(leader)  # leave a complete lab behind
        return 0
    except netns.LabError as exc:
        say("make lab: %s" % exc)
        return 1
    except KeyboardInterrupt:
        say("\nmake lab: interrupted")
        return 130
    except Exception as exc:  # one line, not a traceback; the lab is still torn down below
        say(
            "make lab: %s: %s (METAL_LB_LAB_KEEP_LOGS=1 keeps the logs in %s)"
            % (type(exc).__name__, exc, lab.workdir)
        )
        return 1
    finally:
        if keep:
            lab.api.close()
            say("\nThe lab is left running (namespaces %s-*). Explore, e.g.:" % lab.net.prefix)
            say(
                "   ip netns exec %s curl http://%s/"
                % (lab.hosts["client"].ns, topology.POOL_V4.split("-")[0])
            )
            say("   %s --kubeconfig %s get svc -A" % (kube.binary("kubectl"), lab.host_kubeconfig))
            say("Remove it with: make lab-down")
        else:
            lab.teardown()
            say(
                "\nlab torn down (%s): nothing left running; `make lab KEEP=1` keeps it up"
                % ("%.0f s total" % (time.monotonic() - started))
            )


if __name__ == "__main__":
    sys.exit(main())
