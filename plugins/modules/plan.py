#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.plan: the offline planner as a module (argument spec -> engine -> result)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Plan MetalLB-compatible load balancer decisions offline
version_added: 0.1.0
description:
  - Runs the metal.lb planner over a snapshot of Kubernetes objects (C(metallb.io) configuration,
    Services, Namespaces, Nodes, EndpointSlices) and returns which IP every C(LoadBalancer) Service would
    get or keep, which node would announce it in layer 2 (or why none would), how full every pool would
    be, and every configuration error and warning.
  - The same planner runs in the controller and behind C(bin/metal-lb plan), so a pipeline can check a
    configuration change before applying it.
  - Pure; it reads O(files) on the managed node and changes nothing, so it always reports C(changed=false).
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - netaddr >= 0.10.1
  - PyYAML >= 6.0 (for O(files))
extends_documentation_fragment:
  - metal.lb.planner
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module never changes anything, so check mode returns the same result.
  diff_mode:
    support: none
    details: The module never changes anything, so there is never a difference to show.
  platform:
    platforms: posix
options:
  members:
    description:
      - The nodes whose speakers are alive, for the layer-2 election reported in RV(announcements).
      - By default every C(Node) among the objects counts as a live member (MetalLB without memberlist).
        Give a list to see what happens when some speakers are down, for example O(members=[node2, node3]).
      - A name without a C(Node) object never announces.
    type: list
    elements: str
  fail_on_invalid:
    description:
      - Fail when the configuration has errors. The errors are returned in RV(errors) either way.
      - Set to V(false) to inspect errors in later tasks instead.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Plan the manifests of a change before applying them
  metal.lb.plan:
    files:
      - manifests/metallb/
      - manifests/services.yaml
  register: lb_plan

- name: Show where every service would be reachable
  ansible.builtin.debug:
    msg: "{{ lb_plan.services }}"

- name: Check objects read from the cluster, without failing on errors
  metal.lb.plan:
    objects: "{{ metallb_objects.resources + services.resources }}"
    lb_class: metal.lb/bare-metal
    service_cidrs:
      - 198.51.100.0/26
    fail_on_invalid: false
  register: lb_plan

- name: Report the configuration errors
  ansible.builtin.assert:
    that: lb_plan.errors | length == 0
    fail_msg: "{{ lb_plan.errors | join('; ') }}"
"""

RETURN = r"""
services:
  description:
    - The decision for every Service this installation handles that is or was a load balancer, keyed
      C(namespace/name), as the controller would make it starting from these objects.
  returned: success
  type: dict
  sample:
    default/web:
      ips: [198.51.100.10]
      pool: production
      state: assigned
      changed: true
      events: []
  contains:
    ips:
      description: The addresses the Service would have (empty when none can be given).
      type: list
      elements: str
    pool:
      description: The pool they come from.
      type: str
    state:
      description: The planner's verdict, for example C(assigned) or C(pending).
      type: str
    changed:
      description: Whether this differs from the Service's current C(status.loadBalancer).
      type: bool
    events:
      description: The Kubernetes Events the controller would record for the Service.
      type: list
      elements: dict
announcements:
  description:
    - Who announces every planned load-balancer IP, keyed by IP, computed from the C(Node), C(EndpointSlice)
      and C(L2Advertisement) objects given, with the same function the speakers run.
    - C(layer2.node) is the node whose speaker answers ARP/NDP for the IP, C(layer2.interfaces) the interfaces
      it answers on (empty means every eligible interface).
    - When no node announces, C(layer2.node) is V(null) and C(layer2.reason) says why, with MetalLB's reason
      names, for example C(notOwner) (no serving endpoint, or no eligible live node),
      C(noMatchingAdvertisement) (no L2Advertisement selects a live node for this service) or
      C(sharedIPWithServiceSelector) (C(allow-shared-ip) combined with C(serviceSelectors)).
  returned: success
  type: dict
  sample:
    198.51.100.10:
      layer2: {node: node2, interfaces: [], reason: null}
    198.51.100.11:
      layer2: {node: null, interfaces: [], reason: notOwner}
  contains:
    layer2:
      description: The layer-2 decision for the IP.
      type: dict
      contains:
        node:
          description: The announcing node, or V(null) when none does.
          type: str
        interfaces:
          description: The interfaces it announces on; empty means all (or none announces).
          type: list
          elements: str
        reason:
          description: V(null) when a node announces, else why none does.
          type: str
    bgp:
      description:
        - Only when the configuration has a C(BGPPeer) or C(BGPAdvertisement). Keyed by node name, what the node
          sends for the IP over BGP, computed with the same function the speakers run.
        - Either C(peers), C(prefixes), C(communities), C(large_communities) and C(local_pref) (sent to iBGP
          peers only, V(null) when none), or C(reason) with MetalLB's reason names, for example
          C(noLocalEndpoints), C(noEndpoints), C(notOwner), C(nodeNetworkUnavailable), or C(noPeers) (no session
          of the node carries the prefix).
      type: dict
      returned: when the configuration has BGP objects
pools:
  description: Per pool (keyed by name), how many addresses it has, how many the plan uses and how many are left.
  returned: success
  type: dict
  sample:
    production:
      capacity: {ipv4: 11, ipv6: 256}
      in_use: {ipv4: 1, ipv6: 0}
      available: {ipv4: 10, ipv6: 256}
errors:
  description:
    - Configuration errors, one clear message each naming the object (kind/name) and field.
    - Also returned when the module fails because of them.
  returned: always
  type: list
  elements: str
  sample:
    - "IPAddressPool metallb-system/production: spec.addresses[0]: invalid CIDR or range '198.51.100.300/32'"
config_warnings:
  description:
    - Things that are valid but probably not what was meant (the planner's warnings).
    - Each is also shown as an Ansible warning. The key is not C(warnings) because Ansible reserves that
      name in module results.
  returned: success
  type: list
  elements: str
  sample: []
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.engine import manifests, planner
from ansible_collections.metal.lb.plugins.module_utils.engine.config.secrets import bgp_passwords
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import (
    ModuleFailure,
    ModuleRunner,
    config_failure,
)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

ARGUMENT_SPEC = dict(
    objects=dict(type="list", elements="dict", default=[]),
    files=dict(type="list", elements="path", default=[]),
    lb_class=dict(type="str", default=""),
    namespace=dict(type="str", default="metallb-system"),
    service_cidrs=dict(type="list", elements="str", default=[]),
    gateways=dict(type="list", elements="str", default=[]),
    allow_node_ip_pools=dict(type="bool", default=False),
    members=dict(type="list", elements="str"),
    fail_on_invalid=dict(type="bool", default=True),
)


def manifest_paths(path: str) -> list[str]:
    """A file stands for itself, a directory for its manifest files in name order (kubectl -f DIR)."""
    if os.path.isdir(path):
        names = sorted(name for name in os.listdir(path) if name.endswith(MANIFEST_SUFFIXES))
        return [os.path.join(path, name) for name in names if os.path.isfile(os.path.join(path, name))]
    return [path]


def read_objects(paths: list[str]) -> tuple[list[dict], list[str]]:
    """Load every manifest; each unreadable or malformed file is one error naming the file."""
    objects: list[dict] = []
    errors: list[str] = []
    for path in paths:
        if not os.path.exists(path):
            errors.append("%s: no such file or directory" % path)
            continue
        for file_path in manifest_paths(path):
            try:
                with open(file_path, "rb") as handle:
                    data = handle.read()
                objects.extend(manifests.load_objects(manifests.decode_text(data, file_path), source=file_path))
            except OSError as exc:
                errors.append("%s: %s" % (file_path, getattr(exc, "strerror", None) or exc))
            except manifests.ManifestError as exc:  # its message names the file and document
                errors.append(str(exc))
    return objects, errors


def run(runner: ModuleRunner) -> dict:
    params = runner.params
    if params["files"]:
        runner.require("yaml")
    objects, file_errors = read_objects(params["files"])
    if file_errors:
        raise ModuleFailure("Cannot read manifests: %s" % "; ".join(file_errors), errors=file_errors)
    runner.module.no_log_values.update(bgp_passwords(objects))
    objects = list(params["objects"]) + objects

    options = {} if params["members"] is None else {"members": params["members"]}
    result = planner.plan(
        objects,
        lb_class=params["lb_class"],
        namespace=params["namespace"],
        service_cidrs=params["service_cidrs"],
        gateways=params["gateways"],
        allow_node_ip_pools=params["allow_node_ip_pools"],
        **options,
    )
    output = dict(
        changed=False,
        services=result["services"],
        pools=result["pools"],
        announcements=result.get("announcements", {}),
        errors=list(result["errors"]),
        config_warnings=list(result["warnings"]),
    )
    for warning in output["config_warnings"]:
        runner.module.warn(warning)
    if output["errors"] and params["fail_on_invalid"]:
        raise config_failure(output["errors"], "", **output)
    return output


def main() -> None:
    # no_log here only defers the invocation log line until the BGP passwords in the objects are
    # known: they are then masked in it, in the result and in -vvv output
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True, no_log=True)
    module.no_log_values.update(bgp_passwords(module.params["objects"]))
    module.no_log = False
    module._log_invocation()  # pylint: disable=protected-access
    ModuleRunner(module, requires=("netaddr",), failure_defaults=dict(errors=[])).run(run)


if __name__ == "__main__":
    main()
