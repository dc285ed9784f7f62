#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.lb_info: read-only facts about load balancer services, pools and the configuration."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_info
short_description: Report metal.lb load balancer services, pool usage and configuration validity
version_added: 0.1.0
description:
  - Reads the cluster once and reports every C(LoadBalancer) Service with its IPs, pool, state and, for a
    pending Service, why it has no IP (the controller's own reason, for example its C(AllocationFailed)
    message).
  - Reports the usage of every pool and whether the running configuration is valid, as the running
    controller reports it in its C(ConfigurationState) object named C(controller) in O(namespace). When no
    controller has reported yet, the metal.lb engine checks the C(metallb.io) objects of O(namespace)
    instead (RV(config_validated_by) says which). Every error of the objects as they are now is listed in
    RV(config_errors), naming the object and field.
  - The reasons and the pool usage come from the metal.lb planner, which runs the controller's code on
    the snapshot; C(bin/metal-lb status) prints the same facts as tables (same function).
  - Read-only; never changes anything.
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
    details: The module only reads, so check mode returns the same result.
  diff_mode:
    support: none
    details: The module never changes anything, so there is never a difference to show.
  platform:
    platforms: posix
options:
  lb_class:
    description:
      - The load balancer class the controller handles (MetalLB's C(--lb-class)).
      - Empty means Services without C(spec.loadBalancerClass). Services of another class are reported
        with state C(ignored).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Read the load balancer state
  metal.lb.lb_info:
    kubeconfig: /etc/kubernetes/admin.conf
  register: lb

- name: Fail when a service waits for an IP
  ansible.builtin.assert:
    that: lb.counts.pending == 0
    fail_msg: >-
      {{ lb.services | dict2items | selectattr('value.state', 'eq', 'pending')
         | map(attribute='value.reason') | join('; ') }}

- name: Warn about a pool that is nearly full
  ansible.builtin.debug:
    msg: "Pool {{ item.key }} has {{ item.value.available.ipv4 }} IPv4 addresses left"
  loop: "{{ lb.pools | dict2items }}"
  when: item.value.available.ipv4 < 5

- name: Use an AWX Kubernetes credential (K8S_AUTH_* environment) and a class
  metal.lb.lb_info:
    lb_class: metal.lb/bare-metal
"""

RETURN = r"""
services:
  description: Every C(LoadBalancer) Service of the cluster, keyed C(namespace/name).
  returned: success
  type: dict
  sample:
    default/web:
      namespace: default
      name: web
      lb_class: null
      ips: [198.51.100.10]
      pool: production
      state: assigned
      reason: null
      planned_ips: [198.51.100.10]
  contains:
    namespace:
      description: The Service's namespace.
      type: str
    name:
      description: The Service's name.
      type: str
    lb_class:
      description: Its C(spec.loadBalancerClass) (null when unset).
      type: str
    ips:
      description: The addresses in its C(status.loadBalancer.ingress) now.
      type: list
      elements: str
    pool:
      description: The pool of its C(metallb.io/ip-allocated-from-pool) annotation (null when none).
      type: str
    state:
      description:
        - V(assigned) (it has IPs), V(pending) (handled by this installation but without IP) or V(ignored)
          (another load balancer class).
      type: str
    reason:
      description: For a pending Service, why it has no IP; null otherwise.
      type: str
    planned_ips:
      description: The IPs the controller would give it from this snapshot (empty when none).
      type: list
      elements: str
pools:
  description:
    - Per pool (keyed by name), its capacity and how many addresses are in use (held in Service statuses
      now) and available, per family.
  returned: success
  type: dict
  sample:
    production:
      capacity: {ipv4: 11, ipv6: 0}
      in_use: {ipv4: 1, ipv6: 0}
      available: {ipv4: 10, ipv6: 0}
  contains:
    capacity:
      description: Addresses in the pool, per family (C(ipv4), C(ipv6)).
      type: dict
    in_use:
      description: Addresses of the pool held by Services now, per family.
      type: dict
    available:
      description: Addresses of the pool still free, per family.
      type: dict
config_valid:
  description:
    - Whether the running configuration is valid. The running controller's verdict (its
      C(ConfigurationState) C(controller)) when it has reported one, else the engine's verdict on the
      pools of O(namespace) now (see RV(config_validated_by)); problems elsewhere are in RV(config_errors).
  returned: success
  type: bool
  sample: true
config_validated_by:
  description: V(controller) (the running controller's C(ConfigurationState)) or V(engine) (no controller has
    reported; the objects were checked by the metal.lb engine).
  returned: success
  type: str
  sample: controller
controller_state:
  description: The running controller's C(ConfigurationState) C(controller); null when there is none.
  returned: success
  type: dict
  sample:
    result: Valid
    valid: true
    error_summary: ""
    last_transition_time: "2026-01-01T00:00:00Z"
  contains:
    result:
      description: V(Valid) or V(Invalid), as the controller wrote it.
      type: str
    valid:
      description: RV(controller_state.result) is V(Valid).
      type: bool
    error_summary:
      description: The controller's errors (empty when valid).
      type: str
    last_transition_time:
      description: When the controller's verdict last changed.
      type: str
config_errors:
  description:
    - Every error of the C(metallb.io) objects as they are now, one message each naming the object and field.
    - The controller allocates from the pools alone, so only RV(allocation_errors) stop it; the others are for
      the speakers, which keep running on their last valid configuration while there are errors.
  returned: success
  type: list
  elements: str
  sample: []
allocation_errors:
  description:
    - The errors of RV(config_errors) in what the controller allocates from (the pools). While there are any,
      the controller keeps its last valid pools and pending Services wait.
  returned: success
  type: list
  elements: str
  sample: []
config_warnings:
  description: Things that are valid but probably not what was meant.
  returned: success
  type: list
  elements: str
  sample: []
counts:
  description: Numbers of LoadBalancer services per state, and of pools.
  returned: success
  type: dict
  sample: {services: 3, assigned: 2, pending: 1, ignored: 0, pools: 1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import argument_spec
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import ModuleRunner
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.report_reads import read_report

ARGUMENT_SPEC = argument_spec(lb_class=dict(type="str", default=""))


def run(runner: ModuleRunner) -> dict:
    with runner.api_step("Cannot read the cluster"):
        report = read_report(runner.client, runner.params["namespace"], runner.params["lb_class"])
    return dict(changed=False, **report)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ModuleRunner(module, requires=("kubernetes", "netaddr")).run(run)


if __name__ == "__main__":
    main()
