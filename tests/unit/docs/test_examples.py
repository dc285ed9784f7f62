# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The examples in docs/ are valid: YAML and JSON blocks parse, and the metallb.io objects of each
page form a configuration the controller accepts (the engine's parser, FRR mode's rules since
the BGP guide uses them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the examples")

DOCS = Path(__file__).resolve().parents[3] / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAGES = sorted(DOCS.rglob("*.md"))


def blocks(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text(encoding="utf-8")) if lang == language]


def metallb_objects(value) -> list[dict]:
    """metallb.io objects in a YAML document: top-level, in a list, or in a list under a key
    (``metal_lb_config:``, ``resources:``)."""
    if isinstance(value, list):
        return [obj for item in value for obj in metallb_objects(item)]
    if not isinstance(value, dict):
        return []
    if str(value.get("apiVersion", "")).startswith("metallb.io/"):
        return [value]
    return [obj for item in value.values() if isinstance(item, list) for obj in metallb_objects(item)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_yaml_and_json_blocks_parse(page):
    for body in blocks(page, "yaml"):
        list(yaml.safe_load_all(body))
    for body in blocks(page, "json"):
        json.loads(body)


def page_objects(page: Path) -> list[dict]:
    try:
        return [obj for body in blocks(page, "yaml") for doc in yaml.safe_load_all(body)
                for obj in metallb_objects(doc)]
    except yaml.YAMLError:
        return []  # test_yaml_and_json_blocks_parse reports it


PAGES_WITH_OBJECTS = [page for page in PAGES if page_objects(page)]


@pytest.mark.parametrize("page", PAGES_WITH_OBJECTS, ids=lambda p: str(p.relative_to(DOCS)))
def test_metallb_objects_of_a_page_are_a_valid_configuration(page):
    result = parse_config(page_objects(page), namespace="metallb-system", bgp_type="frr")
    assert not result.errors, [str(e) for e in result.errors]


def test_the_guides_have_objects_to_check():
    assert {"layer2-guide.md", "bgp-guide.md", "installation.md"} <= {page.name for page in PAGES_WITH_OBJECTS}


def test_an_invalid_example_is_refused():
    pool = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
            "metadata": {"name": "reversed", "namespace": "metallb-system"},
            "spec": {"addresses": ["198.51.100.20-198.51.100.10"]}}
    assert metallb_objects({"metal_lb_config": [pool]}) == [pool]
    assert parse_config([pool], namespace="metallb-system").errors
