# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CustomResourceDefinitions and custom resources through ApiextensionsV1Api and CustomObjectsApi:
registration at every served version, discovery, structural-schema validation (422 with the real
API's causes), pruning, defaulting, CEL rules, status subresource, generation, multi-version serving
and MetalLB's BGPPeer v1beta1 <-> v1beta2 conversion.

The CRDs are written here (each test gets its own group), so these tests do not depend on the
project's manifests; ``test_crds_are_loaded_from_a_directory_at_start`` covers ``--crds``.
"""

from __future__ import annotations

import copy
import json
import time
import uuid

import pytest

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes import watch  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

pytestmark = pytest.mark.integration

WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["size"],
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.tags) || self.tags.size() < 2 || self.size > 1",
                    "message": "two tags need size > 1",
                }
            ],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 10},
                "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
                "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                "tags": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": 2,
                    "x-kubernetes-list-type": "set",
                },
                "nested": {
                    "type": "object",
                    "default": {},
                    "properties": {"a": {"type": "string", "default": "x"}},
                },
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "opt": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "immutable": {
                    "type": "string",
                    "maxLength": 20,
                    "x-kubernetes-validations": [
                        {"rule": "self == oldSelf", "message": "immutable is immutable"}
                    ],
                },
                "connectTime": {
                    "type": "string",
                    "maxLength": 20,
                    "x-kubernetes-validations": [
                        {
                            "rule": "duration(self).getSeconds() >= 1 "
                            "&& duration(self).getSeconds() <= 65535",
                            "message": "connect time should be between 1 and 65535 seconds",
                        },
                        {
                            "rule": "duration(self).getMilliseconds() % 1000 == 0",
                            "message": "connect time should contain a whole number of seconds",
                        },
                    ],
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {"ready": {"type": "boolean"}, "count": {"type": "integer"}},
        },
    },
}


def crd_body(group: str, plural: str, kind: str, scope: str = "Namespaced", versions=None) -> dict:
    versions = versions or [
        {
            "name": "v1",
            "served": True,
            "storage": True,
            "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
            "subresources": {"status": {}},
        }
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}", "labels": {"metal-lb-test": "true"}},
        "spec": {
            "group": group,
            "scope": scope,
            "versions": versions,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": kind + "List"},
        },
    }


def wait_established(ext: k.ApiextensionsV1Api, name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        crd = ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in (crd.status.conditions or [])} if crd.status else {}
        if conditions.get("Established") == "True":
            return
        time.sleep(0.1)
    raise AssertionError(f"CRD {name} not established")


@pytest.fixture
def crd(kube_client):
    """Create CRDs (unique group per test) and delete them afterwards."""
    ext = k.ApiextensionsV1Api(kube_client)
    made: list[str] = []

    def make(body: dict) -> dict:
        ext.create_custom_resource_definition(body)
        made.append(body["metadata"]["name"])
        wait_established(ext, body["metadata"]["name"])
        return body

    try:
        yield make
    finally:
        for name in made:
            try:
                ext.delete_custom_resource_definition(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture
def widgets(crd):
    group = f"t{uuid.uuid4().hex[:8]}.metal-lb.test"
    crd(crd_body(group, "widgets", "Widget"))
    return group


def widget(obj_name: str, **spec) -> dict:
    spec.setdefault("size", 3)
    return {"apiVersion": "", "kind": "Widget", "metadata": {"name": obj_name}, "spec": spec}


def create(custom: k.CustomObjectsApi, group: str, namespace: str, body: dict, version: str = "v1", **kw):
    body = dict(body, apiVersion=f"{group}/{version}")
    deadline = time.monotonic() + 10
    while True:  # a real API server may need a moment after Established before it serves the kind
        try:
            return custom.create_namespaced_custom_object(group, version, namespace, "widgets", body, **kw)
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def causes(exc: ApiException) -> set[tuple[str, str]]:
    body = json.loads(exc.body)
    return {(c["reason"], c["field"]) for c in body["details"]["causes"]}


# ------------------------------------------------------------------------------------- registration


def test_crd_is_established_discoverable_and_serves_its_kind(kube_client, namespace, widgets):
    ext = k.ApiextensionsV1Api(kube_client)
    crd = ext.read_custom_resource_definition("widgets." + widgets)
    assert crd.status.accepted_names.kind == "Widget" and crd.status.stored_versions == ["v1"]
    resources = {
        r.name: r for r in k.CustomObjectsApi(kube_client).get_api_resources(widgets, "v1").resources
    }
    assert resources["widgets"].kind == "Widget" and resources["widgets"].namespaced
    assert "widgets/status" in resources
    custom = k.CustomObjectsApi(kube_client)
    created = create(custom, widgets, namespace, widget("w1"))
    assert created["apiVersion"] == widgets + "/v1" and created["metadata"]["generation"] == 1
    got = custom.get_namespaced_custom_object(widgets, "v1", namespace, "widgets", "w1")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = custom.list_namespaced_custom_object(widgets, "v1", namespace, "widgets")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    assert listed["items"][0]["kind"] == "Widget"  # custom resource list items carry kind/apiVersion
    patched = custom.patch_namespaced_custom_object(
        widgets, "v1", namespace, "widgets", "w1", {"spec": {"size": 4}}
    )
    assert patched["spec"]["size"] == 4 and patched["metadata"]["generation"] == 2
    deleted = custom.delete_namespaced_custom_object(widgets, "v1", namespace, "widgets", "w1")
    assert deleted["kind"] == "Status" and deleted["status"] == "Success"
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(widgets, "v1", namespace, "widgets", "w1")
    assert err.value.status == 404
    assert json.loads(err.value.body)["message"] == f'widgets.{widgets} "w1" not found'


def test_deleting_the_crd_removes_the_kind_and_its_objects(lab_api, make_client):
    api = make_client(lab_api)
    ext, custom = k.ApiextensionsV1Api(api), k.CustomObjectsApi(api)
    group = "gone.metal-lb.test"
    ext.create_custom_resource_definition(crd_body(group, "widgets", "Widget"))
    create(custom, group, "default", widget("w"))
    ext.delete_custom_resource_definition("widgets." + group)
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(group, "v1", "default", "widgets")
    assert err.value.status == 404
    ext.create_custom_resource_definition(crd_body(group, "widgets", "Widget"))
    assert custom.list_namespaced_custom_object(group, "v1", "default", "widgets")["items"] == []
    ext.delete_custom_resource_definition("widgets." + group)


def test_invalid_crd_is_422(kube_client):
    body = crd_body("bad.metal-lb.test", "widgets", "Widget")
    del body["spec"]["versions"][0]["schema"]
    with pytest.raises(ApiException) as err:
        k.ApiextensionsV1Api(kube_client).create_custom_resource_definition(body)
    assert err.value.status == 422
    assert ("FieldValueRequired", "spec.versions[0].schema.openAPIV3Schema") in causes(err.value)


# --------------------------------------------------------------------------------------- validation


def test_schema_violations_are_422_with_every_cause(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    bad = widget("bad", size="big", color="green", name="TOOLONG", tags=["a", "a"])
    with pytest.raises(ApiException) as err:
        create(custom, widgets, namespace, bad)
    body = json.loads(err.value.body)
    assert err.value.status == 422 and body["reason"] == "Invalid"
    assert body["details"]["kind"] == "Widget" and body["details"]["group"] == widgets
    assert {
        ("FieldValueTypeInvalid", "spec.size"),
        ("FieldValueNotSupported", "spec.color"),
        ("FieldValueTooLong", "spec.name"),
        ("FieldValueInvalid", "spec.name"),
        ("FieldValueDuplicate", "spec.tags[1]"),
    } <= causes(err.value)
    assert 'spec.color: Unsupported value: "green": supported values: "red", "blue"' in body["message"]
    with pytest.raises(ApiException) as err:
        create(custom, widgets, namespace, {"kind": "Widget", "metadata": {"name": "nosize"}, "spec": {}})
    assert causes(err.value) == {("FieldValueRequired", "spec.size")}
    with pytest.raises(ApiException) as err:
        create(custom, widgets, namespace, widget("range", size=11, tags=[]))
    assert {("FieldValueInvalid", "spec.size"), ("FieldValueInvalid", "spec.tags")} <= causes(err.value)
    assert "spec.size in body should be less than or equal to 10" in json.loads(err.value.body)["message"]


def test_unknown_fields_are_pruned_and_defaults_applied(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    created = create(
        custom,
        widgets,
        namespace,
        dict(
            widget(
                "prune", bogus=1, free={"any": {"thing": [1, 2]}}, opt=None, labels={"a": "b"}, port="http"
            ),
            extra="dropped",
        ),
    )
    spec = created["spec"]
    assert "bogus" not in spec and "extra" not in created
    assert spec["color"] == "red" and spec["nested"] == {"a": "x"}
    assert spec["free"] == {"any": {"thing": [1, 2]}} and spec["opt"] is None and spec["labels"] == {"a": "b"}
    assert create(custom, widgets, namespace, widget("intport", port=8080))["spec"]["port"] == 8080
    with pytest.raises(ApiException) as err:
        create(custom, widgets, namespace, widget("boolport", port=True))
    assert err.value.status == 422


def test_strict_field_validation_rejects_unknown_fields(kube_client, namespace, widgets):
    with pytest.raises(ApiException) as err:
        create(
            k.CustomObjectsApi(kube_client),
            widgets,
            namespace,
            widget("strict", bogus=1),
            field_validation="Strict",
        )
    assert err.value.status == 400 and 'unknown field "spec.bogus"' in json.loads(err.value.body)["message"]


def test_cel_rules(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    create(custom, widgets, namespace, widget("cel", immutable="a", connectTime="5s"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            widgets, "v1", namespace, "widgets", "cel", {"spec": {"immutable": "b"}}
        )
    assert err.value.status == 422 and "immutable is immutable" in json.loads(err.value.body)["message"]
    assert ("FieldValueInvalid", "spec.immutable") in causes(err.value)
    for value, message in (("0.5s", "between 1 and 65535"), ("1500ms", "whole number of seconds")):
        with pytest.raises(ApiException) as err:
            create(custom, widgets, namespace, widget("ct", connectTime=value))
        assert message in json.loads(err.value.body)["message"]
    with pytest.raises(ApiException) as err:
        create(custom, widgets, namespace, widget("tags", size=1, tags=["a", "b"]))
    assert "two tags need size > 1" in json.loads(err.value.body)["message"]
    assert create(custom, widgets, namespace, widget("tags2", size=2, tags=["a", "b"]))["spec"]["tags"] == [
        "a",
        "b",
    ]


def test_cel_outside_the_supported_subset_is_reported_not_passed(lab_api, make_client):
    api = make_client(lab_api)
    schema = copy.deepcopy(WIDGET_SCHEMA)
    schema["properties"]["spec"]["properties"]["name"]["x-kubernetes-validations"] = [
        {"rule": "quantity(self).isGreaterThan(quantity('1'))"}
    ]
    group = "celwarn.metal-lb.test"
    k.ApiextensionsV1Api(api).create_custom_resource_definition(
        crd_body(
            group,
            "widgets",
            "Widget",
            versions=[{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}],
        )
    )
    body = dict(widget("w", name="abc"), apiVersion=group + "/v1")
    resp = k.CustomObjectsApi(api).create_namespaced_custom_object(
        group, "v1", "default", "widgets", body, _preload_content=False
    )
    assert resp.status == 201
    assert "not evaluated" in resp.headers.get("Warning", "")
    k.ApiextensionsV1Api(api).delete_custom_resource_definition("widgets." + group)


def test_put_without_resource_version_is_422_for_custom_resources(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    created = create(custom, widgets, namespace, widget("rv"))
    del created["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(widgets, "v1", namespace, "widgets", "rv", created)
    assert err.value.status == 422 and ("FieldValueInvalid", "metadata.resourceVersion") in causes(err.value)


def test_strategic_merge_patch_is_415_for_custom_resources(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    create(custom, widgets, namespace, widget("smp"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            widgets,
            "v1",
            namespace,
            "widgets",
            "smp",
            {"spec": {"size": 2}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415
    patched = custom.patch_namespaced_custom_object(
        widgets,
        "v1",
        namespace,
        "widgets",
        "smp",
        [{"op": "replace", "path": "/spec/size", "value": 5}],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["size"] == 5


# ------------------------------------------------------------------------------- status, generation


def test_status_subresource_and_generation(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    created = create(custom, widgets, namespace, dict(widget("st"), status={"ready": True}))
    assert "status" not in created or not created["status"]  # create ignores status
    with_status = custom.patch_namespaced_custom_object_status(
        widgets,
        "v1",
        namespace,
        "widgets",
        "st",
        {"status": {"ready": True, "count": 2}, "spec": {"size": 9}},
    )
    assert with_status["status"] == {"ready": True, "count": 2}
    assert with_status["spec"]["size"] == 3 and with_status["metadata"]["generation"] == 1
    main = custom.patch_namespaced_custom_object(
        widgets, "v1", namespace, "widgets", "st", {"spec": {"size": 4}, "status": {"ready": False}}
    )
    assert main["status"]["ready"] is True and main["metadata"]["generation"] == 2
    labelled = custom.patch_namespaced_custom_object(
        widgets, "v1", namespace, "widgets", "st", {"metadata": {"labels": {"a": "b"}}}
    )
    assert labelled["metadata"]["generation"] == 2  # metadata changes do not bump generation
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object_status(
            widgets, "v1", namespace, "widgets", "st", {"status": {"count": "many"}}
        )
    assert err.value.status == 422


def test_cluster_scoped_custom_resources(kube_client, crd):
    group = f"c{uuid.uuid4().hex[:8]}.metal-lb.test"
    crd(crd_body(group, "widgets", "Widget", scope="Cluster"))
    custom = k.CustomObjectsApi(kube_client)
    body = dict(widget("global"), apiVersion=group + "/v1")
    deadline = time.monotonic() + 10
    while True:
        try:
            created = custom.create_cluster_custom_object(group, "v1", "widgets", body)
            break
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    assert "namespace" not in created["metadata"]
    assert [
        i["metadata"]["name"] for i in custom.list_cluster_custom_object(group, "v1", "widgets")["items"]
    ] == ["global"]
    custom.delete_cluster_custom_object(group, "v1", "widgets", "global")


def test_custom_resource_watch(kube_client, namespace, widgets):
    custom = k.CustomObjectsApi(kube_client)
    start = custom.list_namespaced_custom_object(widgets, "v1", namespace, "widgets")["metadata"][
        "resourceVersion"
    ]
    create(custom, widgets, namespace, widget("watched"))
    custom.patch_namespaced_custom_object(
        widgets, "v1", namespace, "widgets", "watched", {"spec": {"size": 7}}
    )
    events = [
        (e["type"], e["object"]["metadata"]["name"], e["object"]["spec"]["size"])
        for e in watch.Watch().stream(
            custom.list_namespaced_custom_object,
            widgets,
            "v1",
            namespace,
            "widgets",
            resource_version=start,
            timeout_seconds=1,
        )
    ]
    assert events == [("ADDED", "watched", 3), ("MODIFIED", "watched", 7)]


def test_selectable_fields(kube_client, namespace, crd):
    group = f"s{uuid.uuid4().hex[:8]}.metal-lb.test"
    body = crd_body(group, "widgets", "Widget")
    body["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.color"}]
    crd(body)
    custom = k.CustomObjectsApi(kube_client)
    create(custom, group, namespace, widget("r"))
    create(custom, group, namespace, widget("b", color="blue"))
    found = custom.list_namespaced_custom_object(
        group, "v1", namespace, "widgets", field_selector="spec.color=blue"
    )
    assert [i["metadata"]["name"] for i in found["items"]] == ["b"]
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(group, "v1", namespace, "widgets", field_selector="spec.size=3")
    assert err.value.status == 400


# ----------------------------------------------------------------------------------------- versions


def test_object_is_served_at_every_served_version(kube_client, namespace, crd):
    group = f"m{uuid.uuid4().hex[:8]}.metal-lb.test"
    schema = {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)}
    crd(
        crd_body(
            group,
            "widgets",
            "Widget",
            versions=[
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v2", "served": True, "storage": False, "schema": copy.deepcopy(schema)},
                {"name": "v3", "served": False, "storage": False, "schema": copy.deepcopy(schema)},
            ],
        )
    )
    custom = k.CustomObjectsApi(kube_client)
    create(custom, group, namespace, widget("multi"), version="v2")
    at_v1 = custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "multi")
    at_v2 = custom.get_namespaced_custom_object(group, "v2", namespace, "widgets", "multi")
    assert (at_v1["apiVersion"], at_v2["apiVersion"]) == (group + "/v1", group + "/v2")
    assert at_v1["spec"] == at_v2["spec"] and at_v1["metadata"]["uid"] == at_v2["metadata"]["uid"]
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(group, "v3", namespace, "widgets", "multi")
    assert err.value.status == 404
    preferred = [g for g in k.ApisApi(kube_client).get_api_versions().groups if g.name == group][0]
    assert preferred.preferred_version.version == "v2"


# ------------------------------------------------------------------------------------------ BGPPeer

_SELECTOR = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
BGPPEER_V1BETA1 = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["myASN", "peerASN", "peerAddress"],
            "properties": {
                "myASN": {"type": "integer", "format": "int32"},
                "peerASN": {"type": "integer", "format": "int32"},
                "peerAddress": {"type": "string"},
                "peerPort": {"type": "integer", "minimum": 0, "maximum": 16384},
                "holdTime": {"type": "string"},
                "keepaliveTime": {"type": "string"},
                "routerID": {"type": "string"},
                "sourceAddress": {"type": "string"},
                "password": {"type": "string"},
                "bfdProfile": {"type": "string"},
                "ebgpMultiHop": {"type": "boolean"},
                "nodeSelectors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "matchExpressions": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["key", "operator", "values"],
                                    "properties": {
                                        "key": {"type": "string"},
                                        "operator": {"type": "string"},
                                        "values": {"type": "array", "items": {"type": "string"}},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
        "status": {"type": "object"},
    },
}
BGPPEER_V1BETA2 = {
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {
            "type": "object",
            "required": ["myASN"],
            "properties": {
                "myASN": {"type": "integer"},
                "peerASN": {"type": "integer"},
                "dynamicASN": {"type": "string", "enum": ["internal", "external"]},
                "peerAddress": {"type": "string"},
                "interface": {"type": "string"},
                "peerPort": {"type": "integer", "default": 179, "minimum": 1, "maximum": 16384},
                "holdTime": {"type": "string"},
                "keepaliveTime": {"type": "string"},
                "connectTime": {"type": "string"},
                "routerID": {"type": "string"},
                "sourceAddress": {"type": "string"},
                "password": {"type": "string"},
                "passwordSecret": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
                },
                "bfdProfile": {"type": "string"},
                "ebgpMultiHop": {"type": "boolean"},
                "enableGracefulRestart": {"type": "boolean", "default": False},
                "nodeSelectors": {"type": "array", "items": _SELECTOR},
                "vrf": {"type": "string"},
            },
        },
        "status": {"type": "object"},
    },
}


def test_bgppeer_is_served_at_v1beta1_and_v1beta2(lab_api_factory, make_client, tmp_path):
    # its own server without --crds manifests: this test defines bgppeers.metallb.io itself
    server = lab_api_factory("--crds", str(tmp_path))
    api = make_client(server.kubeconfig)
    ext, custom = k.ApiextensionsV1Api(api), k.CustomObjectsApi(api)
    body = crd_body(
        "metallb.io",
        "bgppeers",
        "BGPPeer",
        versions=[
            {
                "name": "v1beta1",
                "served": True,
                "storage": False,
                "schema": {"openAPIV3Schema": BGPPEER_V1BETA1},
            },
            {
                "name": "v1beta2",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": BGPPEER_V1BETA2},
            },
        ],
    )
    body["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {
                "service": {"name": "webhook-service", "namespace": "metallb-system", "path": "/convert"}
            },
        },
    }
    ext.create_custom_resource_definition(body)
    try:
        old_style = {
            "apiVersion": "metallb.io/v1beta1",
            "kind": "BGPPeer",
            "metadata": {"name": "peer"},
            "spec": {
                "myASN": 64512,
                "peerASN": 64513,
                "peerAddress": "198.51.100.1",
                "holdTime": "90s",
                "nodeSelectors": [
                    {
                        "matchLabels": {"rack": "a"},
                        "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}],
                    },
                    {},
                ],
            },
        }
        created = custom.create_namespaced_custom_object(
            "metallb.io", "v1beta1", "default", "bgppeers", old_style
        )
        assert created["apiVersion"] == "metallb.io/v1beta1"
        stored = custom.get_namespaced_custom_object("metallb.io", "v1beta2", "default", "bgppeers", "peer")
        assert stored["spec"]["holdTime"] == "1m30s" and stored["spec"]["keepaliveTime"] == "0s"
        assert stored["spec"]["peerPort"] == 179 and stored["spec"]["enableGracefulRestart"] is False
        assert stored["spec"]["nodeSelectors"] == [
            {
                "matchLabels": {"rack": "a"},
                "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}],
            },
            {},
        ]
        back = custom.get_namespaced_custom_object("metallb.io", "v1beta1", "default", "bgppeers", "peer")
        assert back["apiVersion"] == "metallb.io/v1beta1"
        assert {
            k_: back["spec"][k_] for k_ in ("myASN", "peerASN", "peerAddress", "holdTime", "keepaliveTime")
        } == {
            "myASN": 64512,
            "peerASN": 64513,
            "peerAddress": "198.51.100.1",
            "holdTime": "1m30s",
            "keepaliveTime": "0s",
        }
        assert back["spec"]["nodeSelectors"] == [
            {
                "matchLabels": {"rack": "a"},
                "matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}],
            },
            {},
        ]
        # a v1beta1 object written back unchanged round-trips
        again = custom.replace_namespaced_custom_object(
            "metallb.io", "v1beta1", "default", "bgppeers", "peer", back
        )
        assert again["spec"] == back["spec"]
        new_style = {
            "apiVersion": "metallb.io/v1beta2",
            "kind": "BGPPeer",
            "metadata": {"name": "unnumbered"},
            "spec": {"myASN": 64512, "dynamicASN": "external", "interface": "eth1"},
        }
        custom.create_namespaced_custom_object("metallb.io", "v1beta2", "default", "bgppeers", new_style)
        legacy = custom.get_namespaced_custom_object(
            "metallb.io", "v1beta1", "default", "bgppeers", "unnumbered"
        )
        assert (legacy["spec"]["peerASN"], legacy["spec"]["peerAddress"]) == (0, "")
        assert "interface" not in legacy["spec"] and "dynamicASN" not in legacy["spec"]
        listed = custom.list_namespaced_custom_object("metallb.io", "v1beta1", "default", "bgppeers")
        assert {i["apiVersion"] for i in listed["items"]} == {"metallb.io/v1beta1"}
    finally:
        ext.delete_custom_resource_definition("bgppeers.metallb.io")


# ------------------------------------------------------------------------------------------- --crds


def test_crds_are_loaded_from_a_directory_at_start(lab_api_factory, make_client, tmp_path):
    directory = tmp_path / "crds"
    directory.mkdir()
    body = crd_body("dir.metal-lb.test", "widgets", "Widget")
    (directory / "widgets.yaml").write_text(json.dumps(body))  # JSON is YAML
    (directory / "broken.yaml").write_text(
        "kind: CustomResourceDefinition\nmetadata: {name: x.y}\nspec: {}\n"
    )
    (directory / "notes.txt").write_text("ignored")
    server = lab_api_factory("--crds", str(directory))
    custom = k.CustomObjectsApi(make_client(server.kubeconfig))
    created = custom.create_namespaced_custom_object(
        "dir.metal-lb.test", "v1", "default", "widgets", dict(widget("w"), apiVersion="dir.metal-lb.test/v1")
    )
    assert created["spec"]["color"] == "red"
    assert "broken.yaml" in server.log()  # reported on stderr, the server still started
