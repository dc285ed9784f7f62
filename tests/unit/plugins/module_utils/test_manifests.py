# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""load_objects: whatever ``kubectl get -o yaml|json`` or a manifest file holds."""

from __future__ import annotations

import json

import pytest

import yaml

from ansible_collections.metal.lb.plugins.module_utils.engine.manifests import (
    MAX_DEPTH,
    KubeLoader,
    ManifestError,
    decode_text,
    load_objects,
)

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


# -- read defensively --------------------------------------------------------------------

def test_nesting_is_bounded_before_anything_recurses():
    ok = "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    assert load_objects(ok)
    with pytest.raises(ManifestError, match="invalid YAML: nesting deeper than 100 levels at line 1"):
        load_objects("x: " + "[" * 50000)
    with pytest.raises(ManifestError, match="invalid YAML: nesting deeper than 100 levels"):
        load_objects("x:\n" + "".join(" " * i + "- \n" for i in range(150)))


def test_deep_json_is_refused_without_recursion_error():
    for depth in (150, 50000):
        with pytest.raises(ManifestError, match="invalid JSON: nesting deeper than 100 levels"):
            load_objects("[" * depth + "]" * depth)


def test_alias_bombs_are_refused_ordinary_aliases_and_merge_keys_are_not():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        "%s: &%s [%s]\n" % (c, c, ", ".join(["*" + p] * 9)) for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(ManifestError, match="document contains excessive aliasing"):
        load_objects(bomb)
    (obj,) = load_objects("base: &base {zone: a, rack: '1'}\nkind: Node\nmetadata:\n  labels:\n    <<: *base\n"
                          "    extra: b\nother: *base\n")
    assert obj["metadata"]["labels"] == {"zone": "a", "rack": "1", "extra": "b"}
    assert obj["other"] == {"zone": "a", "rack": "1"}


@pytest.mark.parametrize("text, message", [
    ("a: &a [*a]\n", "found recursive alias a at line 1, column 8"),
    ("a: *nowhere\n", "found undefined alias nowhere"),
    ("kind: Node\nkind: Pod\n", 'found duplicate key "kind" at line 2, column 1'),
    ("a: &x 1\nb: &x 2\n", "found duplicate anchor x"),
    ("a: " + "9" * 5000 + "\n", "Exceeds the limit (4300 digits) for integer string conversion"),
])
def test_refusals_are_one_line(text, message):
    with pytest.raises(ManifestError) as info:
        load_objects(text, "f.yaml")
    assert message in str(info.value) and "\n" not in str(info.value)
    assert str(info.value).startswith("f.yaml: invalid YAML: ")


def test_bounded_loader_reads_what_the_plain_loader_reads():
    text = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  annotations: {a: '1', b: yes}\nspec:\n"
            "  ports: [{port: 80, protocol: TCP}]\n  x: [1, 2.5, null, true, 0x1f, '08', 1:30]\n---\n- 1\n")
    assert list(yaml.load_all(text, Loader=KubeLoader)) == [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "annotations": {"a": "1", "b": True}},
         "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "x": [1, 2.5, None, True, 31, "08", "1:30"]}}, [1]]


def test_text_that_is_not_utf8_is_unreadable():
    with pytest.raises(ManifestError, match=r"^m.yaml: unreadable: not UTF-8 text \(byte 0xc3 at offset 9\)$"):
        decode_text(b"kind: caf\xc3\xe9\n", "m.yaml")
    assert decode_text(b"\xef\xbb\xbfkind: Node\n") == "kind: Node\n"  # a BOM is fine
