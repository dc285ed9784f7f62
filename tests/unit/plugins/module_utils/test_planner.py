# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The offline planner: ordering (restart semantics), ``changed``, pools and errors (issue 2, item 4)."""

from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine.planner import plan

from kube_objects import pool, service as svc

NS = "metallb-system"


TWO = pool("p", "198.51.100.10-198.51.100.11")


def test_holders_keep_their_ips_before_newcomers_allocate():
    # the newcomer is older and sorts first by name, but services holding IPs go first (controller restart)
    out = plan([TWO, svc("a-new", created="2020-01-01T00:00:00Z"),
                svc("z-old", created="2026-01-01T00:00:00Z", ingress=["198.51.100.10"], pool_annotation="p"),
                svc("y-old", created="2026-01-02T00:00:00Z", ingress=["198.51.100.11"], pool_annotation="p")])
    s = out["services"]
    assert s["app/z-old"]["ips"] == ["198.51.100.10"] and s["app/y-old"]["ips"] == ["198.51.100.11"]
    assert not s["app/z-old"]["changed"] and not s["app/y-old"]["changed"]
    assert (s["app/a-new"]["state"], s["app/a-new"]["ips"]) == ("pending", [])
    assert s["app/a-new"]["events"] == [{"type": "Warning", "reason": "AllocationFailed",
                                         "message": 'Failed to allocate IP for "app/a-new": no available IPs'}]


def test_newcomers_by_creation_timestamp_then_namespace_and_name():
    out = plan([TWO, svc("c", created="2026-01-02T00:00:00Z"), svc("b", created="2026-01-01T00:00:00Z"),
                svc("a", created="2026-01-03T00:00:00Z")])
    assert {k: v["ips"] for k, v in out["services"].items()} == {
        "app/a": [], "app/b": ["198.51.100.10"], "app/c": ["198.51.100.11"]}
    out = plan([TWO, svc("x", ns="b"), svc("y", ns="a"), svc("z", ns="a")])  # no timestamps
    assert {k: v["ips"] for k, v in out["services"].items()} == {
        "a/y": ["198.51.100.10"], "a/z": ["198.51.100.11"], "b/x": []}


def test_changed_compares_with_current_ingress_and_pool_annotation():
    out = plan([TWO, svc("same", ingress=["198.51.100.10"], pool_annotation="p"),
                svc("no-annotation", ingress=["198.51.100.11"]),
                svc("moved", ingress=["203.0.113.5"], pool_annotation="gone")])
    s = out["services"]
    assert [s[k]["changed"] for k in ("app/same", "app/no-annotation", "app/moved")] == [False, True, True]
    assert s["app/moved"]["state"] == "pending"


def test_output_shape_and_pool_counters():
    out = plan([pool("d", "198.51.100.0/30", "2001:db8::/126"),
                svc("dual", clusterIPs=["203.0.113.200", "2001:db8:ffff::1"], ipFamilyPolicy="RequireDualStack"),
                svc("v4")])
    assert out["errors"] == [] and out["warnings"] == []
    assert out["services"]["app/dual"] == {
        "ips": ["198.51.100.0", "2001:db8::"], "pool": "d", "state": "assigned", "changed": True,
        "events": [{"type": "Normal", "reason": "IPAllocated", "message": 'Assigned IP ["198.51.100.0" "2001:db8::"]'}]}
    assert out["pools"]["d"] == {"capacity": {"ipv4": 4, "ipv6": 4}, "in_use": {"ipv4": 2, "ipv6": 1},
                                 "available": {"ipv4": 2, "ipv6": 3}}


def test_shared_ip_counts_once():
    shared = {"metallb.io/allow-shared-ip": "k"}
    a, b = svc("a"), svc("b", ports=[{"port": 53, "protocol": "UDP"}])
    a["metadata"]["annotations"].update(shared)
    b["metadata"]["annotations"].update(shared)
    out = plan([TWO, a, b])
    assert out["services"]["app/a"]["ips"] == out["services"]["app/b"]["ips"] == ["198.51.100.10"]
    assert out["pools"]["p"]["in_use"]["ipv4"] == 1


def test_invalid_config_reports_errors_and_plans_nothing():
    out = plan([pool("p", "bogus"), svc("a")])
    assert out["services"] == {} and out["pools"] == {}
    assert out["errors"] == ['IPAddressPool "p": spec.addresses[0]: invalid CIDR "bogus" in pool "p": '
                             'invalid CIDR "bogus"']


def test_lb_class_and_non_load_balancers():
    out = plan([TWO, svc("classy", loadBalancerClass="x"), svc("plain", type="ClusterIP"), svc("lb")],
               lb_class="")
    assert out["services"]["app/classy"]["state"] == "ignored"
    assert "app/plain" not in out["services"]
    out = plan([TWO, svc("classy", loadBalancerClass="x"), svc("lb")], lb_class="x")
    assert (out["services"]["app/classy"]["state"], out["services"]["app/lb"]["state"]) == ("assigned", "ignored")


def test_same_input_same_output():
    objects = [TWO, svc("a"), svc("b", ingress=["198.51.100.11"]), svc("c")]
    assert plan(objects) == plan(list(reversed(objects)))


def test_prefer_dual_stack_second_family_waits_until_every_holder_reclaimed():
    # found by test_planner_properties: "a" (PreferDualStack, v6 only so far) used to take the v4 address
    # "b" already holds, because the additional family was allocated during the re-claim pass
    dual = {"clusterIPs": ["203.0.113.100", "2001:db8:ffff::1"], "ipFamilies": ["IPv4", "IPv6"]}
    objects = [pool("p", "198.51.100.255/32", "2001:db8::/126"),
               svc("a", ingress=["2001:db8::1"], pool_annotation="p", ipFamilyPolicy="PreferDualStack", **dual),
               svc("b", ingress=["198.51.100.255", "2001:db8::"], pool_annotation="p",
                   ipFamilyPolicy="RequireDualStack", **dual)]
    out = plan(objects)["services"]
    assert (out["app/b"]["ips"], out["app/b"]["changed"]) == (["198.51.100.255", "2001:db8::"], False)
    assert (out["app/a"]["ips"], out["app/a"]["changed"]) == (["2001:db8::1"], False)
    assert out["app/a"]["events"] == [{"type": "Normal", "reason": "AdditionalAssignFailed", "message":
                                       "cannot assign additional IP in PreferDualStack: no available IPs in pool p "
                                       "for ipv4 IPFamily"}]


def test_examples_directory_plans_as_documented():
    """``make lab`` (for now) plans examples/: every kind of Service there gets what its comment says."""
    import pathlib

    import pytest

    from ansible_collections.metal.lb.plugins.module_utils.shells.cli import read_files

    examples = pathlib.Path(__file__).resolve().parents[4] / "examples"
    if not examples.is_dir():
        pytest.skip("examples/ not part of this copy of the collection")
    out = plan(read_files([str(examples)]))
    assert out["errors"] == []
    got = {k: (v["state"], v["ips"], v["pool"]) for k, v in out["services"].items()}
    assert got["shop/web"] == ("assigned", ["198.51.100.10"], "default")
    assert got["shop/api"] == ("assigned", ["198.51.100.50"], "default")
    assert got["shop/legacy-api"] == ("assigned", ["203.0.113.10"], "public")
    assert got["infra/dns-tcp"][1] == got["infra/dns-udp"][1] == ["198.51.100.53"]
    assert got["shop/storefront"][2] == "public"
    assert got["shop/gateway"] == ("assigned", ["198.51.100.130", "2001:db8:100::10"], "dual-stack")
    assert got["team-a/reports"][2] == "team-a"
    assert got["infra/metrics"] == ("assigned", ["198.51.100.11"], "default")
    assert not out["services"]["infra/metrics"]["changed"]
    assert got["shop/legacy-db"][0] == "pending"
    assert got["shop/internal-only"][0] == "ignored"
