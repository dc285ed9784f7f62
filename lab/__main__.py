# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``python -m lab up [--hosts]`` leaves a lab running; ``python -m lab down`` removes it.

``up`` builds the namespaces and the API server and then either starts the controller and the
speakers as processes or, with ``--hosts`` (``make lab-hosts``), boots the nodes and cp1 as systemd
hosts for Ansible (``hosts.py``) and starts neither; their inventory carries the lab's metal_lb_*
settings and the daemons' wheelhouse is built first (``site.py``), so playbooks/site.yml installs
metal.lb on them as ``make lab`` does. The lab stays up after ``up`` returns; ``down``
(``make lab-down``) removes it: containers, processes, namespaces and build/lab/.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from pathlib import Path

from . import down, kube, netns, site, topology
from .cluster import LabCluster, missing_requirements
from .hosts import ContainerInit

ROOT = Path(__file__).resolve().parents[1]


def up(args: argparse.Namespace) -> int:
    reason = missing_requirements(args.hosts)
    if reason:
        print("lab up: %s" % reason)
        return 2
    started = time.monotonic()
    if args.hosts:  # the hosts reach nothing outside the lab: the daemons' wheels come from here
        try:
            site.build_wheelhouse(log=lambda m: print("   " + m, flush=True))
        except RuntimeError as exc:
            print("lab up: %s" % exc)
            return 1
    try:
        router = router_factory(args.router)
    except (ImportError, RuntimeError) as exc:
        print("lab up: --router %s: %s" % (args.router, exc))
        return 2
    lab = LabCluster(
        node_count=args.nodes,
        hosts=args.hosts,
        hosts_dir=args.hosts_dir,
        router=router,
        log=lambda m: print("   " + m, flush=True),
    )
    # a lab in a directory of its own (molecule's) is ended by its own down, not by anyone's make lab-down
    lab.net.detached = bool(args.hosts_dir)
    try:
        lab.__enter__()
        if lab.router is not None:
            record_router(lab)
    except (netns.LabError, kube.KubeError, RuntimeError) as exc:
        lab.teardown()
        print("lab up: %s" % exc)
        return 1
    except KeyboardInterrupt:
        lab.teardown()
        print("lab up: interrupted")
        return 130
    lab.api.close()
    print("\nThe lab is up (%.0f s), namespaces %s-*:" % (time.monotonic() - started, lab.net.prefix))
    print("   kubectl:  %s --kubeconfig %s get nodes" % (kube.binary("kubectl"), lab.host_kubeconfig))
    if lab.lab_hosts is not None:
        admin = lab.lab_hosts.admin.ns
        print("   Ansible:  ip netns exec %s ansible -i %s all -m ping" % (admin, lab.lab_hosts.inventory))
        print("   install:  ANSIBLE_COLLECTIONS_PATH=%s ip netns exec %s ansible-playbook -i %s playbooks/site.yml"
              % (site.collections_path(), admin, lab.lab_hosts.inventory))
        node1 = topology.nodes(1)[0].v4
        print("   a host:   ip netns exec %s ssh -i %s ansible@%s" % (admin, lab.lab_hosts.key, node1))
        print("   the API from there: KUBECONFIG=%s (https://%s:%d)" % (lab.lab_hosts.kubeconfig, topology.API_V4,
                                                                    topology.API_PORT))
    print("Remove it with: python -m lab down (make lab-down)")
    return 0


# --router frr: an FRR router on the bridge (198.51.100.254, AS 64500) that accepts BGP sessions from
# every lab address in AS 64501, with ECMP over them (tests/lab/routers.py).
ROUTER_ASN, NODE_ASN = 64500, 64501


def router_factory(kind: str | None):
    if not kind:
        return None
    sys.path.insert(0, str(ROOT / "tests" / "lab"))
    import routers  # tests/lab/routers.py: the lab tests' routers

    reason = routers.missing(kind)
    if reason:
        raise RuntimeError(reason)
    spec = routers.RouterSpec(ROUTER_ASN, topology.ROUTER_V4, (
        routers.Neighbor(NODE_ASN, listen_range=topology.V4_PREFIX, families=(routers.IPV4,)),
    ))
    return functools.partial(routers.FrrRouter, spec=spec)


def record_router(lab: LabCluster) -> None:
    """The router's daemons outlive ``up``: recorded like the hosts' containers (by PID and start
    time) with its directories, so ``down`` stops them."""
    for pid in lab.router.frr.pids.values():
        lab.net.processes.append(ContainerInit(pid))  # type: ignore[arg-type]
    lab.net.paths += [lab.router.frr.run_dir, lab.router.frr.etc_dir]
    lab.net.save_state()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab")
    commands = parser.add_subparsers(dest="command", required=True)
    up_parser = commands.add_parser("up", help="build a lab and leave it running")
    up_parser.add_argument("--hosts", action="store_true", help="nodes and cp1 as systemd hosts, for Ansible")
    up_parser.add_argument("--nodes", type=int, default=3, help="number of nodes (1 to 4)")
    up_parser.add_argument("--router", choices=("frr",), default=None, help="a BGP router on the lab network")
    up_parser.add_argument(
        "--hosts-dir", default=None, help="the hosts' key, inventory and kubeconfig go here (default build/lab)"
    )
    down_parser = commands.add_parser("down", help="remove what a lab left running")
    down_parser.add_argument("--force", action="store_true", help="also labs whose builder is still running")
    down_parser.add_argument(
        "--hosts-dir", default=None, help="remove only the lab whose hosts use this directory (and the directory)"
    )
    args = parser.parse_args(argv)
    if args.command == "up":
        return up(args)
    return down.main((["--force"] if args.force else []) + (["--hosts-dir", args.hosts_dir] if args.hosts_dir else []))


if __name__ == "__main__":
    sys.exit(main())
