#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.announce: what this node's speaker announces, and a gratuitous ARP/NA burst on demand."""

from __future__ import annotations

DOCUMENTATION = r"""
module: announce
short_description: Report what a node announces (layer 2, BGP sessions) and re-send gratuitous ARP/NA
version_added: 0.1.0
description:
  - Runs on a node where the metal.lb speaker (C(metal-lb speaker)) runs, and reports which load balancer
    IPs this node announces with ARP/NDP, on which interfaces, for which Services, and the speaker's
    membership view (which speakers it counts as live), and its BGP sessions (peer, state, uptime, prefixes
    sent, BFD state) with the prefixes each IP is announced as.
  - The speaker's own view is read from its status file (O(status_file)), a small JSON document the speaker
    rewrites whenever what it announces or sees changes; it needs no network access.
  - With O(api=true) the module also reads the C(ServiceL2Status) objects that name this node from the
    Kubernetes API (what the cluster believes this node announces), using the usual connection options.
  - With O(gratuitous=true), asks the running speaker for a fresh gratuitous burst for every IP it announces
    (ARP request and reply for IPv4, unsolicited Neighbor Advertisement for IPv6, at once and then every
    1.1 s for 5 s, as on a take-over), for example after maintenance on switches or routers. The speaker
    sends the frames (it owns the raw sockets); the module signals it with C(SIGUSR1), so it must run as
    the speaker's user or root (C(become=true)).
  - In check mode nothing is sent; the module reports which IPs would get a burst.
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - kubernetes >= 29.0.0 (only with O(api=true))
extends_documentation_fragment:
  - metal.lb.kube_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the IPs that would get a gratuitous burst and sends nothing.
  diff_mode:
    support: full
    details: Shows the IPs a gratuitous burst is (or would be) sent for.
  platform:
    platforms: posix
options:
  node:
    description:
      - The node's name as in its Kubernetes C(Node) object (the speaker's C(--node)).
      - Defaults to the short host name of the managed node.
    type: str
  status_file:
    description:
      - The speaker's status file (its C(--status-file)). C({node}) is replaced by O(node).
    type: path
    default: /run/metal-lb/speaker-{node}.json
  gratuitous:
    description:
      - Ask the speaker to send a gratuitous ARP/NA burst for every IP this node announces.
      - Reports C(changed) when there was at least one IP to announce.
    type: bool
    default: false
  api:
    description:
      - Also read this node's C(ServiceL2Status) objects from the Kubernetes API (RV(l2_statuses)).
      - When the status file exists, a failure to reach the API is reported as a warning; without the status
        file it is an error.
    type: bool
    default: false
notes:
  - The status file is written by C(metal-lb speaker) only (the default path is the speaker's default); a
    speaker started with C(--status-file '') cannot be queried or asked for a burst by this module.
"""

EXAMPLES = r"""
- name: What does this node announce?
  metal.lb.announce:
  register: l2

- name: Show the IPs and the live speakers
  ansible.builtin.debug:
    msg: "{{ l2.announced | list }} (live speakers: {{ l2.membership.live | join(', ') }})"

- name: After switch maintenance, re-announce every IP the node leads
  metal.lb.announce:
    gratuitous: true
  become: true

- name: Compare with what the cluster records (ServiceL2Status objects)
  metal.lb.announce:
    node: node1
    api: true
    kubeconfig: /etc/kubernetes/admin.conf
  register: l2
"""

RETURN = r"""
node:
  description: The node the report is about.
  returned: always
  type: str
  sample: node1
speaker_running:
  description: Whether the speaker that wrote the status file is running now.
  returned: always
  type: bool
  sample: true
status_file:
  description: The status file read (after replacing C({node})).
  returned: always
  type: str
  sample: /run/metal-lb/speaker-node1.json
announced:
  description:
    - The IPs this node announces now (from the speaker), keyed by IP. Empty when the speaker is not
      running or announces nothing.
  returned: always
  type: dict
  sample:
    198.51.100.10:
      interfaces: []
      services: [default/web]
  contains:
    interfaces:
      description: The interfaces the IP is answered on; empty means every eligible interface.
      type: list
      elements: str
    services:
      description: The Services (C(namespace/name)) that use the IP.
      type: list
      elements: str
membership:
  description: The speaker's membership view (empty when the status file is missing).
  returned: always
  type: dict
  sample:
    enabled: true
    ready: true
    live: [node1, node2, node3]
    view:
      node2: {state: up, incarnation: 1733011200000, live: true}
  contains:
    enabled:
      description: False when the speaker runs without membership (every Node counts as live).
      type: bool
    ready:
      description: Whether the view is settled (a peer's view arrived, or the start-up timeout passed).
      type: bool
    live:
      description: The speakers counted as live, this one included once stable.
      type: list
      elements: str
    view:
      description: Per speaker, its membership state (C(up), C(down), C(left), C(unknown)), incarnation and
        whether it is live.
      type: dict
responder:
  description: Whether the speaker answers ARP/NDP, and on which interfaces with which protocol.
  returned: always
  type: dict
  sample:
    enabled: true
    interfaces:
      eth0: {arp: true, ndp: true}
bgp:
  description:
    - What the node's speaker runs over BGP (through its own FRR instance), from the status file. Empty when the
      speaker is not running or runs without BGP.
  returned: always
  type: dict
  sample:
    enabled: true
    frr: {pathspace: metal-lb, running: true, error: ""}
    sessions:
      - {name: tor1, peer: 198.51.100.254, vrf: "", state: Established, uptime: 3600, prefixes_sent: 2,
         prefixes: 2, updates_sent: 5, bfd: up}
    announced:
      198.51.100.10: {services: [default/web], peers: [tor1], prefixes: [198.51.100.10/32]}
    errors: []
  contains:
    frr:
      description: The speaker's FRR pathspace, whether it runs, and why not.
      type: dict
    sessions:
      description:
        - One per BGPPeer selecting this node, C(name) the BGPPeer, C(peer) its address (or interface), C(state)
          FRR's session state (C(Established) when up), C(uptime) seconds since it came up (null when down),
          C(prefixes_sent) the prefixes the router has from it, C(prefixes) how many it should have, C(bfd) the
          BFD session state (null without BFD).
      type: list
      elements: dict
    announced:
      description: The LB IPs announced over BGP, with their Services, peers and prefixes.
      type: dict
    errors:
      description: Configuration FRR refused or sessions that cannot be set up, one line each (no password).
      type: list
      elements: str
l2_statuses:
  description: With O(api=true), this node's C(ServiceL2Status) objects, keyed by Service C(namespace/name).
  returned: when O(api=true) and the API was read
  type: dict
  sample:
    default/web:
      name: l2-x7k2p
      interfaces: []
gratuitous:
  description: The IPs a gratuitous burst was requested for (in check mode, would be requested for).
  returned: always
  type: list
  elements: str
  sample: [198.51.100.10]
"""

import json
import os
import signal
import socket

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.metal.lb.plugins.module_utils.shells.daemons import status_file
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import HAS_KUBERNETES
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import argument_spec
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import ModuleFailure, ModuleRunner
from ansible_collections.metal.lb.plugins.module_utils.engine.vocabulary import (
    GROUP,
    SERVICE_L2_STATUS,
    STATUS_NODE_LABEL,
    plural,
    version,
)

ARGUMENT_SPEC = argument_spec(
    node=dict(type="str"),
    status_file=dict(type="path", default="/run/metal-lb/speaker-{node}.json"),
    gratuitous=dict(type="bool", default=False),
    api=dict(type="bool", default=False),
)
VERSION = version(SERVICE_L2_STATUS)
PLURAL = plural(SERVICE_L2_STATUS)
NODE_LABEL = STATUS_NODE_LABEL


def read_status(path: str) -> dict | None:
    """The speaker's status file (``daemons.status_file``, the speaker's own format)."""
    return status_file.read(path)


def speaker_running(pid) -> bool:
    """The PID is alive and is a metal-lb speaker (a recycled PID is never signalled)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return b"speaker" in argv and any(b"metal-lb" in arg or b"metal_lb" in arg for arg in argv)


def bgp_report(status: dict) -> dict:
    """The status file's BGP part with each session's uptime computed now."""
    bgp = status.get("bgp") or {}
    if not bgp:
        return {}
    return {"enabled": bool(bgp.get("enabled")), "frr": bgp.get("frr") or {},
            "sessions": status_file.bgp_sessions(status), "announced": bgp.get("announced") or {},
            "errors": bgp.get("errors") or []}


def l2_statuses(api_client, namespace: str, node: str) -> dict:
    from kubernetes import client as k8s_client

    custom = k8s_client.CustomObjectsApi(api_client)
    resp = custom.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL,
                                                label_selector="%s=%s" % (NODE_LABEL, node), _preload_content=False)
    items = json.loads(resp.data).get("items") or []
    out = {}
    for obj in items:
        status = obj.get("status") or {}
        key = "%s/%s" % (status.get("serviceNamespace"), status.get("serviceName"))
        out[key] = {"name": (obj.get("metadata") or {}).get("name"),
                    "interfaces": [i.get("name") for i in status.get("interfaces") or () if isinstance(i, dict)]}
    return out


def run(runner: ModuleRunner) -> dict:
    module, params = runner.module, runner.params
    node = params["node"] or socket.gethostname().split(".")[0]
    path = status_file.path_for(params["status_file"], node)
    try:
        status = read_status(path)
    except ValueError as exc:
        raise ModuleFailure(str(exc)) from None
    running = status is not None and speaker_running(status.get("pid"))
    result: dict = {
        "changed": False,
        "node": node,
        "status_file": path,
        "speaker_running": running,
        "announced": status["announced"] if running else {},
        "membership": (status or {}).get("membership") or {},
        "responder": (status or {}).get("responder") or {},
        "bgp": bgp_report(status) if running else {},
        "gratuitous": [],
    }
    if status is not None and status.get("node") not in (None, node):
        raise ModuleFailure("status file %s belongs to node %r, not %r" % (path, status.get("node"), node),
                            **result)
    if params["api"]:
        try:
            if not HAS_KUBERNETES:
                raise ModuleFailure(missing_required_lib("kubernetes"))
            with runner.api_step("reading ServiceL2Status objects"):
                result["l2_statuses"] = l2_statuses(runner.client, params["namespace"], node)
        except ModuleFailure as failure:
            if status is None:  # nothing else to report: the task fails
                raise ModuleFailure(failure.msg, **result) from None
            module.warn("ServiceL2Status objects not read: %s" % failure.msg)
    if status is None and not params["api"]:
        module.warn("no speaker status file %s: is the metal.lb speaker running on %s?" % (path, node))
    if params["gratuitous"]:
        if not running:
            raise ModuleFailure("gratuitous: no running metal-lb speaker for node %s (status file %s)"
                                % (node, path), **result)
        ips = sorted(result["announced"])
        result["gratuitous"] = ips
        result["changed"] = bool(ips)
        if ips and module._diff:
            result["diff"] = {"before": "", "after": "gratuitous ARP/NA burst for %s\n" % ", ".join(ips)}
        if ips and not module.check_mode:
            try:
                os.kill(status["pid"], signal.SIGUSR1)
            except OSError as exc:
                raise ModuleFailure("gratuitous: cannot signal the speaker (pid %s): %s"
                                    % (status["pid"], exc.strerror or exc), **result) from None
    return result


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ModuleRunner(module).run(run)


if __name__ == "__main__":
    main()
