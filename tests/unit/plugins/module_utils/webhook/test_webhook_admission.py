# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MetalLB's validating webhooks: AdmissionReview in, response out (the parser's rules and messages)."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.webhook.admission import (
    DISABLE_MP_WARNING,
    ListError,
    handle_review,
)

NS = "metallb-system"
PATH = {
    "IPAddressPool": "/validate-metallb-io-v1beta1-ipaddresspool",
    "L2Advertisement": "/validate-metallb-io-v1beta1-l2advertisement",
    "BGPAdvertisement": "/validate-metallb-io-v1beta1-bgpadvertisement",
    "BGPPeer": "/validate-metallb-io-v1beta2-bgppeer",
    "BFDProfile": "/validate-metallb-io-v1beta1-bfdprofile",
    "Community": "/validate-metallb-io-v1beta1-community",
}


def cr(kind: str, name: str, spec: dict, namespace: str = NS) -> dict:
    version = "v1beta2" if kind == "BGPPeer" else "v1beta1"
    return {"apiVersion": "metallb.io/" + version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def pool(name: str, *addresses: str, namespace: str = NS) -> dict:
    return cr("IPAddressPool", name, {"addresses": list(addresses)}, namespace)


class Cluster:
    """A lister over stored objects; records what was listed where."""

    def __init__(self, *objects: dict, fail: str = "") -> None:
        self.objects = list(objects)
        self.fail = fail
        self.calls: list[tuple[str, str]] = []

    def __call__(self, kind: str, namespace: str) -> list:
        self.calls.append((kind, namespace))
        if kind == self.fail:
            raise ListError("failed to get existing %s objects: 403 Forbidden" % kind)
        return [o for o in self.objects if o["kind"] == kind
                and (kind == "Node" or o["metadata"].get("namespace") == namespace)]


def review(obj: dict, operation: str = "CREATE", old: dict | None = None, namespace: str | None = None) -> dict:
    target = obj if obj is not None else old
    request = {"uid": "u-1", "kind": {"group": "metallb.io", "version": "v1", "kind": target["kind"]},
               "operation": operation, "namespace": namespace or target["metadata"]["namespace"],
               "name": target["metadata"]["name"], "object": obj, "oldObject": old}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}


def answer(cluster: Cluster, obj: dict | None, operation: str = "CREATE", old: dict | None = None, **options):
    kind = (obj or old)["kind"]
    options.setdefault("namespace", NS)
    out = handle_review(PATH[kind], review(obj, operation, old), cluster, **options)
    assert out["apiVersion"] == "admission.k8s.io/v1" and out["kind"] == "AdmissionReview"
    assert out["response"]["uid"] == "u-1"
    return out["response"]


def test_an_overlapping_pool_is_denied_with_the_parsers_message():
    response = answer(Cluster(pool("first", "198.51.100.0/28")), pool("second", "198.51.100.8/29"))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"] == ('IPAddressPool "second": spec.addresses[0]: CIDR "198.51.100.8/29" in '
                                             'pool "second" overlaps with already defined CIDR "198.51.100.0/28"')


def test_an_update_replaces_the_stored_version_instead_of_overlapping_with_it():
    stored = pool("p", "198.51.100.0/28")
    assert answer(Cluster(stored), pool("p", "198.51.100.0/27"), "UPDATE", old=stored)["allowed"] is True


def test_a_valid_pool_is_allowed_without_warnings():
    response = answer(Cluster(pool("a", "198.51.100.0/28")), pool("b", "203.0.113.0/28"))
    assert response == {"uid": "u-1", "allowed": True}


def test_objects_must_be_created_in_the_configuration_namespace():
    response = answer(Cluster(), pool("p", "198.51.100.0/28", namespace="default"))
    assert response["allowed"] is False
    assert response["status"]["message"] == "resource must be created in metallb-system namespace"


def test_an_update_outside_the_namespace_is_judged_not_refused_as_metallb_does():
    obj = pool("p", "198.51.100.0/28", namespace="default")
    assert answer(Cluster(), obj, "UPDATE", old=obj)["allowed"] is True


def test_any_namespace_judges_an_object_with_its_own_namespaces_objects():
    cluster = Cluster(pool("first", "198.51.100.0/28", namespace="t1"), pool("other", "203.0.113.0/28"))
    assert answer(cluster, pool("second", "203.0.113.0/29", namespace="t1"), any_namespace=True)["allowed"] is True
    response = answer(cluster, pool("second", "198.51.100.0/29", namespace="t1"), any_namespace=True)
    assert response["allowed"] is False and "overlaps" in response["status"]["message"]
    assert ("IPAddressPool", "t1") in cluster.calls and ("IPAddressPool", NS) not in cluster.calls


def test_an_advertisement_naming_a_missing_pool_is_allowed_with_a_warning_naming_the_field():
    l2 = cr("L2Advertisement", "l2", {"ipAddressPools": ["lan", "nope"]})
    response = answer(Cluster(pool("lan", "198.51.100.0/28")), l2)
    assert response["allowed"] is True
    assert response["warnings"] == ['L2Advertisement "l2": spec.ipAddressPools[1]: no IPAddressPool "nope": the '
                                    'advertisement does not apply to it until it exists']


def test_a_bad_aggregation_length_is_denied():
    adv = cr("BGPAdvertisement", "agg", {"ipAddressPools": ["p"], "aggregationLength": 26})
    response = answer(Cluster(pool("p", "198.51.100.0/28")), adv)
    assert response["allowed"] is False
    assert response["status"]["message"] == (
        'BGPAdvertisement "agg": spec: invalid aggregation length 26: prefix 28 in this pool is more specific '
        'than the aggregation length for addresses 198.51.100.0/28')


def test_community_aliases_and_peer_references_may_come_later():
    """MetalLB strips what may name a later object, so objects can be created in any order."""
    adv = cr("BGPAdvertisement", "b", {"communities": ["no-export", "65000:1"]})
    assert answer(Cluster(), adv)["allowed"] is True
    peer = cr("BGPPeer", "r", {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
                               "passwordSecret": {"name": "absent"}})
    assert answer(Cluster(), peer)["allowed"] is True
    bad = cr("BGPAdvertisement", "b", {"communities": ["65000:700000"]})
    response = answer(Cluster(), bad)
    assert response["allowed"] is False and "65000:700000" in response["status"]["message"]


def test_a_bgppeer_is_judged_with_frr_modes_rules_by_default_and_native_on_request():
    peer = cr("BGPPeer", "r", {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1",
                               "keepaliveTime": "10s"})
    assert answer(Cluster(), peer)["allowed"] is True  # the speaker speaks BGP as FRR mode
    response = answer(Cluster(), peer, bgp_type="native")
    assert response["allowed"] is False
    assert response["status"]["message"] == ('BGPPeer "r": spec.keepaliveTime: peer 198.51.100.1 has keepalive-time '
                                             'set on native bgp mode')


def test_disable_mp_on_create_is_allowed_with_metallbs_warning_and_nothing_else_checked():
    peer = cr("BGPPeer", "r", {"myASN": 0, "disableMP": True}, namespace="elsewhere")
    cluster = Cluster()
    response = answer(cluster, peer)
    assert response == {"uid": "u-1", "allowed": True, "warnings": [DISABLE_MP_WARNING]}
    assert cluster.calls == []


def test_delete_is_allowed_except_a_bfd_profile_a_peer_uses():
    assert answer(Cluster(), None, "DELETE", old=pool("p", "198.51.100.0/28"))["allowed"] is True
    bfd = cr("BFDProfile", "fast", {})
    users = Cluster(cr("BGPPeer", "zeta", {"bfdProfile": "fast"}), cr("BGPPeer", "alpha", {"bfdProfile": "fast"}))
    response = answer(users, None, "DELETE", old=bfd)
    assert response["allowed"] is False
    assert response["status"]["message"] == "failed to delete BFDProfile fast, used by BGPPeer alpha"
    assert answer(Cluster(cr("BGPPeer", "x", {"bfdProfile": "slow"})), None, "DELETE", old=bfd)["allowed"] is True


def test_a_bfd_profile_create_only_checks_the_namespace_as_metallb():
    assert answer(Cluster(), cr("BFDProfile", "fast", {"receiveInterval": 5}))["allowed"] is True


def test_a_list_failure_denies_with_its_message():
    response = answer(Cluster(fail="IPAddressPool"), pool("p", "198.51.100.0/28"))
    assert response["allowed"] is False
    assert response["status"]["message"] == "failed to get existing IPAddressPool objects: 403 Forbidden"


@pytest.mark.parametrize("path, kind", [("/validate-metallb-io-v1beta1-ipaddresspool", "L2Advertisement"),
                                        ("/elsewhere", "IPAddressPool")])
def test_a_kind_posted_to_another_kinds_path_is_refused(path, kind):
    obj = cr(kind, "x", {})
    out = handle_review(path, review(obj), Cluster(), namespace=NS)
    assert out["response"]["allowed"] is False and out["response"]["status"]["code"] == 400


@pytest.mark.parametrize("body", [{}, {"request": "x"}, [], None])
def test_not_an_admission_review_is_refused(body):
    out = handle_review(PATH["IPAddressPool"], body, Cluster(), namespace=NS)
    assert out["response"]["allowed"] is False
