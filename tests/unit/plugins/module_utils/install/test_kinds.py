# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.metal.lb.plugins.module_utils.engine.install.kinds import KindError, object_path

MANIFESTS = Path(__file__).resolve().parents[5] / "manifests"


def test_core_namespaced_and_group_cluster_scoped_paths():
    assert object_path({"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"name": "speaker", "namespace": "metallb-system"}}) == \
        "/api/v1/namespaces/metallb-system/serviceaccounts/speaker"
    assert object_path({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                        "metadata": {"name": "ipaddresspools.metallb.io"}}) == \
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.metallb.io"
    assert object_path({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                        "metadata": {"name": "a", "namespace": "n"}}) == \
        "/apis/discovery.k8s.io/v1/namespaces/n/endpointslices/a"


def test_every_shipped_manifest_has_a_path():
    for path in sorted(MANIFESTS.rglob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for obj in yaml.safe_load_all(path.read_text()):
            assert object_path(obj).endswith("/" + obj["metadata"]["name"])


@pytest.mark.parametrize("obj, fragment", [
    ({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"}}, "kind Pod of v1 is not one"),
    ({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}, "Service/s: metadata.namespace is required"),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "namespace": "y"}},
     "metadata.namespace: a Namespace is cluster-scoped"),
    ({"kind": "Namespace", "metadata": {"name": "x"}}, "apiVersion and kind are required"),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "metadata.name is required"),
    ("text", "expected a Kubernetes object"),
])
def test_objects_it_cannot_place_are_named(obj, fragment):
    with pytest.raises(KindError, match=fragment.replace(".", r"\.")):
        object_path(obj)
