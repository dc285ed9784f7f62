# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/reference/annotations.md names every annotation and label key the code reads or writes.

The keys come from the engine's vocabulary (every constant shaped like a Kubernetes key) and the
Service annotations the converge step reads, in both MetalLB prefixes.
"""

from __future__ import annotations

import re
from pathlib import Path

from ansible_collections.metal.lb.plugins.module_utils.engine import service, vocabulary

PAGE = Path(__file__).resolve().parents[3] / "docs" / "reference" / "annotations.md"
KEY = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")


def vocabulary_keys() -> set:
    keys = {value for name, value in vars(vocabulary).items()
            if name.isupper() and isinstance(value, str) and KEY.match(value)}
    for name in (service.ADDRESS_POOL, service.LOAD_BALANCER_IPS, "allow-shared-ip"):
        keys |= {vocabulary.STABLE_PREFIX + name, vocabulary.DEPRECATED_PREFIX + name}
    return keys


def test_vocabulary_holds_the_known_keys():
    keys = vocabulary_keys()
    assert {"metallb.io/ip-allocated-from-pool", "metallb.io/loadBalancerIPs",
            "node.kubernetes.io/exclude-from-external-load-balancers"} <= keys
    assert not any(k.endswith("/v1beta1") or k.endswith("/v1beta2") for k in keys)


def test_every_key_is_documented():
    text = PAGE.read_text(encoding="utf-8")
    missing = sorted(k for k in vocabulary_keys() if "`%s`" % k not in text)
    assert not missing, "not in docs/reference/annotations.md: %s" % missing
