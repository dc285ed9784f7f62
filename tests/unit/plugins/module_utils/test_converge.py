# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""convergeBalancer / SetBalancer: every event reason of MetalLB's controller with MetalLB's text."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.allocator.allocator import Allocator
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.module_utils.engine.converge import (
    ERROR_NO_RETRY,
    REPROCESS_ALL,
    SUCCESS,
    converge_service,
    reprocess_all,
)

NS = "metallb-system"


def pool(name: str, *addresses: str, **spec) -> dict:
    return {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": name, "namespace": NS},
            "spec": dict(spec, addresses=list(addresses))}


def svc(name: str, *, cluster=("203.0.113.200",), ingress=(), annotations=None, ns: str = "app", **spec) -> dict:
    body = {"type": "LoadBalancer", "clusterIPs": list(cluster), "ports": [{"port": 80, "protocol": "TCP"}]}
    if cluster:
        body["clusterIP"] = cluster[0]
    body.update(spec)
    obj = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": name, "namespace": ns, "annotations": dict(annotations or {})}, "spec": body}
    if ingress:
        obj["status"] = {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}}
    return obj


POOLS = (pool("a-v4", "198.51.100.10-198.51.100.19"), pool("b-dual", "198.51.100.128/30", "2001:db8::/126"))


def setup(pools=POOLS):
    config = parse_config(pools).config
    alloc = Allocator()
    alloc.set_pools(config.pools)
    return alloc, config


def one(service: dict, pools=POOLS):
    alloc, config = setup(pools)
    return converge_service(alloc, config, "%s/%s" % (service["metadata"]["namespace"],
                                                      service["metadata"]["name"]), service)


def events(result) -> list[tuple[str, str, str]]:
    return [(e.type, e.reason, e.message) for e in result.events]


def test_fresh_service_gets_lowest_address_of_first_pool_by_name():
    result = one(svc("web"), [pool("b", "198.51.100.50/31"), pool("a", "198.51.100.10/31")])
    assert (result.ips, result.pool, result.state, result.changed, result.outcome) == (
        ["198.51.100.10"], "a", "assigned", True, SUCCESS)
    assert events(result) == [("Normal", "IPAllocated", 'Assigned IP ["198.51.100.10"]')]


def test_not_enough_clusterips():
    result = one(svc("web", ipFamilyPolicy="RequireDualStack"))
    assert events(result) == [("Warning", "not enough clusterips",
                               "Service requires dual stack but not enough clusterips [203.0.113.200]")]
    assert (result.state, result.outcome) == ("pending", ERROR_NO_RETRY)


def test_lb_ips_of_one_family_twice():
    result = one(svc("web", ingress=("198.51.100.10", "198.51.100.11")))
    assert events(result)[0] == (
        "Warning", "nolbIPsIPFamily", 'Failed to retrieve LBIPs IPFamily for ["198.51.100.10" "198.51.100.11"]: '
        'IPFamilyForAddresses: same address family ["198.51.100.10" "198.51.100.11"]')
    assert events(result)[1][1] == "IPAllocated" and result.ips == ["198.51.100.10"]  # cleared, re-allocated


def test_cluster_ips_without_a_family():
    result = one(svc("web", cluster=("junk",), ingress=("198.51.100.10",)))
    assert events(result) == [("Warning", "noclusterIPsIPFamily", 'Failed to retrieve ClusterIPs IPFamily for '
                               '["junk"] junk: IPFamilyForAddresses: Invalid address ["junk"]')]
    assert result.outcome == ERROR_NO_RETRY


def test_current_ip_not_allowed_is_cleared_then_reallocated():
    result = one(svc("web", ingress=("203.0.113.7",)))
    assert events(result) == [
        ("Normal", "ClearAssignment", 'current IP for "app/web" not allowed by config, will attempt for new IP '
                                      'assignment: ["203.0.113.7"] is not allowed in config'),
        ("Normal", "IPAllocated", 'Assigned IP ["198.51.100.10"]')]


def test_invalid_requested_ips_keep_nothing_and_warn():
    result = one(svc("web", ingress=("198.51.100.12",), annotations={"metallb.io/loadBalancerIPs": "nope"}))
    assert events(result) == [("Warning", "LoadBalancerFailed",
                               'invalid requested loadbalancer IPs: invalid metallb.io/loadBalancerIPs: "nope"')]
    assert result.outcome == ERROR_NO_RETRY


def test_prefer_dual_stack_adds_second_family_only_for_dual_cluster_ips():
    dual = svc("web", cluster=("203.0.113.200", "2001:db8:ffff::1"), ingress=("198.51.100.128",),
               ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"])
    result = one(dual)
    assert events(result) == [("Normal", "IPAllocated", 'Assigned additional IP "2001:db8::"')]
    assert result.ips == ["198.51.100.128", "2001:db8::"]
    single = svc("web", ingress=("198.51.100.128",), ipFamilyPolicy="PreferDualStack")
    assert events(one(single)) == []  # MetalLB would flap here; we do not


def test_additional_assign_failed():
    dual = svc("web", cluster=("203.0.113.200", "2001:db8:ffff::1"), ingress=("198.51.100.10",),
               ipFamilyPolicy="PreferDualStack", ipFamilies=["IPv4", "IPv6"])
    result = one(dual)
    assert events(result) == [("Normal", "AdditionalAssignFailed", "cannot assign additional IP in "
                               "PreferDualStack: no available IPs in pool a-v4 for ipv6 IPFamily")]
    assert result.ips == ["198.51.100.10"] and result.state == "assigned"


def test_allocation_failed():
    result = one(svc("web", annotations={"metallb.io/address-pool": "missing"}))
    assert events(result) == [("Warning", "AllocationFailed",
                               'Failed to allocate IP for "app/web": unknown pool "missing"')]
    assert (result.state, result.ips, result.outcome) == ("pending", [], ERROR_NO_RETRY)


@pytest.mark.parametrize("annotations, spec, message", [
    ({"metallb.io/loadBalancerIPs": "198.51.100.11"}, {"loadBalancerIP": "198.51.100.11"},
     "service can not have both metallb.io/loadBalancerIPs and svc.Spec.LoadBalancerIP"),
    ({"metallb.io/loadBalancerIPs": "2001:db8::1"}, {},
     'requested loadBalancer IP(s) ["2001:db8::1"] does not match the ipFamily of the service'),
    ({"metallb.io/loadBalancerIPs": "198.51.100.129", "metallb.io/address-pool": "a-v4"}, {},
     'requested loadBalancer IP(s) ["198.51.100.129"] is not compatible with requested address pool a-v4'),
    ({"metallb.io/loadBalancerIPs": "198.51.100.200"}, {}, '["198.51.100.200"] is not allowed in config'),
])
def test_allocate_ips_errors(annotations, spec, message):
    result = one(svc("web", annotations=annotations, **spec))
    assert events(result) == [("Warning", "AllocationFailed", 'Failed to allocate IP for "app/web": ' + message)]


def test_internal_error_when_the_owning_pool_is_not_in_the_config():
    alloc, _unused = setup()
    config = parse_config([pool("other", "203.0.113.0/28")]).config  # allocator still has the old pools
    result = converge_service(alloc, config, "app/web", svc("web"))
    assert events(result)[-1] == ("Warning", "InternalError", "allocated an IP that has no pool")
    assert result.ips == [] and alloc.ips_of("app/web") == []


def test_deprecated_annotation_warned_when_written():
    result = one(svc("web", annotations={"metallb.universe.tf/loadBalancerIPs": "198.51.100.15"}))
    assert result.ips == ["198.51.100.15"]
    assert events(result)[-1] == ("Warning", "deprecatedAnnotation",
                                  "Service uses deprecated annotation metallb.universe.tf/loadBalancerIPs")


def test_stable_annotation_wins_over_deprecated():
    result = one(svc("web", annotations={"metallb.io/loadBalancerIPs": "198.51.100.16",
                                         "metallb.universe.tf/loadBalancerIPs": "198.51.100.17"}))
    assert result.ips == ["198.51.100.16"]


def test_unchanged_service_is_not_written_and_emits_nothing():
    settled = svc("web", ingress=("198.51.100.12",), annotations={"metallb.io/ip-allocated-from-pool": "a-v4",
                                                                  "metallb.universe.tf/allow-shared-ip": "k"})
    result = one(settled)
    assert (result.changed, events(result), result.ips) == (False, [], ["198.51.100.12"])


def test_missing_pool_annotation_makes_it_changed():
    result = one(svc("web", ingress=("198.51.100.12",)))
    assert (result.changed, result.pool, events(result)) == (True, "a-v4", [])


def test_not_a_load_balancer_is_cleared():
    result = one(svc("web", ingress=("198.51.100.12",), annotations={"metallb.io/ip-allocated-from-pool": "a-v4"},
                     type="ClusterIP"))
    assert (result.state, result.ips, result.pool, result.changed) == ("ignored", [], None, True)


def test_lb_class_filter():
    classy = svc("web", loadBalancerClass="example.com/other")
    alloc, config = setup()
    assert converge_service(alloc, config, "app/web", classy).state == "ignored"
    assert converge_service(alloc, config, "app/web", classy, lb_class="example.com/other").ips == ["198.51.100.10"]
    assert converge_service(alloc, config, "app/x", svc("x"), lb_class="example.com/other").state == "ignored"


def test_a_service_that_leaves_our_class_gives_its_ip_back():
    """With --lb-class, a LoadBalancer turned ClusterIP loses its class: the IP must not stay held."""
    ours = "example.com/ours"
    alloc, config = setup()
    first = converge_service(alloc, config, "app/web", svc("web", loadBalancerClass=ours), lb_class=ours)
    assert first.ips == ["198.51.100.10"]
    turned = svc("web", ingress=first.ips, annotations={"metallb.io/ip-allocated-from-pool": "a-v4"}, type="ClusterIP")
    result = converge_service(alloc, config, "app/web", turned, lb_class=ours)
    assert (result.state, result.ips, result.pool, result.changed, result.outcome) == (
        "ignored", [], None, True, REPROCESS_ALL)
    assert alloc.pool_of("app/web") is None
    other = converge_service(alloc, config, "app/db", svc("db", loadBalancerClass=ours), lb_class=ours)
    assert other.ips == ["198.51.100.10"]


def test_services_of_another_class_keep_what_they_have():
    alloc, config = setup()
    foreign = svc("web", ingress=("203.0.113.5",), annotations={"metallb.io/ip-allocated-from-pool": "theirs"},
                  loadBalancerClass="example.com/other")
    result = converge_service(alloc, config, "app/web", foreign)
    assert (result.state, result.ips, result.pool, result.changed, result.outcome) == (
        "ignored", ["203.0.113.5"], "theirs", False, SUCCESS)
    plain = svc("plain", type="ClusterIP")
    assert converge_service(alloc, config, "app/plain", plain, lb_class="example.com/ours").changed is False


def test_after_a_restart_our_annotation_on_a_former_load_balancer_is_cleared():
    alloc, config = setup()
    turned = svc("web", ingress=("198.51.100.10",), annotations={"metallb.io/ip-allocated-from-pool": "a-v4"},
                 type="ClusterIP")
    result = reprocess_all(alloc, config, [turned], lb_class="example.com/ours")["app/web"]
    assert (result.ips, result.pool, result.changed) == ([], None, True)


def test_deleting_a_service_frees_its_ip_and_asks_for_reprocess_all():
    alloc, config = setup()
    converge_service(alloc, config, "app/web", svc("web"))
    assert converge_service(alloc, config, "app/web", None).outcome == REPROCESS_ALL
    assert converge_service(alloc, config, "app/web", None).outcome == SUCCESS
    assert alloc.ips_of("app/web") == []


def test_no_pools_clears():
    alloc = Allocator()
    config = parse_config([]).config
    result = converge_service(alloc, config, "app/web", svc("web", ingress=("198.51.100.12",)))
    assert (result.ips, result.outcome, result.state) == ([], ERROR_NO_RETRY, "pending")


def test_reprocess_all_retries_a_pending_service_when_room_is_freed():
    alloc, config = setup([pool("tiny", "198.51.100.10/32")])
    holder = svc("old", ingress=("198.51.100.10",), type="NodePort")  # gives its IP back in this pass
    results = reprocess_all(alloc, config, [svc("new"), holder])
    assert results["app/new"].ips == ["198.51.100.10"]
    assert results["app/old"].state == "ignored"


def test_sharing_rules_through_converge():
    alloc, config = setup()
    shared = {"metallb.io/allow-shared-ip": "k", "metallb.io/loadBalancerIPs": "198.51.100.11"}
    a = converge_service(alloc, config, "app/a", svc("a", annotations=shared))
    b = converge_service(alloc, config, "app/b", svc("b", annotations=shared, ports=[{"port": 81}]))
    c = converge_service(alloc, config, "app/c", svc("c", annotations=shared))  # port 80 again
    assert a.ips == b.ips == ["198.51.100.11"]
    assert events(c) == [("Warning", "AllocationFailed", 'Failed to allocate IP for "app/c": port TCP/80 is '
                          'already in use on "198.51.100.11"')]
