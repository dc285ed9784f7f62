# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The examples in docs/ are valid: YAML and JSON blocks parse, and the metallb.io objects of each
page form a configuration the controller accepts (the engine's parser, FRR mode's rules since
the BGP guide uses them).
"""

from __future__ import annotations

import importlib
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


def _module_spec(name: str) -> dict:
    module = importlib.import_module("ansible_collections.metal.lb.plugins.modules.%s" % name)
    return module.ARGUMENT_SPEC


def _allowed(spec: dict) -> dict:
    """option or alias → its spec."""
    allowed = {}
    for option, option_spec in spec.items():
        allowed[option] = option_spec
        for alias in option_spec.get("aliases") or ():
            allowed[alias] = option_spec
    return allowed


def _unknown_args(args: dict, spec: dict, path: str) -> list[str]:
    allowed = _allowed(spec)
    unknown = []
    for key, value in (args or {}).items():
        if key not in allowed:
            unknown.append("%s.%s" % (path, key))
            continue
        sub = allowed[key].get("options")
        if sub and isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    unknown += _unknown_args(item, sub, "%s.%s[]" % (path, key))
    return unknown


def module_tasks(value) -> list[tuple[str, dict]]:
    """(module, arguments) of every metal.lb module task in a YAML document (plays, task lists)."""
    found = []
    if isinstance(value, list):
        for item in value:
            found += module_tasks(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("metal.lb.") and (item is None or isinstance(item, dict)):
                found.append((key[len("metal.lb."):], item or {}))
            elif key in ("tasks", "pre_tasks", "post_tasks", "block", "rescue", "always", "handlers"):
                found += module_tasks(item)
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_module_tasks_use_existing_options(page):
    problems = []
    for body in blocks(page, "yaml"):
        for doc in yaml.safe_load_all(body):
            for module, args in module_tasks(doc):
                try:
                    spec = _module_spec(module)
                except ImportError:
                    problems.append("no module metal.lb.%s" % module)
                    continue
                problems += _unknown_args(args, spec, "metal.lb.%s" % module)
    assert not problems, problems


def test_module_task_check_notices_a_wrong_option():
    tasks = module_tasks([{"name": "x", "metal.lb.config": {"pool_name": "a", "pools": [{"nme": "b"}]}}])
    assert tasks == [("config", {"pool_name": "a", "pools": [{"nme": "b"}]})]
    assert _unknown_args(tasks[0][1], _module_spec("config"), "metal.lb.config") == ["metal.lb.config.pools[].nme"]


def test_module_tasks_are_found_in_the_guides():
    pages = {page.name for page in PAGES
             if any(module_tasks(doc) for body in blocks(page, "yaml") for doc in yaml.safe_load_all(body))}
    assert {"awx.md", "layer2-guide.md", "troubleshooting.md"} <= pages


# Roles the installation guide describes before they are in the collection (marked "coming" there).
PLANNED_ROLES = ("crds", "controller", "speaker", "config")
ROLES = DOCS.parent / "roles"


def role_uses(value) -> list[tuple[str, dict]]:
    """(role, vars) of every metal.lb role a play in a YAML document lists under ``roles:``."""
    found = []
    for play in value if isinstance(value, list) else ():
        for entry in (play.get("roles") or ()) if isinstance(play, dict) else ():
            name = entry if isinstance(entry, str) else entry.get("role") if isinstance(entry, dict) else None
            if isinstance(name, str) and name.startswith("metal.lb."):
                found.append((name[len("metal.lb."):], (entry.get("vars") if isinstance(entry, dict) else None) or {}))
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_roles_exist_and_take_the_variables_given(page):
    problems = []
    for body in blocks(page, "yaml"):
        for doc in yaml.safe_load_all(body):
            for role, variables in role_uses(doc):
                spec_file = ROLES / role / "meta" / "argument_specs.yml"
                if not spec_file.exists():
                    if role not in PLANNED_ROLES:
                        problems.append("no role metal.lb.%s" % role)
                    continue
                options = yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]["main"]["options"]
                problems += ["metal.lb.%s: %s" % (role, v) for v in variables if v not in options]
    assert not problems, problems


def test_role_check_reads_plays():
    preflight = {"role": "metal.lb.preflight", "vars": {"preflight_pools": []}}
    plays = [{"hosts": "all", "roles": ["metal.lb.kube_proxy", preflight]}]
    assert role_uses(plays) == [("kube_proxy", {}), ("preflight", {"preflight_pools": []})]
