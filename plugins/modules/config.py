#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.config: declare the metallb.io configuration; validated as a whole before anything is written."""

from __future__ import annotations

DOCUMENTATION = r"""
module: config
short_description: Declare the metal.lb (MetalLB-compatible) configuration of a cluster
version_added: 0.1.0
description:
  - Brings the C(metallb.io) objects of O(namespace) (C(IPAddressPool), C(L2Advertisement),
    C(BGPAdvertisement), C(BGPPeer), C(Community), C(BFDProfile)) to the desired configuration.
  - The configuration is given as full objects in O(resources), or for the common layer-2 case as flat,
    survey-friendly options (O(pool_name), O(pool_addresses) and O(pool_interfaces) for one pool; O(pools),
    O(l2_advertisements) and O(l2_all_pools) for several), or any mix of them.
  - The configuration the namespace would hold afterwards (the listed objects, the unlabelled objects
    already there and, with O(prune=false), the managed ones not listed) is validated as a whole by the
    metal.lb engine, together with the cluster's Namespaces and Nodes, before anything is written. When
    it is invalid the module fails with every error and writes nothing.
  - Every create and replace is then sent to the API server as a dry run (C(dryRun=All)), also in check
    mode, so an object the API server would reject (its CRD schema, admission, a concurrent edit) fails
    the task before anything is written, with one error naming the object.
  - Objects are created, or replaced with the C(resourceVersion) they were read at (a concurrent edit
    makes the task fail instead of being overwritten). They carry the label
    C(app.kubernetes.io/managed-by=metal.lb).
  - An object of the same kind and name that exists without the label is taken over when listed.
    Objects without the label are never pruned.
  - Always reports which Services would get, keep, move or lose an IP (RV(service_changes)). The planner
    runs the controller's code on the live cluster's Services with the resulting configuration; run the
    task in check mode to see that before applying.
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - kubernetes >= 29.0.0
  - netaddr >= 0.10.1
extends_documentation_fragment:
  - metal.lb.kube_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Validates (the engine and the API server's dry run), computes every change and
      RV(service_changes), and writes nothing.
  diff_mode:
    support: full
    details: One before/after entry per object created, replaced or deleted.
  platform:
    platforms: posix
options:
  resources:
    description:
      - Desired C(metallb.io) objects as dictionaries, as in MetalLB's documentation.
      - C(apiVersion) defaults to C(metallb.io/v1beta1) (C(metallb.io/v1beta2) for C(BGPPeer));
        C(metadata.namespace) defaults to O(namespace) and must be O(namespace) when given.
    type: list
    elements: dict
    default: []
  pool_name:
    description:
      - One layer-2 pool in three survey fields; with O(pool_addresses), an C(IPAddressPool) of this name and
        an C(L2Advertisement) of the same name that announces it (from O(pool_interfaces)).
    type: str
  pool_addresses:
    description:
      - The addresses of O(pool_name), CIDRs (V(198.51.100.0/28)) and ranges (V(198.51.100.10-198.51.100.20)).
      - Each entry may hold several, separated by commas, spaces or new lines (an AWX survey text area).
    type: list
    elements: str
  pool_interfaces:
    description:
      - Node interfaces the pool of O(pool_name) is announced from (V(eth0)); empty means all.
      - Each entry may hold several, separated by commas, spaces or new lines.
    type: list
    elements: str
  pools:
    description:
      - Address pools (C(IPAddressPool) objects) for the common case, in addition to O(resources).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the pool.
        type: str
        required: true
      addresses:
        description:
          - CIDRs (V(198.51.100.0/28)) and ranges (V(198.51.100.10-198.51.100.20)) of the pool.
          - Each entry may hold several, separated by commas, spaces or new lines.
        type: list
        elements: str
        required: true
      auto_assign:
        description:
          - Whether the pool gives addresses to Services that do not ask for it by name.
          - Not set means MetalLB's default (V(true)).
        type: bool
      avoid_buggy_ips:
        description:
          - Whether to skip addresses ending in C(.0) and C(.255).
          - Not set means MetalLB's default (V(false)).
        type: bool
  l2_advertisements:
    description:
      - Layer-2 advertisements (C(L2Advertisement) objects) for the common case, in addition to O(resources).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the advertisement.
        type: str
        required: true
      pools:
        description: Names of the pools it announces; empty means all pools.
        type: list
        elements: str
        default: []
      interfaces:
        description: Node interfaces to announce from; empty means all.
        type: list
        elements: str
        default: []
      node_selectors:
        description:
          - Nodes that announce; empty means all nodes.
          - Each entry is a map of labels a node must have (for example C(kubernetes.io/hostname) set to
            C(node1)), or a full Kubernetes label selector with C(matchLabels) and/or C(matchExpressions).
        type: list
        elements: dict
        default: []
  l2_all_pools:
    description:
      - Add an C(L2Advertisement) named C(l2-all-pools) that announces every pool from every node.
    type: bool
    default: false
  state:
    description:
      - V(present) creates or replaces the listed objects (and prunes, see O(prune)).
      - V(absent) deletes the listed objects that exist (only their kind and name matter).
    type: str
    choices: [present, absent]
    default: present
  prune:
    description:
      - With O(state=present), delete the objects labelled C(app.kubernetes.io/managed-by=metal.lb) in
        O(namespace) that are not listed. Objects without the label are never deleted.
      - With nothing listed this would delete every managed object, so the module refuses; use
        O(state=absent) with the objects listed instead.
    type: bool
    default: true
  lb_class:
    description:
      - The load balancer class the controller handles, for RV(service_changes) (MetalLB's C(--lb-class)).
      - Empty means Services without C(spec.loadBalancerClass).
    type: str
    default: ""
  service_cidrs:
    description:
      - The cluster's Service (ClusterIP) CIDRs; a pool overlapping one of them is an error.
    type: list
    elements: str
    default: []
  gateways:
    description:
      - Gateway addresses of the node networks; a pool containing one of them is an error.
    type: list
    elements: str
    default: []
  allow_node_ip_pools:
    description:
      - A pool containing the address of a cluster Node is an error. With V(true), a node address listed
        by itself (a C(/32), C(/128) or C(a-a) entry) is accepted.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: One layer-2 pool from three survey answers
  metal.lb.config:
    kubeconfig: /etc/kubernetes/admin.conf
    pool_name: "{{ lb_pool_name }}"
    pool_addresses: "{{ lb_pool_addresses }}"
    pool_interfaces: "{{ lb_interfaces | default([]) }}"

- name: Two pools, every pool announced from every node
  metal.lb.config:
    pools:
      - name: production
        addresses:
          - 198.51.100.10-198.51.100.20
      - name: staging
        addresses: [203.0.113.0/28]
        auto_assign: false
    l2_all_pools: true

- name: Check a change first; show which services would move or lose their IP
  metal.lb.config:
    pools:
      - name: production
        addresses: [198.51.100.16/28]
    l2_all_pools: true
  check_mode: true
  diff: true
  register: lb_change

- name: Stop when an address would move
  ansible.builtin.assert:
    that:
      - lb_change.service_changes.move | length == 0
      - lb_change.service_changes.lose | length == 0

- name: Full objects, as in MetalLB's documentation
  metal.lb.config:
    resources:
      - apiVersion: metallb.io/v1beta1
        kind: IPAddressPool
        metadata:
          name: first-pool
        spec:
          addresses:
            - 198.51.100.0/26
          autoAssign: true
      - apiVersion: metallb.io/v1beta1
        kind: L2Advertisement
        metadata:
          name: example
        spec:
          ipAddressPools: [first-pool]
          nodeSelectors:
            - matchLabels:
                kubernetes.io/hostname: node1

- name: Remove one pool (and nothing else)
  metal.lb.config:
    state: absent
    resources:
      - kind: IPAddressPool
        metadata:
          name: old-pool
"""

RETURN = r"""
objects:
  description: What happened to every listed or pruned object.
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: IPAddressPool, name: production, action: create}
    - {kind: L2Advertisement, name: l2-all-pools, action: unchanged}
  contains:
    kind:
      description: The object's kind.
      type: str
    name:
      description: The object's name.
      type: str
    action:
      description: V(create), V(update) (replaced), V(delete) or V(unchanged).
      type: str
service_changes:
  description:
    - Which Services would get, keep, move or lose an IP with the resulting configuration, compared with
      their current status. A Service without IP before and after is in no list.
  returned: success
  type: dict
  sample:
    get:
      - {service: default/web, old_ips: [], new_ips: [198.51.100.10], old_pool: null, new_pool: production}
    keep: []
    move: []
    lose: []
  contains:
    get:
      description: Services that have no IP now and would get one.
      type: list
      elements: dict
    keep:
      description: Services that would keep their IPs.
      type: list
      elements: dict
    move:
      description: Services whose IPs would change.
      type: list
      elements: dict
    lose:
      description: Services that would lose their IPs.
      type: list
      elements: dict
plan:
  description:
    - The planner's full result for the resulting configuration (as M(metal.lb.plan) returns it), with
      RV(service_changes) under C(service_changes).
  returned: success
  type: dict
  sample:
    services:
      default/web: {ips: [198.51.100.10], pool: production, state: assigned, changed: true, events: []}
    pools:
      production: {capacity: {ipv4: 11, ipv6: 0}, in_use: {ipv4: 1, ipv6: 0}, available: {ipv4: 10, ipv6: 0}}
    service_changes: {get: [], keep: [], move: [], lose: []}
config_errors:
  description:
    - Every error of the resulting configuration, one message each naming the object and field. The
      module fails (and writes nothing) when there is any.
  returned: always
  type: list
  elements: str
  sample:
    - 'IPAddressPool "broken": spec.addresses[0]: invalid IP range "198.51.100.20-198.51.100.10"'
config_warnings:
  description: Things that are valid but probably not what was meant.
  returned: success
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.engine import desired_config
from ansible_collections.metal.lb.plugins.module_utils.engine.config.secrets import bgp_passwords
from ansible_collections.metal.lb.plugins.module_utils.engine.desired_config import (
    desired_objects,
    evaluate,
    is_config_object,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.config_writer import (
    align_versions,
    apply_actions,
    dry_run,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import argument_spec
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.snapshot import cluster_objects
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import (
    ModuleFailure,
    ModuleRunner,
    config_failure,
)

ARGUMENT_SPEC = argument_spec(
    resources=dict(type="list", elements="dict", default=[]),
    pool_name=dict(type="str"),
    pool_addresses=dict(type="list", elements="str"),
    pool_interfaces=dict(type="list", elements="str"),
    pools=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        addresses=dict(type="list", elements="str", required=True),
        auto_assign=dict(type="bool"),
        avoid_buggy_ips=dict(type="bool"),
    )),
    l2_advertisements=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        pools=dict(type="list", elements="str", default=[]),
        interfaces=dict(type="list", elements="str", default=[]),
        node_selectors=dict(type="list", elements="dict", default=[]),
    )),
    l2_all_pools=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    prune=dict(type="bool", default=True),
    lb_class=dict(type="str", default=""),
    service_cidrs=dict(type="list", elements="str", default=[]),
    gateways=dict(type="list", elements="str", default=[]),
    allow_node_ip_pools=dict(type="bool", default=False),
)


def run(runner: ModuleRunner) -> dict:
    params, namespace = runner.params, runner.params["namespace"]
    try:
        desired = desired_objects(params)
    except desired_config.DesiredConfigError as exc:
        raise ModuleFailure("Invalid desired objects, nothing written: %s" % exc, config_errors=exc.problems) from None
    if params["state"] == "present" and params["prune"] and not desired:
        raise ModuleFailure("Nothing is listed: with prune=true this would delete every object managed by "
                            "metal.lb; list them with state=absent to delete them")
    with runner.api_step("Cannot read the cluster"):
        objects = cluster_objects(runner.client, namespace)
        runner.module.no_log_values.update(bgp_passwords(objects))  # the peers and Secrets already there
        current = align_versions(runner.client, namespace, [obj for obj in objects if is_config_object(obj)], desired)
    outcome = evaluate(objects, desired, params, current)
    for warning in outcome["warnings"]:
        runner.module.warn(warning)
    if outcome["errors"]:
        raise config_failure(outcome["errors"], config_errors=outcome["errors"], config_warnings=outcome["warnings"])
    actions = outcome["actions"]
    changes = [a for a in actions if a.verb != desired_config.UNCHANGED]
    # Always a server-side dry run first (admission and schema checks); in check mode, only that.
    with runner.api_step("Checking the configuration with the API server failed, nothing written"):
        rejected = dry_run(runner.client, namespace, changes)
    if rejected:
        raise ModuleFailure("The API server rejects the configuration, nothing written: %s" % "; ".join(rejected),
                            config_errors=rejected, config_warnings=outcome["warnings"])
    if changes and not runner.check_mode:
        with runner.api_step("Applying the configuration failed"):
            apply_actions(runner.client, namespace, changes)
    output = dict(
        changed=bool(changes),
        objects=[{"kind": a.kind, "name": a.name, "action": a.verb} for a in actions],
        service_changes=outcome["service_changes"],
        plan=outcome["plan"],
        config_errors=[],
        config_warnings=outcome["warnings"],
    )
    if runner.module._diff:
        output["diff"] = desired_config.diff_entries(actions)
    return output


def main() -> None:
    # no_log here only defers the invocation log line until the BGP passwords in the resources are
    # known: they are then masked in it, in the result, the diff and in -vvv output
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, no_log=True,
                           required_together=[("pool_name", "pool_addresses")],
                           required_by={"pool_interfaces": ("pool_name",)})
    module.no_log_values.update(bgp_passwords(module.params["resources"]))
    module.no_log = False
    module._log_invocation()  # pylint: disable=protected-access
    ModuleRunner(module, requires=("kubernetes", "netaddr"), failure_defaults=dict(config_errors=[])).run(run)


if __name__ == "__main__":
    main()
