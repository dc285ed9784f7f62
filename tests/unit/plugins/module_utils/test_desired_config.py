# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""desired_config: what metal.lb.config writes, prunes and leaves alone, and what that does to Services."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine import desired_config as dc

NS = "metallb-system"


def pool(name: str, addresses: list[str], **extra) -> dict:
    return {"kind": "IPAddressPool", "metadata": {"name": name}, "spec": dict(addresses=addresses, **extra)}


def live(obj: dict, rv: str = "7", **spec_defaults) -> dict:
    """``obj`` as the API server stores it: resourceVersion and defaulted spec fields added."""
    stored = {key: (dict(value) if isinstance(value, dict) else value) for key, value in obj.items()}
    stored["metadata"] = dict(obj["metadata"], resourceVersion=rv, uid="u-" + obj["metadata"]["name"])
    stored["spec"] = dict(obj["spec"], **spec_defaults)
    return stored


def test_survey_entries_split_on_commas_blanks_and_new_lines():
    assert dc.split_entries(["198.51.100.0/28\n198.51.100.64-198.51.100.70", "eth0, eth1", ""]) == [
        "198.51.100.0/28", "198.51.100.64-198.51.100.70", "eth0", "eth1"]
    assert dc.split_entries(None) == []


def test_flat_options_become_metallb_objects_with_metallb_field_names():
    objects = dc.flat_resources(
        [{"name": "lan", "addresses": ["198.51.100.0/28"], "auto_assign": False, "avoid_buggy_ips": None}],
        [{"name": "lan", "pools": ["lan"], "interfaces": ["eth0"], "node_selectors": [{"rack": "a"}]}],
        True, NS)
    assert objects[0]["spec"] == {"addresses": ["198.51.100.0/28"], "autoAssign": False}
    assert objects[1]["spec"] == {"ipAddressPools": ["lan"], "interfaces": ["eth0"],
                                  "nodeSelectors": [{"matchLabels": {"rack": "a"}}]}
    assert objects[2]["metadata"]["name"] == dc.L2_ALL_POOLS_NAME and objects[2]["spec"] == {}
    assert {o["metadata"]["namespace"] for o in objects} == {NS}


def test_normalize_adds_version_namespace_label_and_drops_server_fields():
    [obj] = dc.normalize([{"kind": "BGPPeer", "metadata": {"name": "r", "resourceVersion": "3", "uid": "x"},
                           "spec": {"myASN": 1}, "status": {}}], NS)
    assert obj["apiVersion"] == "metallb.io/v1beta2"
    assert obj["metadata"]["namespace"] == NS
    assert obj["metadata"]["labels"] == {dc.MANAGED_BY_LABEL: dc.MANAGED_BY}
    assert set(obj["metadata"]) == {"name", "namespace", "labels", "annotations"}
    assert "status" not in obj


def test_normalize_names_every_bad_object_and_field_at_once():
    with pytest.raises(dc.DesiredConfigError) as err:
        dc.normalize([
            {"kind": "Service", "metadata": {"name": "web"}},
            {"kind": "IPAddressPool", "apiVersion": "v1", "metadata": {"name": "a"}},
            {"kind": "IPAddressPool", "metadata": {}},
            {"kind": "IPAddressPool", "metadata": {"name": "b", "namespace": "default"}},
            pool("c", []), pool("c", []),
        ], NS)
    problems = err.value.problems
    assert str(err.value) == "; ".join(problems)
    assert problems[0].startswith("Service web: kind: must be one of IPAddressPool")
    assert problems[1] == "IPAddressPool a: apiVersion: must be in group metallb.io, not 'v1'"
    assert problems[2] == "IPAddressPool resources[2]: metadata.name: required"
    assert problems[3].startswith("IPAddressPool b: metadata.namespace: is 'default'")
    assert problems[4] == "IPAddressPool c: metadata.name: listed more than once"
    assert len(problems) == 5


def test_an_object_with_server_defaults_is_unchanged_and_a_removed_field_is_an_update():
    [want] = dc.normalize([pool("p", ["198.51.100.0/28"], avoidBuggyIPs=True)], NS)
    stored = live(want, autoAssign=True)  # the CRD default added by the API server
    assert [a.verb for a in dc.plan_actions([stored], [want])] == [dc.UNCHANGED]
    [fewer] = dc.normalize([pool("p", ["198.51.100.0/28"])], NS)
    [action] = dc.plan_actions([stored], [fewer])
    assert action.verb == dc.UPDATE  # avoidBuggyIPs dropped: the last-applied annotation differs


def test_prune_deletes_only_labelled_objects_that_are_not_listed():
    [a, b] = dc.normalize([pool("a", ["198.51.100.0/28"]), pool("b", ["198.51.100.32/28"])], NS)
    handmade = live({"kind": "IPAddressPool", "metadata": {"name": "handmade", "namespace": NS},
                     "spec": {"addresses": ["203.0.113.0/28"]}})
    current = [live(a), live(b), handmade]
    actions = dc.plan_actions(current, [a])
    assert [(x.verb, x.name) for x in actions] == [(dc.UNCHANGED, "a"), (dc.DELETE, "b")]
    assert [(x.verb, x.name) for x in dc.plan_actions(current, [a], prune=False)] == [(dc.UNCHANGED, "a")]
    assert sorted(o["metadata"]["name"] for o in dc.resulting_objects(current, actions)) == ["a", "handmade"]


def test_listing_an_unlabelled_object_takes_it_over():
    handmade = live({"kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
                     "spec": {"addresses": ["198.51.100.0/28"]}})
    [want] = dc.normalize([pool("p", ["198.51.100.0/28"])], NS)
    [action] = dc.plan_actions([handmade], [want])
    assert action.verb == dc.UPDATE and action.current is handmade


def test_state_absent_deletes_listed_objects_that_exist_and_nothing_else():
    [a, b] = dc.normalize([pool("a", []), pool("b", [])], NS)
    actions = dc.plan_actions([live(a)], [a, b], state="absent")
    assert [(x.verb, x.name) for x in actions] == [(dc.DELETE, "a")]


def test_diff_entries_hide_bookkeeping_and_skip_unchanged_objects():
    [old] = dc.normalize([pool("p", ["198.51.100.0/28"])], NS)
    [new] = dc.normalize([pool("p", ["198.51.100.16/28"])], NS)
    [q] = dc.normalize([pool("q", ["203.0.113.0/28"])], NS)
    entries = dc.diff_entries(dc.plan_actions([live(old), live(q)], [new, q]))
    assert len(entries) == 1
    assert entries[0]["before"]["spec"] == {"addresses": ["198.51.100.0/28"]}
    assert entries[0]["after"]["spec"] == {"addresses": ["198.51.100.16/28"]}
    assert "annotations" not in entries[0]["after"]["metadata"]
    assert dc.diff_entries(dc.plan_actions([], [q]))[0]["before"] == {}


def service(name: str, ips: list[str], pool_name: str | None = None, lb_class: str | None = None) -> dict:
    meta: dict = {"name": name, "namespace": "default"}
    if pool_name:
        meta["annotations"] = {"metallb.io/ip-allocated-from-pool": pool_name}
    spec: dict = {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"]}
    if lb_class:
        spec["loadBalancerClass"] = lb_class
    return {"kind": "Service", "metadata": meta, "spec": spec,
            "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ips]}}}


def test_service_changes_sort_services_into_get_keep_move_and_lose():
    services = [service("new", []), service("same", ["198.51.100.1"], "a"), service("moved", ["198.51.100.2"], "a"),
                service("gone", ["198.51.100.3"], "a"), service("never", []),
                service("other", ["198.51.100.9"], lb_class="someone-else")]
    planned = {
        "default/new": {"ips": ["198.51.100.4"], "pool": "a", "state": "assigned"},
        "default/same": {"ips": ["198.51.100.1"], "pool": "a", "state": "assigned"},
        "default/moved": {"ips": ["203.0.113.2"], "pool": "b", "state": "assigned"},
        "default/gone": {"ips": [], "pool": None, "state": "pending"},
        "default/never": {"ips": [], "pool": None, "state": "pending"},
        "default/other": {"ips": ["198.51.100.9"], "pool": None, "state": "ignored"},
    }
    changes = dc.service_changes(services, planned)
    assert [e["service"] for e in changes["get"]] == ["default/new"]
    assert [e["service"] for e in changes["keep"]] == ["default/same"]
    assert changes["move"] == [{"service": "default/moved", "old_ips": ["198.51.100.2"], "new_ips": ["203.0.113.2"],
                                "old_pool": "a", "new_pool": "b"}]
    assert [e["service"] for e in changes["lose"]] == ["default/gone"]


def test_metadata_of_other_types_than_kubernetes_is_refused_with_its_path():
    pool = {"kind": "IPAddressPool", "metadata": {"name": "p", "labels": {"rack": 1}},
            "spec": {"addresses": ["198.51.100.0/24"]}}
    nameless = {"kind": "L2Advertisement", "metadata": {"name": ["a", "b"]}}
    with pytest.raises(dc.DesiredConfigError) as info:
        dc.normalize([pool, nameless], "metallb-system")
    assert info.value.problems == [
        'IPAddressPool p: metadata.labels["rack"]: must be a string, got an integer (quote it in YAML)',
        "L2Advertisement resources[1]: metadata.name: must be a string, got a list"]
