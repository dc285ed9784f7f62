#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.kube_proxy: ipvs.strictARP in kube-proxy's ConfigMap, so layer-2 VIPs answer from one node."""

from __future__ import annotations

DOCUMENTATION = r"""
module: kube_proxy
short_description: Turn on kube-proxy's strictARP when it runs in IPVS mode
version_added: 0.1.0
description:
  - kube-proxy in IPVS mode puts every LoadBalancer IP on the C(kube-ipvs0) interface of every node. With
    the kernel's default ARP settings every node then answers ARP requests for every VIP, and a layer-2
    load balancer cannot decide which node receives the traffic. kube-proxy's C(ipvs.strictARP) setting
    stops that (C(arp_ignore=1), C(arp_announce=2)); MetalLB documents it as required in IPVS mode.
  - Reads the C(config.conf) entry (O(config_entry)) of the C(kube-proxy) ConfigMap
    (O(kube_proxy_namespace)/O(configmap)) through the API. Only when its C(mode) is C(ipvs) it sets
    C(ipvs.strictARP) to C(true). Any other mode (C(iptables), C(nftables), unset) is left alone and
    RV(msg) says that strictARP does not apply.
  - The edit is a targeted text edit of the one C(strictARP) value (or one inserted line); every other
    byte of C(config.conf) stays, comments and key order included. The result is parsed again and
    compared with the original; a C(config.conf) that is not parseable YAML, or an edit that would
    change anything else (YAML anchors shared with other keys), makes the task fail and writes nothing.
  - The ConfigMap is written with the C(resourceVersion) it was read at, so a concurrent edit makes the
    task fail instead of being overwritten.
  - When, and only when, the ConfigMap changed, the kube-proxy pods (O(pod_selector)) are deleted so that
    their DaemonSet starts new ones that read it (O(restart_pods)).
  - C(kubeadm) re-renders this ConfigMap when it upgrades the cluster or re-runs its kube-proxy addon
    phase; the task warns to make the setting stick in the KubeProxyConfiguration of the kubeadm
    configuration (C(ipvs.strictARP) set to C(true)) or, with Kubespray, C(kube_proxy_strict_arp=true).
  - O(namespace) (metal.lb's own namespace) is not used by this module.
author:
  - metal.lb contributors (@metal-lb)
requirements:
  - kubernetes >= 29.0.0
  - PyYAML
extends_documentation_fragment:
  - metal.lb.kube_auth
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Computes the edit, sends it to the API server as a dry run, lists the pods it would restart,
      and writes and deletes nothing.
  diff_mode:
    support: full
    details: C(config.conf) before and after.
  platform:
    platforms: posix
options:
  kube_proxy_namespace:
    description: Namespace of kube-proxy's ConfigMap and pods.
    type: str
    default: kube-system
  configmap:
    description: Name of kube-proxy's ConfigMap (kubeadm and Kubespray name it C(kube-proxy)).
    type: str
    default: kube-proxy
  config_entry:
    description: The entry (data key) of the ConfigMap that holds the C(KubeProxyConfiguration).
    type: str
    default: config.conf
  pod_selector:
    description:
      - Label selector of the kube-proxy pods, deleted (and so restarted by their DaemonSet) after a change.
      - kubeadm and Kubespray label them C(k8s-app=kube-proxy).
    type: str
    default: k8s-app=kube-proxy
  restart_pods:
    description:
      - Whether to delete the kube-proxy pods after the ConfigMap changed. kube-proxy reads its
        configuration only when it starts.
    type: bool
    default: true
  allow_missing:
    description:
      - Without the ConfigMap the task fails (kube-proxy is configured some other way, for example by K3s
        flags, or replaced by Cilium). With V(true) a missing ConfigMap is reported in RV(msg) and the task
        succeeds without change.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Turn on strictARP when kube-proxy runs in IPVS mode
  metal.lb.kube_proxy:
    kubeconfig: /etc/kubernetes/admin.conf

- name: See what would change first
  metal.lb.kube_proxy:
    kubeconfig: /etc/kubernetes/admin.conf
  check_mode: true
  diff: true

- name: Clusters whose kube-proxy pods carry another label, restarted by hand later
  metal.lb.kube_proxy:
    pod_selector: app=kube-proxy
    restart_pods: false
"""

RETURN = r"""
msg:
  description: What was found and done, in one sentence.
  returned: always
  type: str
  sample: "kube-proxy mode is ipvs: strictARP set to true"
mode:
  description: kube-proxy's C(mode) as written in C(config.conf) (empty means the default, iptables).
  returned: success
  type: str
  sample: ipvs
applies:
  description: Whether strictARP applies (the mode is C(ipvs)).
  returned: success
  type: bool
  sample: true
strict_arp:
  description: C(ipvs.strictARP) afterwards (in check mode, what it would be).
  returned: success
  type: bool
  sample: true
configmap:
  description: The ConfigMap read, C(namespace/name).
  returned: always
  type: str
  sample: kube-system/kube-proxy
restarted_pods:
  description:
    - The kube-proxy pods deleted after the change (in check mode, the ones that would be). Empty when
      nothing changed or O(restart_pods=false).
  returned: success
  type: list
  elements: str
  sample: [kube-proxy-7xk2p, kube-proxy-q9dfl]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import HAS_KUBERNETES, KubeConfigError
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.kube_proxy_configmap import (
    delete_pods,
    pods_matching,
    read_configmap,
    write_configmap_key,
)
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import (
    api_client_from_params,
    argument_spec,
    describe_api_error,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.strict_arp import (
    HAS_YAML,
    StrictArpError,
    ensure_strict_arp,
)

ARGUMENT_SPEC = argument_spec(
    kube_proxy_namespace=dict(type="str", default="kube-system"),
    configmap=dict(type="str", default="kube-proxy"),
    config_entry=dict(type="str", default="config.conf"),
    pod_selector=dict(type="str", default="k8s-app=kube-proxy"),
    restart_pods=dict(type="bool", default=True),
    allow_missing=dict(type="bool", default=False),
)

STICK_WARNING = (
    "ConfigMap %s was edited in place. kubeadm re-renders it when it upgrades the cluster or re-runs its "
    "kube-proxy addon phase, which can drop strictARP: make it stick in the KubeProxyConfiguration of "
    "the kubeadm configuration (ipvs: {strictARP: true}); with Kubespray, set kube_proxy_strict_arp: true "
    "in the inventory."
)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    where = "%s/%s" % (params["kube_proxy_namespace"], params["configmap"])
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), configmap=where)
    if not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), configmap=where)
    try:
        api_client = api_client_from_params(params)
    except KubeConfigError as exc:
        module.fail_json(msg=str(exc), configmap=where)
    try:
        run(module, api_client, where)
    finally:
        api_client.close()


def run(module: AnsibleModule, api_client, where: str) -> None:
    params = module.params
    namespace, name, key = params["kube_proxy_namespace"], params["configmap"], params["config_entry"]
    try:
        configmap = read_configmap(api_client, namespace, name)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # API and network errors alike
        module.fail_json(msg="Cannot read ConfigMap %s: %s" % (where, describe_api_error(exc)), configmap=where,
                         exception=traceback.format_exc())
    if configmap is None:
        msg = ("ConfigMap %s does not exist: kube-proxy is not configured by kubeadm here (K3s flags, or "
               "kube-proxy replaced by the CNI?); strictARP must be set where kube-proxy is configured" % where)
        if params["allow_missing"]:
            module.exit_json(changed=False, msg=msg, configmap=where, mode="", applies=False, strict_arp=False,
                             restarted_pods=[])
        module.fail_json(msg=msg, configmap=where)
    data = configmap.get("data") or {}
    if key not in data:
        keys = ", ".join(sorted(data)) or "none"
        module.fail_json(msg="ConfigMap %s: data.%s: missing (keys: %s)" % (where, key, keys), configmap=where)
    before = data[key]
    try:
        result = ensure_strict_arp(before)
    except StrictArpError as exc:
        module.fail_json(msg="ConfigMap %s: data.%s: %s; nothing written" % (where, key, exc), configmap=where)
    restarted: list[str] = []
    if result.changed:
        try:
            write_configmap_key(api_client, namespace, name, key, result.text,
                                configmap["metadata"]["resourceVersion"], dry_run=module.check_mode)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            module.fail_json(msg="Writing ConfigMap %s failed, nothing written: %s" % (where, describe_api_error(exc)),
                             configmap=where, exception=traceback.format_exc())
        module.warn(STICK_WARNING % where)
        if params["restart_pods"]:
            try:
                pods = pods_matching(api_client, namespace, params["pod_selector"])
                restarted = pods if module.check_mode else delete_pods(api_client, namespace, pods)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                module.fail_json(msg="ConfigMap %s was changed, but restarting the kube-proxy pods (%s) failed: %s; "
                                     "delete them by hand" % (where, params["pod_selector"], describe_api_error(exc)),
                                 changed=True, configmap=where, exception=traceback.format_exc())
            if not pods:
                module.warn("No pod in %s matches %s: restart kube-proxy by hand so that it reads strictARP"
                            % (namespace, params["pod_selector"]))
    output = dict(changed=result.changed, msg=result.message, configmap=where, mode=result.mode,
                  applies=result.applies, strict_arp=result.strict_arp, restarted_pods=restarted)
    if module._diff:
        label = "ConfigMap %s data.%s" % (where, key)
        output["diff"] = {"before": before, "after": result.text, "before_header": label, "after_header": label}
    module.exit_json(**output)


if __name__ == "__main__":
    main()
