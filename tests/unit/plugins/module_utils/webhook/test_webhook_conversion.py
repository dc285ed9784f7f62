# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""BGPPeer v1beta1 ↔ v1beta2 conversion (ConversionReview in, converted objects out)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.metal.lb.plugins.module_utils.adapters.webhook.conversion import (
    V1BETA1_FIELDS,
    conversion_response,
    convert,
)

V1_SPEC = {"myASN": 64500, "peerASN": 64501, "peerAddress": "198.51.100.1", "peerPort": 1179, "holdTime": "90s",
           "keepaliveTime": "30s", "routerID": "198.51.100.10", "sourceAddress": "198.51.100.11",
           "ebgpMultiHop": True, "password": "p", "bfdProfile": "fast",
           "nodeSelectors": [{"matchLabels": {"rack": "a"},
                              "matchExpressions": [{"key": "zone", "operator": "In", "values": ["x"]}]}]}
V2_ONLY = {"vrf": "red", "interface": "eth1", "dynamicASN": "external", "localASN": 65000, "connectTime": "5s",
           "enableGracefulRestart": True, "disableMP": False, "dualStackAddressFamily": True,
           "passwordSecret": {"name": "s"}}


def peer(version: str, spec: dict) -> dict:
    return {"apiVersion": "metallb.io/" + version, "kind": "BGPPeer",
            "metadata": {"name": "r", "namespace": "metallb-system", "resourceVersion": "7", "uid": "x"},
            "spec": copy.deepcopy(spec)}


def test_the_v1beta1_fields_are_the_v1beta1_schemas():
    assert set(V1_SPEC) == V1BETA1_FIELDS


def test_v1beta1_to_v1beta2_copies_every_field_and_the_metadata():
    out = convert(peer("v1beta1", V1_SPEC), "metallb.io/v1beta2")
    assert out == peer("v1beta2", V1_SPEC)


def test_v1beta2_to_v1beta1_drops_only_the_fields_v1beta1_lacks_and_round_trips_the_rest():
    full = dict(V1_SPEC, **V2_ONLY)
    down = convert(peer("v1beta2", full), "metallb.io/v1beta1")
    assert down == peer("v1beta1", V1_SPEC)
    assert convert(down, "metallb.io/v1beta2") == peer("v1beta2", V1_SPEC)


def test_the_input_is_not_modified():
    obj = peer("v1beta2", dict(V1_SPEC, **V2_ONLY))
    before = copy.deepcopy(obj)
    convert(obj, "metallb.io/v1beta1")
    assert obj == before


def test_a_review_converts_every_object_with_the_uid():
    review = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
              "request": {"uid": "c-1", "desiredAPIVersion": "metallb.io/v1beta1",
                          "objects": [peer("v1beta2", V1_SPEC), peer("v1beta1", V1_SPEC)]}}
    out = conversion_response(review)
    assert out["kind"] == "ConversionReview" and out["apiVersion"] == "apiextensions.k8s.io/v1"
    assert out["response"]["uid"] == "c-1"
    assert out["response"]["result"] == {"status": "Success"}
    assert out["response"]["convertedObjects"] == [peer("v1beta1", V1_SPEC)] * 2


@pytest.mark.parametrize("desired, obj, message", [
    ("metallb.io/v1", peer("v1beta1", V1_SPEC), "cannot convert to metallb.io/v1"),
    ("metallb.io/v1beta2", dict(peer("v1beta1", V1_SPEC), kind="IPAddressPool"), "only BGPPeer objects"),
    ("metallb.io/v1beta2", "not an object", ""),
])
def test_what_cannot_be_converted_fails_the_review_naming_it(desired, obj, message):
    out = conversion_response({"request": {"uid": "c-2", "desiredAPIVersion": desired, "objects": [obj]}})
    assert out["response"]["result"]["status"] == "Failure"
    assert message in out["response"]["result"]["message"]
    assert "convertedObjects" not in out["response"]
