# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/reference/: every CRD field and every role variable is documented, and the pages are current.

Two checks: the committed pages equal what docs/reference/generate.py writes from the CRD
schemas and the roles' argument specs (run it after changing either), and, independently of the
generator, every property name of every CRD version and every role variable appears in its page.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the CRDs and argument specs")

ROOT = Path(__file__).resolve().parents[3]
GENERATOR = ROOT / "docs" / "reference" / "generate.py"
CRDS_PAGE = ROOT / "docs" / "reference" / "crds.md"
ROLES_PAGE = ROOT / "docs" / "reference" / "role-variables.md"
STANDARD = {"apiVersion", "kind", "metadata"}


def _generator():
    spec = importlib.util.spec_from_file_location("metal_lb_docs_generate", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _crd_versions():
    for path in sorted((ROOT / "manifests" / "crds").glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                    for version in doc["spec"]["versions"]:
                        yield doc["spec"]["names"]["kind"], version["name"], version["schema"]["openAPIV3Schema"]


def _property_names(schema, top=True) -> set:
    """Every property name at any depth (through items and additionalProperties)."""
    names = set()
    if not isinstance(schema, dict):
        return names
    for name, sub in (schema.get("properties") or {}).items():
        if top and name in STANDARD:
            continue
        names.add(name)
        names |= _property_names(sub, top=False)
    for key in ("items", "additionalProperties"):
        names |= _property_names(schema.get(key), top=False)
    return names


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    following = text.find("\n### ", start + len(heading))
    return text[start:following if following != -1 else len(text)]


def _documented_leaves(section: str) -> set:
    """The last segment of every field path in a section's table rows."""
    paths = re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
    return {re.split(r"[.\[\]]+", path.replace("<key>", "").rstrip(".[]"))[-1] for path in paths}


def test_pages_are_what_the_generator_writes():
    generator = _generator()
    stale = [str(page.relative_to(ROOT)) for page, text in generator.pages().items()
             if page.read_text(encoding="utf-8") != text]
    assert not stale, "out of date: %s; run python docs/reference/generate.py" % ", ".join(stale)


def test_every_crd_field_is_documented():
    text = CRDS_PAGE.read_text(encoding="utf-8")
    missing = []
    seen_versions = 0
    for kind, version, schema in _crd_versions():
        heading = "### %s metallb.io/%s " % (kind, version)
        assert heading in text, "no section for %s %s" % (kind, version)
        documented = _documented_leaves(_section(text, heading))
        missing += ["%s %s: %s" % (kind, version, name) for name in sorted(_property_names(schema) - documented)]
        seen_versions += 1
    assert seen_versions >= 10  # nine kinds, BGPPeer in two versions
    assert not missing, "fields without documentation: %s" % "; ".join(missing)


def test_field_check_notices_an_undocumented_field():
    schema = {"properties": {"spec": {"properties": {"brandNew": {"type": "string"}}}}}
    documented = _documented_leaves("### X metallb.io/v1 (storage)\n| `spec` | object | | |\n")
    assert _property_names(schema) - documented == {"brandNew"}


def test_every_role_variable_is_documented():
    text = ROLES_PAGE.read_text(encoding="utf-8")
    missing = []
    for path in sorted((ROOT / "roles").glob("*/meta/argument_specs.yml")):
        with path.open(encoding="utf-8") as handle:
            specs = (yaml.safe_load(handle) or {}).get("argument_specs") or {}
        role = path.parents[1].name
        for entry, spec in specs.items():
            heading = "### metal.lb.%s" % role + ("" if entry == "main" else " (tasks_from: %s)" % entry)
            assert heading + "\n" in text, "no section for %s" % heading
            section = _section(text, heading + "\n")
            for name in (spec or {}).get("options") or {}:
                if "| `%s` |" % name not in section:
                    missing.append("%s: %s" % (role, name))
    assert not missing, "role variables without documentation: %s" % "; ".join(missing)


def test_generator_lists_nested_list_fields_with_brackets():
    generator = _generator()
    schema = {"properties": {"spec": {"type": "object", "properties": {
        "selectors": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string"}},
                                                 "required": ["key"]}}}}}}
    rows = [(path, required) for path, _sub, required in generator.schema_fields(schema)]
    assert rows == [("spec", False), ("spec.selectors", False), ("spec.selectors[].key", True)]


def test_every_cli_flag_is_documented():
    generator = _generator()
    text = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    commands = generator.subcommands(generator.cli_parser())
    assert {"plan", "validate", "convert", "controller", "speaker", "status"} <= {name for name, _h, _p in commands}
    missing = []
    for name, _help, parser in commands:
        heading = "### metal-lb %s\n" % name
        assert heading in text, "no section for metal-lb %s" % name
        section = _section(text, heading)
        for action in parser._actions:  # argparse's list of the command's options
            missing += ["%s %s" % (name, flag) for flag in action.option_strings
                        if flag not in ("-h", "--help") and "`%s`" % flag not in section]
    assert not missing, "flags without documentation: %s" % "; ".join(missing)


def test_every_metric_is_documented():
    generator = _generator()
    text = (ROOT / "docs" / "reference" / "metrics.md").read_text(encoding="utf-8")
    names = {sample.name for _daemon, family in generator.metric_families() for sample in family.samples
             if not sample.name.endswith("_created")}
    assert {"metallb_allocator_addresses_total", "metallb_speaker_announced",
            "metal_lb_membership_live_members"} <= names
    missing = sorted(name for name in names if "`%s`" % name not in text)
    assert not missing, "metrics without documentation: %s" % missing


def test_metric_names_in_the_guides_are_exported():
    """A series named in the guides is one the daemons export (PromQL needs the exact name)."""
    generator = _generator()
    names = {sample.name for _daemon, family in generator.metric_families() for sample in family.samples}
    unknown = []
    for page in sorted((ROOT / "docs").rglob("*.md")):
        text = page.read_text(encoding="utf-8")
        for name in re.findall(r"`((?:metallb|metal_lb_(?:controller|layer2|membership))_[a-z0-9_]*[a-z0-9])"
                               r"(?![*a-z0-9_])", text):
            if name not in names and not name.startswith("metallb_bgp_"):
                unknown.append("%s: %s" % (page.relative_to(ROOT), name))
    assert not unknown, "not exported: %s" % "; ".join(unknown)


def test_every_module_is_in_the_modules_table():
    text = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")
    table = text.split("\n## ", 1)[0]
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.stem.startswith("_"))
    assert len(modules) >= 7
    missing = [m for m in modules if "| `metal.lb.%s` |" % m not in table]
    assert not missing, "docs/modules.md does not list: %s" % missing
