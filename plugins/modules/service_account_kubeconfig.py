#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.service_account_kubeconfig: a daemon's kubeconfig with a TokenRequest token, renewed only near expiry."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_account_kubeconfig
short_description: A kubeconfig for a metal.lb daemon, with its ServiceAccount's token
version_added: 0.1.0
description:
  - Returns the text of a kubeconfig that authenticates as the ServiceAccount O(service_account) of
    O(namespace) with a token from the TokenRequest API, for the daemons the roles metal.lb.controller
    and metal.lb.speaker install on hosts.
  - O(current) is the kubeconfig the host has now. It is kept (C(changed=false), RV(kubeconfig) empty)
    while it is one this module wrote for the same server, CA and ServiceAccount, the API server still
    accepts its token (TokenReview), and the token is valid for more than O(renew_before) seconds.
    Otherwise a new token is requested, returned in a new RV(kubeconfig), and C(changed=true).
  - TokenRequest rather than a Secret of type C(kubernetes.io/service-account-token), which only a
    controller-manager's token controller fills in and whose token never expires. Deleting the
    ServiceAccount revokes the token at once.
  - The returned RV(kubeconfig) holds a credential; give the task C(no_log=true).
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
    details: Decides whether a new token is needed and requests none; RV(kubeconfig) is then empty.
  diff_mode:
    support: none
    details: The kubeconfig is a credential; RV(reason) says why it is renewed.
  platform:
    platforms: posix
options:
  service_account:
    description: The ServiceAccount in O(namespace) (metal.lb's are C(controller) and C(speaker)).
    type: str
    required: true
  current:
    description: The kubeconfig the host has now; empty when it has none.
    type: str
    default: ""
  server:
    description:
      - The API server URL the daemon uses. Empty means the URL this module reaches the API server at.
    type: str
    default: ""
  duration:
    description:
      - Seconds a new token is valid (the API server may shorten it to its
        C(--service-account-max-token-expiration)).
    type: int
    default: 31536000
  renew_before:
    description: Seconds before its expiry a token is renewed.
    type: int
    default: 2592000
"""

EXAMPLES = r"""
- name: Read the speaker's kubeconfig on the node
  ansible.builtin.slurp:
    src: /etc/metal-lb/speaker.kubeconfig
  register: current
  failed_when: false
  no_log: true

- name: Renew it when it is near its expiry
  metal.lb.service_account_kubeconfig:
    kubeconfig: /etc/kubernetes/admin.conf
    service_account: speaker
    server: https://198.51.100.2:6443
    current: "{{ current.content | default('') | b64decode }}"
  delegate_to: "{{ groups['kube_control_plane'][0] }}"
  register: speaker_kubeconfig
  no_log: true

- name: Write the new one
  ansible.builtin.copy:
    content: "{{ speaker_kubeconfig.kubeconfig }}"
    dest: /etc/metal-lb/speaker.kubeconfig
    mode: "0600"
  when: speaker_kubeconfig.renewed and speaker_kubeconfig.kubeconfig | length > 0
  no_log: true
"""

RETURN = r"""
kubeconfig:
  description:
    - The new kubeconfig text (a credential) when RV(renewed); empty when O(current) is kept, and in check mode.
  returned: success
  type: str
renewed:
  description: Whether a new token was requested (or would be, in check mode).
  returned: success
  type: bool
reason:
  description: Why the current kubeconfig is replaced; empty when it is kept.
  returned: success
  type: str
  sample: its token expires in 86000 s
expires:
  description: When the returned token expires (UTC, ISO 8601); empty when unknown.
  returned: success
  type: str
  sample: "2027-12-02T21:00:00+00:00"
"""

import datetime
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.module_auth import argument_spec
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.token_request import (
    client_server,
    request_token,
    service_account,
    token_accepted,
)
from ansible_collections.metal.lb.plugins.module_utils.engine.install.service_account_token import (
    kubeconfig_parts,
    kubeconfig_text,
    renewal_reason,
    token_claims,
)
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import ModuleFailure, ModuleRunner

ARGUMENT_SPEC = argument_spec(
    service_account=dict(type="str", required=True),
    current=dict(type="str", default="", no_log=True),
    server=dict(type="str", default=""),
    duration=dict(type="int", default=365 * 24 * 3600),
    renew_before=dict(type="int", default=30 * 24 * 3600),
)


def expiry_text(token: str) -> str:
    expires = (token_claims(token) or {}).get("exp")
    if isinstance(expires, bool) or not isinstance(expires, (int, float)):
        return ""
    return datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).isoformat()


def run(runner: ModuleRunner) -> dict:
    params = runner.params
    namespace, name = params["namespace"], params["service_account"]
    if params["duration"] < 600 or params["renew_before"] < 0 or params["renew_before"] >= params["duration"]:
        raise ModuleFailure("duration must be at least 600 s and renew_before between 0 and duration")
    with runner.api_step("Reading ServiceAccount %s/%s" % (namespace, name)):
        account = service_account(runner.client, namespace, name)
        own_server, ca_pem, insecure = client_server(runner.client)
    if account is None and not runner.check_mode:
        raise ModuleFailure("ServiceAccount %s/%s does not exist (the role metal.lb.crds creates it)"
                            % (namespace, name))
    server = params["server"] or own_server
    current = params["current"] or ""
    reason = renewal_reason(current, server=server, service_account=name, namespace=namespace, now=time.time(),
                            renew_before=params["renew_before"], ca_pem=ca_pem, insecure=insecure,
                            account_uid=((account or {}).get("metadata") or {}).get("uid"))
    if reason is None:
        with runner.api_step("Reviewing the current token of %s/%s" % (namespace, name)):
            if not token_accepted(runner.client, kubeconfig_parts(current)["token"]):
                reason = "the API server no longer accepts its token"
    if reason is None:
        return dict(changed=False, renewed=False, reason="", kubeconfig="",
                    expires=expiry_text(kubeconfig_parts(current)["token"]))
    if runner.check_mode:
        return dict(changed=True, renewed=True, reason=reason, kubeconfig="", expires="")
    with runner.api_step("Requesting a token for %s/%s" % (namespace, name)):
        status = request_token(runner.client, namespace, name, params["duration"])
    token = status.get("token") or ""
    if not token:
        raise ModuleFailure("The API server returned no token for %s/%s" % (namespace, name))
    return dict(changed=True, renewed=True, reason=reason, expires=expiry_text(token),
                kubeconfig=kubeconfig_text(server, token, ca_pem=ca_pem, insecure=insecure))


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    ModuleRunner(module, requires=("kubernetes",)).run(run)


if __name__ == "__main__":
    main()
