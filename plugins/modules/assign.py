#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.assign: one reconcile pass of the controller, run as a task (same engine, same writer)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: assign
short_description: Assign load balancer IPs to Services in one controller pass
version_added: 0.1.0
description:
  - Runs one full reconcile pass of the metal.lb controller as a task, with the controller's own code
    (configuration parser, allocator, per-Service convergence, status writer and Events).
  - Reads the C(metallb.io) configuration of O(namespace), Namespaces, Nodes and every Service; every
    IP already in a Service status is claimed again before anything new is allocated, so no assigned
    Service moves; then pending Services get IPs.
  - Writes C(status.loadBalancer.ingress) and the C(metallb.io/ip-allocated-from-pool) annotation of every
    Service whose decision differs from what it has, and records the Kubernetes Events the controller
    would (component C(metallb-controller)).
  - Every write carries the C(resourceVersion) the decision was made from. If a running controller (or
    anyone) changed the Service in the meantime, the API answers 409; the module then reads the cluster
    again and decides again (at most 5 passes), so it never overwrites a newer assignment and is safe to
    run beside a running controller.
  - Fails without writing anything when the configuration is invalid, listing every error.
  - For operators who drive assignment from a playbook, and for repair.
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
    details: Reports which Services would change (RV(changed_services)) and which stay pending, without
      writing statuses or Events.
  diff_mode:
    support: full
    details: Shows the IPs and pool of every Service that changes, before and after.
  platform:
    platforms: posix
options:
  lb_class:
    description:
      - The load balancer class to handle (MetalLB's C(--lb-class)).
      - Empty means Services without C(spec.loadBalancerClass); Services of another class are never touched.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Assign IPs to pending services
  metal.lb.assign:
    kubeconfig: /etc/kubernetes/admin.conf
  register: assigned

- name: Show what changed
  ansible.builtin.debug:
    msg: "{{ item.service }}: {{ item.old_ips }} -> {{ item.new_ips }} ({{ item.new_pool }})"
  loop: "{{ assigned.changed_services }}"

- name: Only report what a pass would do, for the services of one class
  metal.lb.assign:
    lb_class: metal.lb/bare-metal
  check_mode: true
  register: would

- name: Fail if services stay without IP
  ansible.builtin.assert:
    that: would.pending | length == 0
    fail_msg: "{{ would.pending | map(attribute='reason') | join('; ') }}"
"""

RETURN = r"""
changed_services:
  description: Every Service whose status or pool annotation was (in check mode, would be) written.
  returned: success
  type: list
  elements: dict
  sample:
    - service: default/web
      old_ips: []
      new_ips: [198.51.100.10]
      old_pool: null
      new_pool: production
      events:
        - {type: Normal, reason: IPAllocated, message: 'Assigned IP ["198.51.100.10"]'}
  contains:
    service:
      description: C(namespace/name) of the Service.
      type: str
    old_ips:
      description: The IPs of its status before.
      type: list
      elements: str
    new_ips:
      description: The IPs of its status after (empty when it loses them).
      type: list
      elements: str
    old_pool:
      description: Its pool annotation before (null when none).
      type: str
    new_pool:
      description: Its pool annotation after (null when none).
      type: str
    events:
      description: The Events recorded (in check mode, that would be) for the Service.
      type: list
      elements: dict
pending:
  description: Every Service this installation handles that has no IP after the pass, and why.
  returned: success
  type: list
  elements: dict
  sample:
    - service: default/db
      reason: 'Failed to allocate IP for "default/db": no available IPs'
  contains:
    service:
      description: C(namespace/name) of the Service.
      type: str
    reason:
      description: The controller's reason (the message of its last Warning event), or a summary.
      type: str
passes:
  description: How many times the cluster was read and decided (more than 1 when a Service changed meanwhile).
  returned: success
  type: int
  sample: 1
config_errors:
  description: Configuration errors (the module fails when there are any, and writes nothing).
  returned: always
  type: list
  elements: str
  sample: []
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.engine.controller_pass import decide
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import k8s_client
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import (
    argument_spec,
    describe_api_error,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.snapshot import cluster_objects
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.writer import (
    EventRecorder,
    ServiceWriter,
    StaleDecision,
)
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import (
    ModuleFailure,
    ModuleRunner,
    config_failure,
)

ARGUMENT_SPEC = argument_spec(lb_class=dict(type="str", default=""))
COMPONENT = "metallb-controller"
INSTANCE = "metal.lb.assign"
MAX_PASSES = 5


def change_entry(result) -> dict:
    facts = result.facts
    return {"service": result.key, "old_ips": list(facts.ingress) if facts else [], "new_ips": list(result.ips),
            "old_pool": facts.pool_annotation if facts else None, "new_pool": result.pool,
            "events": [e.as_dict() for e in result.events]}


def diff_of(entries: list[dict]) -> dict:
    return {"before": {e["service"]: {"ips": e["old_ips"], "pool": e["old_pool"]} for e in entries},
            "after": {e["service"]: {"ips": e["new_ips"], "pool": e["new_pool"]} for e in entries}}


def write_pass(writer: ServiceWriter, recorder: EventRecorder, decision: dict, written: dict) -> None:
    """Write every changed Service of ``decision`` (recording its Events); raises StaleDecision."""
    for result, svc in decision["changed"]:
        if writer.write(svc, result.ips, result.pool) is None:
            continue  # deleted meanwhile: nothing to write, nothing to report
        written[result.key] = change_entry(result)
        for event in result.events:  # best effort, like the controller: never fails the task
            recorder.record(svc, event.type, event.reason, event.message)


class Assign:
    """One task run: read, decide, write; again from a fresh read when a Service changed meanwhile."""

    def __init__(self, runner: ModuleRunner) -> None:
        self.runner = runner
        self.params = runner.params

    def decide_now(self, written: int = 0) -> dict:
        with self.runner.api_step("Cannot read the cluster"):
            objects = cluster_objects(self.runner.client, self.params["namespace"])
        decision = decide(objects, self.params["namespace"], self.params["lb_class"])
        if decision["errors"]:
            done = "nothing written" if not written else "stopped after %d service(s) written" % written
            raise config_failure(decision["errors"], done, config_errors=decision["errors"], changed=bool(written),
                                 changed_services=[], pending=[])
        return decision

    def run(self) -> dict:
        decision = self.decide_now()
        for warning in decision["warnings"]:
            self.runner.module.warn(warning)
        if self.runner.check_mode:
            entries = [change_entry(result) for result, _svc in decision["changed"]]
            return dict(changed=bool(entries), changed_services=entries, pending=decision["pending"],
                        config_errors=[], passes=1)
        core = k8s_client.CoreV1Api(self.runner.client)
        writer = ServiceWriter(core, retries=1, reapply_on_conflict=False)
        recorder = EventRecorder(core, COMPONENT, INSTANCE, background=False)
        written: dict = {}
        passes = 0
        while True:
            passes += 1
            try:
                write_pass(writer, recorder, decision, written)
                break
            except StaleDecision as stale:
                if passes >= MAX_PASSES:
                    raise self.failure(written, decision, "Service %s kept changing during %d passes (another "
                                       "writer?); run the task again" % (stale, passes)) from None
                decision = self.decide_now(len(written))
            except Exception as exc:  # pylint: disable=broad-exception-caught  # API and network errors alike
                raise self.failure(written, decision, describe_api_error(exc),
                                   exception=traceback.format_exc()) from None
        for svc, events in decision["events"]:
            for event in events:
                recorder.record(svc, event.type, event.reason, event.message)
        entries = [written[key] for key in sorted(written)]
        return dict(changed=bool(entries), changed_services=entries, pending=decision["pending"],
                    config_errors=[], passes=passes)

    @staticmethod
    def partial(written: dict, decision: dict) -> dict:
        entries = [written[key] for key in sorted(written)]
        return dict(changed=bool(entries), changed_services=entries, pending=decision["pending"], config_errors=[])

    def failure(self, written: dict, decision: dict, why: str, **extra) -> ModuleFailure:
        return ModuleFailure("Writing service status failed after %d service(s) written: %s" % (len(written), why),
                             **self.partial(written, decision), **extra)


def run(runner: ModuleRunner) -> dict:
    output = Assign(runner).run()
    if runner.module._diff:
        output["diff"] = diff_of(output["changed_services"])
    return output


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ModuleRunner(module, requires=("kubernetes", "netaddr"), failure_defaults=dict(config_errors=[])).run(run)


if __name__ == "__main__":
    main()
