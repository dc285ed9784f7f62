#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.cluster_objects: server-side apply (or delete) the objects that install metal.lb in a cluster."""

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_objects
short_description: Apply or delete the Kubernetes objects that install metal.lb
version_added: 0.1.0
description:
  - Applies the objects in O(resources) with server-side apply (field manager O(field_manager)), in the
    order given, or deletes them in reverse order with O(state=absent). This is how the role
    metal.lb.crds installs the namespace, the CRDs, the RBAC objects and the webhook registration.
  - Server-side apply merges per field and per manager, so fields other managers own are kept, for
    example the CA bundle the controller writes into its webhook registrations.
  - An object counts as changed only when the API server stores a change (its C(resourceVersion)
    moves), so a second run reports C(changed=false).
  - The kinds it knows are the ones metal.lb installs, Namespace, ServiceAccount, Service, Endpoints,
    Secret, ConfigMap, CustomResourceDefinition, ClusterRole, ClusterRoleBinding, Role, RoleBinding,
    ValidatingWebhookConfiguration, EndpointSlice and Lease.
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - kubernetes >= 29.0.0
extends_documentation_fragment:
  - metal.lb.kube_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Every apply and delete is sent as a server-side dry run (C(dryRun=All)); the API server
      validates it and stores nothing.
  diff_mode:
    support: full
    details: One before/after entry per object created, changed or deleted (without server-maintained
      metadata and status).
  platform:
    platforms: posix
options:
  resources:
    description:
      - The objects, as dictionaries with C(apiVersion), C(kind) and C(metadata.name).
      - A namespaced object without C(metadata.namespace) is placed in O(namespace).
    type: list
    elements: dict
    required: true
  state:
    description:
      - V(present) applies the objects; V(absent) deletes those that exist, last first.
    type: str
    choices: [present, absent]
    default: present
  field_manager:
    description: The server-side apply field manager.
    type: str
    default: metal.lb
  force_conflicts:
    description:
      - Take over fields another manager owns when their values differ (C(kubectl apply --server-side
        --force-conflicts)). With V(false) such a conflict fails the task and names the fields.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait, after applying, until every C(CustomResourceDefinition) among O(resources) is
        Established, so that the next task can create its objects. V(0) does not wait.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: Install the CRDs, namespace and RBAC the collection ships
  metal.lb.cluster_objects:
    kubeconfig: /etc/kubernetes/admin.conf
    resources: "{{ lookup('ansible.builtin.file', 'metal-lb.yaml') | ansible.builtin.from_yaml_all | list }}"

- name: Remove them again
  metal.lb.cluster_objects:
    resources: "{{ metal_lb_objects }}"
    state: absent
"""

RETURN = r"""
objects:
  description: What happened to every object, in the order processed.
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: CustomResourceDefinition, name: ipaddresspools.metallb.io, namespace: null, action: unchanged}
    - {kind: ServiceAccount, name: speaker, namespace: metallb-system, action: created}
  contains:
    kind:
      description: The object's kind.
      type: str
    name:
      description: Its name.
      type: str
    namespace:
      description: Its namespace, V(null) for a cluster-scoped object.
      type: str
    action:
      description: V(created), V(updated), V(unchanged), V(deleted) or V(absent) (there was nothing to delete).
      type: str
not_established:
  description: CRDs that did not become Established within O(wait_timeout) (the task fails then).
  returned: failure
  type: list
  elements: str
"""

import copy

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import argument_spec
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.server_side_apply import (
    FIELD_MANAGER,
    apply_object,
    delete_object,
    wait_established,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.install.apply_outcome import (
    ABSENT,
    UNCHANGED,
    shown,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.install.kinds import (
    KINDS,
    KindError,
    describe,
    object_path,
    split_api_version,
)
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import ModuleFailure, ModuleRunner

ARGUMENT_SPEC = argument_spec(
    resources=dict(type="list", elements="dict", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    field_manager=dict(type="str", default=FIELD_MANAGER),
    force_conflicts=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=60),
)


def placed(resources: list[dict], namespace: str) -> list[dict]:
    """The objects with a namespaced object's missing namespace filled in; KindError names a bad one."""
    out = []
    for index, obj in enumerate(resources):
        obj = copy.deepcopy(obj)
        try:
            group, _version = split_api_version(str(obj.get("apiVersion") or ""))
            kind = KINDS.get((group, obj.get("kind")))
            meta = obj.get("metadata")
            if kind is not None and kind.namespaced and isinstance(meta, dict) and not meta.get("namespace"):
                meta["namespace"] = namespace
            object_path(obj)
        except KindError as exc:
            raise ModuleFailure("resources[%d]: %s; nothing written" % (index, exc)) from None
        out.append(obj)
    return out


def entry(obj: dict, action: str) -> dict:
    meta = obj["metadata"]
    return {"kind": obj["kind"], "name": meta["name"], "namespace": meta.get("namespace"), "action": action}


def run(runner: ModuleRunner) -> dict:
    params = runner.params
    objects = placed(params["resources"], params["namespace"])
    done: list[dict] = []
    diff: list[dict] = []
    present = params["state"] == "present"
    for obj in objects if present else list(reversed(objects)):
        what = describe(obj)
        with runner.api_step("%s %s" % ("Applying" if present else "Deleting", what), objects=done,
                             changed=any(d["action"] not in (UNCHANGED, ABSENT) for d in done)):
            if present:
                action, before, after = apply_object(runner.client, obj, field_manager=params["field_manager"],
                                                     force=params["force_conflicts"], dry_run=runner.check_mode)
            else:
                action, before = delete_object(runner.client, obj, dry_run=runner.check_mode)
                after = None
        done.append(entry(obj, action))
        if action not in (UNCHANGED, ABSENT):
            diff.append({"before_header": what, "after_header": what, "before": shown(before),
                         "after": shown(after)})
    changed = bool(diff)
    crds = [o for o in objects if o["kind"] == "CustomResourceDefinition"]
    if present and crds and params["wait_timeout"] > 0 and not runner.check_mode:
        with runner.api_step("Waiting for the CRDs", objects=done, changed=changed):
            waiting = wait_established(runner.client, crds, float(params["wait_timeout"]))
        if waiting:
            raise ModuleFailure("CRDs not Established within %d s: %s" % (params["wait_timeout"], ", ".join(waiting)),
                                objects=done, changed=changed, not_established=waiting)
    output = dict(changed=changed, objects=done)
    if runner.module._diff:
        output["diff"] = diff
    return output


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ModuleRunner(module, requires=("kubernetes",)).run(run)


if __name__ == "__main__":
    main()
