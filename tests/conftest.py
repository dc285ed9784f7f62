# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pytest setup: hypothesis profiles, markers and a per-test time limit.

Set here rather than only in pyproject.toml because ansible-test units runs pytest with its own
ini file (and --strict-markers) and a cleaned environment, so neither pyproject.toml nor
HYPOTHESIS_PROFILE reaches it.
"""

from __future__ import annotations

import os
import sys

import pytest

# Shared test builders (tests/support/kube_objects.py) are importable from every test directory.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # hypothesis is a test requirement; without it only non-property tests run
    settings = None

# A hung test must not hold CI: with pytest-timeout installed, every test without its own
# @pytest.mark.timeout gets this many seconds. A safety net only; tests never assert timing.
DEFAULT_TEST_TIMEOUT = 300

MARKERS = (
    "lab: needs root and network namespaces (tests/lab)",
    "integration: talks to a Kubernetes API (the real kube-apiserver of make k8s, or METAL_LB_TEST_KUBECONFIG)",
    "slow: takes more than a few seconds",
)

if settings is not None:
    # "ci" (the default): reproducible and never timing-dependent (tests assert behaviour, not speed).
    settings.register_profile(
        "ci",
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", deadline=None, max_examples=50)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config):
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def pytest_collection_modifyitems(config, items):
    if not config.pluginmanager.hasplugin("timeout") or config.getoption("timeout", None):
        return
    for item in items:
        if item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(DEFAULT_TEST_TIMEOUT))
