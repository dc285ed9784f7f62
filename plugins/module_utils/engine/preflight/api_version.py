# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""The oldest Kubernetes API server metal.lb supports: 1.29.

1.29 is where CRD validation rules (``x-kubernetes-validations``, CEL), which the shipped
metallb.io CRDs use, are GA, and it is the oldest release the required kubernetes Python client
(>= 29.0.0) is built for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MINIMUM = (1, 29)


def server_version(info: Mapping) -> tuple[int, int] | None:
    """(major, minor) from the API server's ``/version`` answer; managed clusters write ``29+``."""
    try:
        major = int(re.match(r"\d+", str(info.get("major") or "")).group())
        minor = int(re.match(r"\d+", str(info.get("minor") or "")).group())
        return major, minor
    except AttributeError:
        match = re.match(r"v?(\d+)\.(\d+)", str(info.get("gitVersion") or info.get("git_version") or ""))
        return (int(match.group(1)), int(match.group(2))) if match else None


def version_problem(info: Mapping) -> str | None:
    """None when supported, else one sentence saying what was found and what is needed."""
    found = server_version(info)
    shown = info.get("gitVersion") or info.get("git_version") or "unknown"
    if found is None:
        return "cannot tell the Kubernetes API server version from %r" % dict(info)
    if found < MINIMUM:
        return ("Kubernetes API server %s is older than %d.%d, the oldest metal.lb supports: upgrade the cluster"
                % (shown, MINIMUM[0], MINIMUM[1]))
    return None
