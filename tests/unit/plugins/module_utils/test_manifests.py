# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_objects: whatever ``kubectl get -o yaml|json`` or a manifest file holds."""

from __future__ import annotations

import json

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.manifests import ManifestError, load_objects

POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p"},
        "spec": {"addresses": ["198.51.100.0/24"]}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "a"},
       "spec": {"type": "LoadBalancer"}}


def test_multi_document_yaml_skips_empty_documents():
    text = "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\n---\n# only a comment\n---\n" \
           "apiVersion: v1\nkind: Namespace\nmetadata: {name: n}\n"
    assert [o["kind"] for o in load_objects(text)] == ["Service", "Namespace"]


@pytest.mark.parametrize("payload", [POOL, [POOL, SVC]])
def test_json_object_or_array(payload):
    got = load_objects(json.dumps(payload))
    assert got == (payload if isinstance(payload, list) else [payload])


def test_kind_list_is_flattened_and_nested_lists_too():
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        POOL, {"apiVersion": "v1", "kind": "List", "items": [SVC]}]})
    assert load_objects(text) == [POOL, SVC]


def test_typed_list_items_get_their_kind():
    text = ("apiVersion: v1\nkind: ServiceList\nitems:\n- metadata: {name: s, namespace: a}\n"
            "  spec: {type: LoadBalancer}\n")
    (item,) = load_objects(text)
    assert (item["kind"], item["apiVersion"], item["metadata"]["name"]) == ("Service", "v1", "s")


def test_yaml_list_output_of_kubectl():
    text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\nkind: List\nmetadata:\n" \
           "  resourceVersion: \"\"\n"
    assert [o["kind"] for o in load_objects(text)] == ["Service"]


def test_yaml_1_1_sexagesimal_numbers_stay_strings_as_kubectl_reads_them():
    (obj,) = load_objects("kind: Community\nspec:\n  communities:\n  - {name: a, value: 1234:1}\n"
                          "  n: 42\n  f: 1.5\n  h: 0x1f\n  t: 1:30\n")
    spec = obj["spec"]
    assert spec["communities"][0]["value"] == "1234:1"
    assert (spec["n"], spec["f"], spec["h"], spec["t"]) == (42, 1.5, 31, "1:30")


def test_json_that_is_not_json_falls_back_to_yaml():
    assert load_objects("{kind: Service, metadata: {name: s}}") == [{"kind": "Service", "metadata": {"name": "s"}}]


@pytest.mark.parametrize("text, fragment", [
    ("- a\n- b\n", "document 0 is not a Kubernetes object (got list)"),
    ("kind: Service\n---\n42\n", "document 1 is not a Kubernetes object (got int)"),
    ("kind: [unclosed\n", "invalid YAML"),
    ("[1, 2]", "document 0 is not a Kubernetes object (got int)"),
])
def test_errors_name_the_source(text, fragment):
    with pytest.raises(ManifestError) as info:
        load_objects(text, "file.yaml")
    assert str(info.value).startswith("file.yaml: ") and fragment in str(info.value)
