# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.webhook_registration: the shipped objects as a cluster registers the controller's webhooks
(documented in webhook_registration.yml)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.module_utils.engine.install import webhook_registration as engine
from ansible_collections.metal.lb.plugins.module_utils.engine.message_text import printable, type_name


def webhook_registration(objects: Any, mode: str = engine.SERVICE, url: str = "", addresses: Any = None,
                         port: Any = 9443, namespace: str = "metallb-system") -> list[dict]:
    if isinstance(objects, (str, bytes)) or not isinstance(objects, Sequence) or not all(
            isinstance(o, Mapping) for o in objects):
        raise AnsibleFilterError("webhook_registration: expected a list of objects, got %s" % type_name(objects))
    if addresses is None or addresses == "":
        addresses = []
    if isinstance(addresses, str):
        addresses = [a for a in addresses.replace(",", " ").split() if a]
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise AnsibleFilterError("webhook_registration: port %r: must be 1-65535" % (port,)) from None
    try:
        return engine.registration([dict(o) for o in objects], mode=mode, url=url, addresses=list(addresses),
                                   port=port, namespace=namespace)
    except engine.RegistrationError as exc:
        raise AnsibleFilterError("webhook_registration: %s" % printable(exc)) from None


class FilterModule:
    """Ansible filter plugin."""

    def filters(self) -> dict:
        return {"webhook_registration": webhook_registration}
