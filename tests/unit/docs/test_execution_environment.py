# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution-environment files: what ansible-builder reads must name every requirement.

meta/execution-environment.yml points ansible-builder at requirements.txt and bindep.txt; these
tests keep those files complete (every third-party package the plugins import is required) and
shipped (not dropped by galaxy.yml's build_ignore), and keep the example definition in
docs/awx/ in step with galaxy.yml and meta/runtime.yml.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the execution-environment files")
requirements_mod = pytest.importorskip("packaging.requirements", reason="packaging parses requirements.txt")
specifiers_mod = pytest.importorskip("packaging.specifiers")
utils_mod = pytest.importorskip("packaging.utils")

ROOT = Path(__file__).resolve().parents[3]
META_EE = ROOT / "meta" / "execution-environment.yml"
EXAMPLE_EE = ROOT / "docs" / "awx" / "execution-environment.yml"

# Imported by the plugins but provided by a package the collection already requires: import name →
# the requirement that pulls it in (checked against that package's own metadata below).
PROVIDED_BY = {
    "urllib3": "kubernetes",
    "cryptography": "ansible-core",  # every execution environment and control node has ansible-core
}
# Not third-party: the Ansible runtime itself and the collection's own packages.
ANSIBLE_ROOTS = {"ansible", "ansible_collections", "__future__"}

# Top-level keys and dependency keys of ansible-builder's version 3 definition format.
EE_V3_KEYS = {"version", "build_arg_defaults", "dependencies", "images", "additional_build_steps",
              "additional_build_files", "options"}
EE_V3_DEPENDENCY_KEYS = {"python", "system", "galaxy", "python_interpreter", "ansible_core", "ansible_runner",
                         "exclude"}

BINDEP_LINE = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9.+_-]*)(?:\s+\[(?P<selectors>[^\]]*)\])?$")


def _load(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _lines(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.split("#", 1)[0].strip()]


def _requirements() -> dict:
    reqs = {}
    for line in _lines(ROOT / "requirements.txt"):
        req = requirements_mod.Requirement(line)
        reqs[utils_mod.canonicalize_name(req.name)] = req
    return reqs


def _bindep() -> dict:
    entries = {}
    for line in _lines(ROOT / "bindep.txt"):
        match = BINDEP_LINE.match(line)
        assert match, "bindep.txt: not a bindep line: %r" % line
        entries[match.group("name")] = (match.group("selectors") or "").split()
    return entries


def _ignored(path: str, patterns: list) -> bool:
    """galaxy.yml's build_ignore as ansible-galaxy applies it: a pattern matches a path or a parent."""
    parts = path.split("/")
    return any(fnmatch.fnmatch("/".join(parts[:i]), pattern)
               for i in range(1, len(parts) + 1) for pattern in patterns)


def _third_party_imports() -> dict:
    """Top-level names imported anywhere under plugins/ (also inside try/except) → one file that does."""
    found: dict = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ANSIBLE_ROOTS or top in sys.stdlib_module_names:
                    continue
                found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_collection_metadata_names_requirements_and_bindep():
    meta = _load(META_EE)
    assert meta["dependencies"] == {"python": "requirements.txt", "system": "bindep.txt"}
    for name in meta["dependencies"].values():
        assert (ROOT / name).is_file(), name
        assert not Path(name).is_absolute()  # ansible-builder refuses absolute paths in a collection


def test_dependency_files_ship_in_the_collection_artifact():
    patterns = _load(ROOT / "galaxy.yml").get("build_ignore") or []
    shipped = ["meta/execution-environment.yml", *_load(META_EE)["dependencies"].values()]
    dropped = [path for path in shipped if _ignored(path, patterns)]
    assert not dropped, "galaxy.yml build_ignore drops %s: ansible-builder could not read them" % dropped


def test_build_ignore_check_recognises_a_dropped_file():
    assert _ignored("meta/execution-environment.yml", ["meta"])
    assert _ignored("requirements.txt", ["*.txt"])
    assert not _ignored("requirements.txt", ["requirements-dev.txt"])


def test_requirements_txt_parses_and_names_each_package_once():
    names = [utils_mod.canonicalize_name(requirements_mod.Requirement(line).name)
             for line in _lines(ROOT / "requirements.txt")]
    assert names and len(names) == len(set(names))


def test_every_third_party_import_is_required():
    reqs = _requirements()
    distributions = importlib.metadata.packages_distributions()
    missing, unknown = [], []
    for top, where in sorted(_third_party_imports().items()):
        dists = [utils_mod.canonicalize_name(d) for d in distributions.get(top, ())]
        if not dists:
            if top not in PROVIDED_BY and not any(utils_mod.canonicalize_name(top) == r for r in reqs):
                unknown.append("%s (imported in %s)" % (top, where))
        elif not any(d in reqs for d in dists) and top not in PROVIDED_BY:
            missing.append("%s (package %s, imported in %s)" % (top, dists[0], where))
    assert not missing, "requirements.txt lacks: %s" % "; ".join(missing)
    if unknown:  # the project venv has every package; a narrower test venv may not
        pytest.skip("not installed here, so their packages are unknown: %s" % "; ".join(unknown))


@pytest.mark.parametrize("module, parent", sorted(PROVIDED_BY.items()))
def test_indirect_requirements_really_come_with_their_parent(module, parent):
    assert module in _third_party_imports(), "%s is no longer imported: drop it from PROVIDED_BY" % module
    parent_key = utils_mod.canonicalize_name(parent)
    assert parent_key in _requirements() or parent_key == "ansible-core"
    dists = {utils_mod.canonicalize_name(d) for d in importlib.metadata.packages_distributions().get(module, ())}
    if not dists:
        pytest.skip("%s is not installed here" % module)
    try:
        requires = importlib.metadata.requires(parent)
    except importlib.metadata.PackageNotFoundError:
        requires = None
    if not requires:  # ansible-test runs ansible-core from a source tree: no requirements metadata
        pytest.skip("%s lists no requirements here" % parent)
    names = {utils_mod.canonicalize_name(requirements_mod.Requirement(r).name) for r in requires
             if "extra ==" not in r}
    assert dists & names, "%s does not require %s" % (parent, module)


def test_bindep_parses_and_has_a_runtime_entry():
    entries = _bindep()
    runtime = [name for name, selectors in entries.items() if "test" not in selectors]
    assert runtime, "bindep.txt: no entry outside the test profile"


def test_example_definition_is_ansible_builder_v3():
    ee = _load(EXAMPLE_EE)
    assert ee["version"] == 3
    assert set(ee) <= EE_V3_KEYS, set(ee) - EE_V3_KEYS
    assert set(ee["dependencies"]) <= EE_V3_DEPENDENCY_KEYS, set(ee["dependencies"]) - EE_V3_DEPENDENCY_KEYS
    # The collection's own metadata brings its requirements; the example must not fork them.
    assert "python" not in ee["dependencies"] and "system" not in ee["dependencies"]


def test_example_definition_installs_this_version_of_the_collection():
    galaxy = _load(ROOT / "galaxy.yml")
    tarball = "%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    ee = _load(EXAMPLE_EE)
    collections = ee["dependencies"]["galaxy"]["collections"]
    assert [Path(c["name"]).name for c in collections] == [tarball]
    assert all(c.get("type") == "file" for c in collections)
    copied = {Path(f["src"]).name: f["dest"] for f in ee["additional_build_files"]}
    assert copied.get(tarball) == str(Path(collections[0]["name"]).parent)


def test_example_definition_ansible_core_matches_requires_ansible():
    requires = specifiers_mod.SpecifierSet(_load(ROOT / "meta" / "runtime.yml")["requires_ansible"])
    core = requirements_mod.Requirement(_load(EXAMPLE_EE)["dependencies"]["ansible_core"]["package_pip"])
    assert utils_mod.canonicalize_name(core.name) == "ansible-core"
    assert core.specifier == requires


def test_example_definition_excludes_only_bindep_packages():
    excluded = _load(EXAMPLE_EE)["dependencies"].get("exclude", {}).get("system", [])
    assert set(excluded) <= set(_bindep()), set(excluded) - set(_bindep())
