# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The minimum API server version, from /version answers as real clusters write them."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.preflight.api_version import (
    MINIMUM,
    server_version,
    version_problem,
)


@pytest.mark.parametrize("info, expected", [
    ({"major": "1", "minor": "31", "gitVersion": "v1.31.2"}, (1, 31)),
    ({"major": "1", "minor": "29+", "gitVersion": "v1.29.8-eks-a737599"}, (1, 29)),
    ({"major": "", "minor": "", "gitVersion": "v1.30.1+k3s1"}, (1, 30)),
    ({"gitVersion": "v1.28.0"}, (1, 28)),
    ({}, None),
])
def test_server_version(info, expected):
    assert server_version(info) == expected


def test_minimum_is_1_29():
    assert MINIMUM == (1, 29)
    assert version_problem({"major": "1", "minor": "29", "gitVersion": "v1.29.0"}) is None
    assert version_problem({"major": "2", "minor": "0"}) is None


def test_older_is_refused_naming_both_versions():
    problem = version_problem({"major": "1", "minor": "28", "gitVersion": "v1.28.9"})
    assert "v1.28.9" in problem and "1.29" in problem


def test_unreadable_version_says_so():
    assert "cannot tell" in version_problem({"major": "x"})
