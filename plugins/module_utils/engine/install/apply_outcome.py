# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Did a server-side apply change an object, and what does a reader see of the change.

The API server is the judge: an apply that changes nothing (not even who manages which field)
keeps the object's resourceVersion. A dry run never moves the resourceVersion, so there the object
the server would store is compared with the stored one, field by field.
"""

from __future__ import annotations

import copy

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
DELETED = "deleted"
ABSENT = "absent"

# Metadata the server maintains: shown in no diff.
VOLATILE_METADATA = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation",
                     "selfLink")


def _without_times(managed_fields) -> list:
    """managedFields with their timestamps dropped: a dry run stamps "now" on entries it touches."""
    out = []
    for entry in managed_fields or []:
        if isinstance(entry, dict):
            entry = {k: v for k, v in entry.items() if k != "time"}
        out.append(entry)
    return out


def comparable(obj: dict) -> dict:
    """``obj`` without what the server changes on every write (resourceVersion, managedFields times)."""
    out = copy.deepcopy(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("resourceVersion", None)
        if "managedFields" in meta:
            meta["managedFields"] = _without_times(meta["managedFields"])
    return out


def apply_outcome(before: dict | None, after: dict, dry_run: bool) -> str:
    """``created``, ``updated`` or ``unchanged`` for an apply that turned ``before`` into ``after``."""
    if before is None:
        return CREATED
    if not dry_run:
        rv_before = (before.get("metadata") or {}).get("resourceVersion")
        rv_after = (after.get("metadata") or {}).get("resourceVersion")
        if rv_before and rv_after:
            return UNCHANGED if rv_before == rv_after else UPDATED
    return UNCHANGED if comparable(before) == comparable(after) else UPDATED


def shown(obj: dict | None) -> dict:
    """What a diff shows of an object: no server-maintained metadata, no status."""
    if obj is None:
        return {}
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in VOLATILE_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            if not annotations:
                meta.pop("annotations")
    return out
