# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metal.lb.webhook_registration and metal.lb.config_objects: template inputs to the engine, one error each."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.metal.lb.plugins.filter.config_objects import config_objects
from ansible_collections.metal.lb.plugins.filter.webhook_registration import webhook_registration


def test_webhook_registration_takes_survey_strings():
    out = webhook_registration([], addresses="198.51.100.11, 198.51.100.12", port="9443")
    endpoints = next(o for o in out if o["kind"] == "Endpoints")
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == ["198.51.100.11", "198.51.100.12"]


@pytest.mark.parametrize("objects, kwargs, fragment", [
    ("text", {}, "expected a list of objects, got str"),
    ([], {"addresses": ["198.51.100.11"], "port": "https"}, "port 'https': must be 1-65535"),
    ([], {"addresses": []}, "needs the controller hosts' addresses"),
    ([], {"mode": "url", "url": "ftp://x"}, "must be https://HOST:PORT"),
])
def test_webhook_registration_errors_name_the_input(objects, kwargs, fragment):
    with pytest.raises(AnsibleFilterError, match="webhook_registration: .*" + fragment.replace(".", r"\.")):
        webhook_registration(objects, **kwargs)


def test_config_objects_are_what_the_module_writes_from_flat_and_full_inputs():
    out = config_objects({"pool_name": "production", "pool_addresses": "198.51.100.10-198.51.100.20 203.0.113.0/28",
                          "pool_interfaces": "eth0,eth1",
                          "resources": [{"kind": "IPAddressPool", "metadata": {"name": "extra"},
                                         "spec": {"addresses": ["203.0.113.64/28"]}}],
                          "kubeconfig": "/ignored", "prune": True})
    kinds = [(o["kind"], o["metadata"]["name"]) for o in out]
    assert kinds == [("IPAddressPool", "extra"), ("IPAddressPool", "production"), ("L2Advertisement", "production")]
    production = out[1]
    assert production["spec"] == {"addresses": ["198.51.100.10-198.51.100.20", "203.0.113.0/28"]}
    assert out[2]["spec"] == {"ipAddressPools": ["production"], "interfaces": ["eth0", "eth1"]}
    assert all(o["metadata"]["namespace"] == "metallb-system" and o["apiVersion"] == "metallb.io/v1beta1"
               and o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "metal.lb" for o in out)


def test_config_objects_keeps_optional_pool_fields_unset_unless_given():
    out = config_objects({"pools": [{"name": "a", "addresses": ["198.51.100.0/28"]},
                                    {"name": "b", "addresses": ["203.0.113.0/28"], "auto_assign": False}],
                          "l2_all_pools": True})
    assert out[0]["spec"] == {"addresses": ["198.51.100.0/28"]}
    assert out[1]["spec"] == {"addresses": ["203.0.113.0/28"], "autoAssign": False}
    assert out[2]["kind"] == "L2Advertisement" and out[2]["spec"] == {}


@pytest.mark.parametrize("options, fragment", [
    ("pool", "expected the options of metal.lb.config"),
    ({"pool_nam": "x"}, "unknown option\\(s\\) pool_nam"),
    ({"resources": [{"kind": "Service", "metadata": {"name": "x"}}]}, "Service x: kind: must be one of"),
])
def test_config_objects_errors_name_the_object(options, fragment):
    with pytest.raises(AnsibleFilterError, match="config_objects: .*" + fragment):
        config_objects(options)
