#!/usr/bin/env bash
# The collection artifact gate: .ci/collection.sh VENV_BIN
#
# Builds the tarball users install (ansible-galaxy collection build) from the files git would track,
# installs it into an empty collections path, and checks that what got installed is whole: every
# plugin imports from the installed tree, every module and filter has readable documentation, the
# playbooks and roles resolve by their FQCNs, and nothing from development (build/, .venv, lab/,
# the pytest suites) slipped in. Leaves the tarball in build/dist.
set -euo pipefail

venv_bin=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p build/dist
work=$(mktemp -d "$root/build/collection.XXXXXX")
trap 'rm -rf "$work"' EXIT

src="$work/src"
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$src"

version=$("$venv_bin/python" -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["version"])' galaxy.yml)
tarball="build/dist/metal-lb-$version.tar.gz"
rm -f "$tarball"
"$venv_bin/ansible-galaxy" collection build "$src" --output-path build/dist --force >/dev/null
echo "collection: built $tarball ($(du -h "$tarball" | cut -f1), $(tar -tzf "$tarball" | wc -l) entries)"

# Nothing of the development tree ships.
leaked=$(tar -tzf "$tarball" | grep -E '^(build|\.venv|lab|benchmarks|examples|tests/(integration|lab|output)|\.git)(/|$)|__pycache__|\.pyc$' || true)
if [ -n "$leaked" ]; then
    echo "collection: the tarball carries development files:" >&2
    echo "$leaked" | head -20 >&2
    exit 1
fi

installed="$work/collections"
export ANSIBLE_COLLECTIONS_PATH="$installed"
"$venv_bin/ansible-galaxy" collection install "$tarball" -p "$installed" --offline --no-deps >/dev/null
tree="$installed/ansible_collections/metal/lb"
test -f "$tree/MANIFEST.json" -a -f "$tree/FILES.json"

# Every Python file under plugins/ imports from the installed copy (not from this checkout).
(cd "$work" && PYTHONPATH="$installed" "$venv_bin/python" - "$tree" <<'EOF'
import importlib
import pathlib
import sys

tree = pathlib.Path(sys.argv[1])
names = sorted(
    "ansible_collections.metal.lb." + ".".join(p.relative_to(tree).with_suffix("").parts)
    for p in (tree / "plugins").rglob("*.py")
    if p.name != "__init__.py"
)
failed = []
for name in names:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # report them all, then fail
        failed.append("%s: %s: %s" % (name, type(exc).__name__, exc))
        continue
    if not str(module.__file__).startswith(str(tree)):
        failed.append("%s imported from %s, not from the installed collection" % (name, module.__file__))
if failed:
    sys.exit("collection: imports failed:\n  " + "\n  ".join(failed))
print("collection: %d plugin files import from the installed collection" % len(names))
EOF
)

modules=$(cd "$tree/plugins/modules" && ls ./*.py | sed 's|^\./||; s|\.py$||' | grep -v '^_' || true)
filters=$(cd "$tree/plugins/filter" && ls ./*.yml | sed 's|^\./||; s|\.yml$||')
# shellcheck disable=SC2046
"$venv_bin/ansible-doc" -t module $(printf 'metal.lb.%s ' $modules) >/dev/null
# shellcheck disable=SC2046
"$venv_bin/ansible-doc" -t filter $(printf 'metal.lb.%s ' $filters) >/dev/null
echo "collection: ansible-doc reads $(echo "$modules" | wc -w) modules and $(echo "$filters" | wc -w) filters"

roles=$(ls "$tree/roles")
# shellcheck disable=SC2046
"$venv_bin/ansible-doc" -t role $(printf 'metal.lb.%s ' $roles) >/dev/null
printf '[metal_lb_controllers]\ncp1\n[metal_lb_speakers]\nnode1\n' >"$work/inventory.ini"
for p in "$tree"/playbooks/*.yml; do
    (cd "$work" && "$venv_bin/ansible-playbook" --syntax-check -i inventory.ini "metal.lb.$(basename "$p" .yml)" >/dev/null)
done
echo "collection: $(echo "$roles" | wc -w) roles documented, $(ls "$tree"/playbooks/*.yml | wc -l) playbooks parse by FQCN"
