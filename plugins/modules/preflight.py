#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.preflight: read-only checks before installing metal.lb on a cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
module: preflight
short_description: Check a cluster before installing metal.lb on it
version_added: 0.1.0
description:
  - Read-only checks, through the Kubernetes API, of what would make metal.lb fail or fight with
    something else. The task fails with one message that says what was found and what to do.
  - B(Other load balancers.) K3s ServiceLB, MetalLB, kube-vip in services mode (and the kube-vip cloud
    provider), Cilium LB-IPAM and OpenELB are found from objects only they create (C(docs/preflight.md)
    lists the exact signals). Any of them makes
    the task fail unless O(allow_other_load_balancers=true). Signs that one could start competing later
    (a K3s server that does not disable ServiceLB, the Cilium pool CRD without pools, kube-vip in
    control-plane mode only) are reported in RV(notes) and do not fail.
  - B(API server version.) Kubernetes 1.29 or newer (CRD validation rules, used by the C(metallb.io)
    CRDs, are GA there).
  - B(Pools.) The pools of O(pools) and O(resources), or when neither is given the C(metallb.io) objects of
    O(namespace) in the cluster, are validated by the metal.lb configuration engine together with the
    cluster's Nodes and the Service CIDRs (O(service_cidrs), else the cluster's C(ServiceCIDR) objects,
    else C(networking.serviceSubnet) of kubeadm's C(kube-system/kubeadm-config)). A pool that contains a
    node address, overlaps a Service CIDR or another pool, or is otherwise invalid fails the task.
  - The membership port (7946) cannot be checked through the API; the C(metal.lb.preflight) role checks on
    every node that it is free or held by metal.lb. Its reachability between nodes is not checked.
  - Reads it may not do (403) are listed in RV(unreadable) and the check goes on with the rest.
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - kubernetes >= 29.0.0
  - netaddr >= 0.10.1
  - PyYAML
extends_documentation_fragment:
  - metal.lb.kube_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode runs the same checks.
  diff_mode:
    support: none
    details: The module never changes anything.
  platform:
    platforms: posix
options:
  checks:
    description: The checks to run.
    type: list
    elements: str
    choices: [load_balancers, version, pools]
    default: [load_balancers, version, pools]
  allow_other_load_balancers:
    description:
      - Continue when another load balancer implementation is found (it is still reported in
        RV(load_balancers) and as a warning). Only safe when each handles distinct Services, by
        C(spec.loadBalancerClass).
    type: bool
    default: false
  pools:
    description:
      - Pools to check, as M(metal.lb.config) takes them. With neither O(pools) nor O(resources), the
        cluster's C(metallb.io) objects of O(namespace) are checked.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the pool.
        type: str
        required: true
      addresses:
        description: CIDRs and ranges of the pool; an entry may hold several, separated by commas or blanks.
        type: list
        elements: str
        required: true
      auto_assign:
        description: Whether the pool gives addresses to Services that do not ask for it by name.
        type: bool
      avoid_buggy_ips:
        description: Whether to skip addresses ending in C(.0) and C(.255).
        type: bool
  resources:
    description: Full C(metallb.io) objects to check, as M(metal.lb.config) takes them.
    type: list
    elements: dict
    default: []
  service_cidrs:
    description:
      - The cluster's Service (ClusterIP) CIDRs. Empty means found in the cluster (RV(service_cidrs_source)).
    type: list
    elements: str
    default: []
  gateways:
    description: Gateway addresses of the node networks; a pool containing one of them is an error.
    type: list
    elements: str
    default: []
  allow_node_ip_pools:
    description: Accept a node address listed by itself in a pool (a C(/32), C(/128) or C(a-a) entry).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Check the cluster and the pools about to be configured
  metal.lb.preflight:
    kubeconfig: /etc/kubernetes/admin.conf
    pools:
      - name: production
        addresses: [198.51.100.10-198.51.100.20]

- name: MetalLB and metal.lb side by side, each with its own loadBalancerClass
  metal.lb.preflight:
    allow_other_load_balancers: true
    checks: [load_balancers, version]
"""

RETURN = r"""
load_balancers:
  description: Other load balancer implementations found, one entry per signal.
  returned: always
  type: list
  elements: dict
  sample:
    - implementation: K3s ServiceLB
      signal: DaemonSet kube-system/svclb-web-1a2b3c4d (ServiceLB's per-Service DaemonSet)
      guidance: Start every K3s server with --disable=servicelb ...
  contains:
    implementation:
      description: V(K3s ServiceLB), V(MetalLB), V(kube-vip), V(Cilium LB-IPAM) or V(OpenELB).
      type: str
    signal:
      description: The object found, and why it counts.
      type: str
    guidance:
      description: What to do about it.
      type: str
notes:
  description: Things that do not fail the check but may matter later.
  returned: always
  type: list
  elements: str
  sample: []
version:
  description:
    - The API server version (C(server), major.minor from its C(/version)), and whether metal.lb supports it.
  returned: when the version check ran
  type: dict
  sample: {git_version: v1.31.2, server: "1.31", supported: true, minimum: "1.29"}
service_cidrs:
  description: The Service CIDRs the pools were checked against.
  returned: when the pools check ran
  type: list
  elements: str
  sample: [198.51.100.128/25]
service_cidrs_source:
  description: V(option), V(ServiceCIDR objects), V(ConfigMap kube-system/kubeadm-config) or V(unknown).
  returned: when the pools check ran
  type: str
  sample: ServiceCIDR objects
pools_source:
  description: Where the pools came from, V(options) or V(cluster).
  returned: when the pools check ran
  type: str
  sample: options
pool_errors:
  description: Every error of the pools, one message each naming the object and field.
  returned: always
  type: list
  elements: str
  sample:
    - >-
      IPAddressPool "production": spec.addresses[0]: addresses "198.51.100.0/28" overlap node node1
      InternalIP 198.51.100.3
unreadable:
  description: Reads the credentials were not allowed to do; the checks that needed them are incomplete.
  returned: always
  type: list
  elements: str
  sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.metal.lb.plugins.module_utils.engine import desired_config
from ansible_collections.metal.lb.plugins.module_utils.engine.addresses import HAS_NETADDR
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import CONFIG_KINDS, parse_config
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import HAS_KUBERNETES, KubeConfigError
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import (
    api_client_from_params,
    argument_spec,
    describe_api_error,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.preflight_facts import read_facts
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.snapshot import cluster_objects
from ansible_collections.metal.lb.plugins.module_utils.engine.preflight import service_cidrs as cidr_sources
from ansible_collections.metal.lb.plugins.module_utils.engine.preflight.api_version import (
    MINIMUM,
    server_version,
    version_problem,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.preflight.other_load_balancers import (
    describe,
    other_load_balancers,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.strict_arp import HAS_YAML

CHECKS = ["load_balancers", "version", "pools"]
ARGUMENT_SPEC = argument_spec(
    checks=dict(type="list", elements="str", choices=CHECKS, default=list(CHECKS)),
    allow_other_load_balancers=dict(type="bool", default=False),
    pools=dict(type="list", elements="dict", default=[], options=dict(
        name=dict(type="str", required=True),
        addresses=dict(type="list", elements="str", required=True),
        auto_assign=dict(type="bool"),
        avoid_buggy_ips=dict(type="bool"),
    )),
    resources=dict(type="list", elements="dict", default=[]),
    service_cidrs=dict(type="list", elements="str", default=[]),
    gateways=dict(type="list", elements="str", default=[]),
    allow_node_ip_pools=dict(type="bool", default=False),
)


def check_pools(params: dict, facts: dict, cluster: list[dict], result: dict) -> list[str]:
    """Validate the pools with the configuration engine; the problems (pure: no API calls)."""
    given = desired_config.flat_resources(params["pools"], None, False, params["namespace"])
    given += list(params["resources"])
    if given:
        try:
            config = desired_config.normalize(given, params["namespace"])
        except desired_config.DesiredConfigError as exc:
            result["pool_errors"] = list(exc.problems)
            return ["invalid pools: %s" % exc]
        result["pools_source"] = "options"
    else:
        config = [obj for obj in cluster if obj.get("kind") in CONFIG_KINDS]
        result["pools_source"] = "cluster"
    others = [obj for obj in cluster
              if obj.get("kind") not in CONFIG_KINDS and not (given and obj.get("kind") == "ConfigMap")]
    cidrs, source = cidr_sources.choose(params["service_cidrs"], facts.get("service_cidr_objects") or (),
                                        facts.get("kubeadm_config"))
    result.update(service_cidrs=cidrs, service_cidrs_source=source)
    if source == "unknown":
        result["notes"].append("the Service CIDRs are unknown (no ServiceCIDR objects, no kubeadm-config): pass "
                               "service_cidrs to check that no pool overlaps them")
    parsed = parse_config(config + others, namespace=params["namespace"], service_cidrs=cidrs,
                          gateways=params["gateways"], allow_node_ip_pools=params["allow_node_ip_pools"])
    result["pool_errors"] = [str(e) for e in parsed.errors]
    result["notes"].extend(parsed.warnings)
    if not any(obj.get("kind") == "IPAddressPool" for obj in config) and not parsed.errors:
        result["notes"].append("no pool to check")
    return ["pools: %s" % "; ".join(result["pool_errors"])] if parsed.errors else []


def evaluate(params: dict, facts: dict, cluster: list[dict]) -> tuple[dict, list[str], list[str]]:
    """(result, problems that fail the task, warnings) for what was read (pure)."""
    result: dict = {"load_balancers": [], "notes": [], "pool_errors": [], "unreadable": []}
    problems: list[str] = []
    warnings: list[str] = []
    if "load_balancers" in params["checks"]:
        findings, notes = other_load_balancers(facts)
        result["load_balancers"] = [{"implementation": f.implementation, "signal": f.signal,
                                     "guidance": f.guidance} for f in findings]
        result["notes"].extend(notes)
        if findings:
            text = "another load balancer is installed: %s" % describe(findings)
            if params["allow_other_load_balancers"]:
                warnings.append(text + " (continuing: allow_other_load_balancers is true)")
            else:
                problems.append(text)
    if "version" in params["checks"]:
        info = facts.get("version") or {}
        problem = version_problem(info)
        found = server_version(info)
        result["version"] = {"git_version": info.get("gitVersion"), "server": "%d.%d" % found if found else None,
                             "supported": problem is None, "minimum": "%d.%d" % MINIMUM}
        if problem:
            problems.append(problem)
    if "pools" in params["checks"]:
        problems.extend(check_pools(params, facts, cluster, result))
    return result, problems, warnings


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    empty = dict(load_balancers=[], notes=[], pool_errors=[], unreadable=[])
    for present, lib in ((HAS_KUBERNETES, "kubernetes"), (HAS_NETADDR, "netaddr"), (HAS_YAML, "PyYAML")):
        if not present:
            module.fail_json(msg=missing_required_lib(lib), **empty)
    params = module.params
    try:
        api_client = api_client_from_params(params)
    except KubeConfigError as exc:
        module.fail_json(msg=str(exc), **empty)
    try:
        facts, unreadable = read_facts(api_client)
        cluster = cluster_objects(api_client, params["namespace"], services=False) \
            if "pools" in params["checks"] else []
    except Exception as exc:  # pylint: disable=broad-exception-caught  # API and network errors alike
        module.fail_json(msg="Cannot read the cluster: %s" % describe_api_error(exc), exception=traceback.format_exc(),
                         **empty)
    finally:
        api_client.close()
    result, problems, warnings = evaluate(params, facts, cluster)
    result["unreadable"] = unreadable
    for warning in warnings:
        module.warn(warning)
    if unreadable:
        module.warn("Not allowed to read %s: those checks are incomplete" % ", ".join(unreadable))
    if problems:
        module.fail_json(msg="Preflight failed: %s" % " | ".join(problems), **result)
    module.exit_json(changed=False, msg="Preflight passed", **result)


if __name__ == "__main__":
    main()
