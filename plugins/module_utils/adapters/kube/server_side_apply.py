# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side apply and delete of the objects metal.lb installs (``kubectl apply --server-side``).

Server-side apply merges per field and per manager: fields other managers own (the CA bundle the
controller writes into the webhook registrations, a namespace label an operator added) stay.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ...engine.install.apply_outcome import ABSENT, DELETED, apply_outcome
from ...engine.install.kinds import object_path
from .raw_requests import APPLY_PATCH, ApiException, get_or_none, request

FIELD_MANAGER = "metal.lb"


def apply_object(api_client, obj: dict, *, field_manager: str = FIELD_MANAGER, force: bool = True,
                 dry_run: bool = False) -> tuple[str, dict | None, dict]:
    """(outcome, before, after) of applying ``obj``."""
    path = object_path(obj)
    before = get_or_none(api_client, path)
    query = [("fieldManager", field_manager), ("force", "true" if force else "false")]
    if dry_run:
        query.append(("dryRun", "All"))
    after = request(api_client, "PATCH", path, query=query, body=obj, content_type=APPLY_PATCH)
    return apply_outcome(before, after, dry_run), before, after


def delete_object(api_client, obj: dict, *, dry_run: bool = False) -> tuple[str, dict | None]:
    """(``deleted`` | ``absent``, the object as it was)."""
    path = object_path(obj)
    before = get_or_none(api_client, path)
    if before is None or (before.get("metadata") or {}).get("deletionTimestamp"):
        return ABSENT, None  # gone, or already being deleted (a namespace that is being emptied)
    # The API server reads DeleteOptions from the body when there is one and then ignores the query's
    # dryRun: the dry run must be in the body.
    options: dict = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
    if dry_run:
        options["dryRun"] = ["All"]
    try:
        request(api_client, "DELETE", path, body=options)
    except ApiException as exc:
        if exc.status == 404:
            return ABSENT, None
        raise
    return DELETED, before


def established(crd: dict | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def wait_established(api_client, crds: list[dict], timeout: float,
                     sleep: Callable[[float], None] = time.sleep) -> list[str]:
    """Wait (bounded) until every CRD in ``crds`` is Established; the names that are not."""
    deadline = time.monotonic() + timeout
    waiting = [c["metadata"]["name"] for c in crds]
    while waiting:
        waiting = [name for name in waiting if not established(get_or_none(
            api_client, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/%s" % name))]
        if not waiting or time.monotonic() >= deadline:
            break
        sleep(0.2)
    return waiting
