# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.metal.lb.plugins.module_utils.engine.install.apply_outcome import (
    CREATED,
    UNCHANGED,
    UPDATED,
    apply_outcome,
    shown,
)


def sa(rv: str, labels: dict | None = None, managers=("kubectl",), time: str = "t1") -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "speaker", "namespace": "metallb-system", "resourceVersion": rv, "uid": "u",
                         "labels": labels or {"a": "1"},
                         "managedFields": [{"manager": m, "operation": "Apply", "time": time} for m in managers]}}


def test_a_new_object_is_created():
    assert apply_outcome(None, sa("5"), dry_run=False) == CREATED
    assert apply_outcome(None, sa("5"), dry_run=True) == CREATED


def test_the_server_judges_a_real_apply_by_its_resource_version():
    assert apply_outcome(sa("5"), sa("5"), dry_run=False) == UNCHANGED
    assert apply_outcome(sa("5"), sa("6"), dry_run=False) == UPDATED


def test_a_dry_run_compares_content_but_not_timestamps():
    assert apply_outcome(sa("5", time="t1"), sa("5", time="t2"), dry_run=True) == UNCHANGED
    assert apply_outcome(sa("5"), sa("5", labels={"a": "2"}), dry_run=True) == UPDATED
    # a new manager of the same values is a stored change in a real run, so in a dry run too
    assert apply_outcome(sa("5"), sa("5", managers=("kubectl", "metal.lb")), dry_run=True) == UPDATED


def test_diffs_show_neither_server_metadata_nor_status():
    obj = dict(sa("5"), status={"x": 1})
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert shown(obj) == {"apiVersion": "v1", "kind": "ServiceAccount",
                          "metadata": {"name": "speaker", "namespace": "metallb-system", "labels": {"a": "1"}}}
    assert shown(None) == {}
