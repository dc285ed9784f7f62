#!/usr/bin/env bash
# Run ansible-test on a private copy of this collection: .ci/ansible-test.sh VENV_BIN ARGS...
#
# ansible-test needs the tree at .../ansible_collections/metal/lb and resolves real paths, so it
# gets a copy (the files git would track: tracked plus untracked, not ignored). Each run has its own
# copy so that concurrent runs from one checkout do not delete each other's tree; the copy is
# removed afterwards unless the run failed (then its tests/output is kept for reading).
set -euo pipefail

venv_bin=$1
shift
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
get_pip_cache="$HOME/.ansible/test/cache"

mkdir -p "$build"
work=$(mktemp -d "$build/ansible-test.XXXXXX")
copy="$work/ansible_collections/metal/lb"
mkdir -p "$copy"

cd "$root"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # What ships: the files git would track, less galaxy.yml's build_ignore (the lab, benchmarks,
    # examples and the pytest suites are development tools, not part of the collection artifact).
    git ls-files -z --cached --others --exclude-standard \
        | "$venv_bin/python" .ci/shipped_files.py galaxy.yml \
        | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
        | tar -xf - -C "$copy"
else
    tar --exclude=./.venv --exclude=./build --exclude=./.git --exclude=./tests/output \
        --exclude=__pycache__ --exclude=.pytest_cache --exclude=.hypothesis -cf - . | tar -xf - -C "$copy"
fi
# ansible-test writes tests/output inside the copy; the copy's .gitignore keeps it out of the file list.
cp "$root/.gitignore" "$copy/.gitignore"
# An empty repository of its own, so ansible-test lists the copy's files (git ls-files --others)
# instead of walking up to this checkout's .git, where build/ is ignored.
git -C "$copy" init -q .

# ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from a host this machine
# cannot reach, unless a cached one exists: put an ensurepip-based stand-in under every name the
# installed ansible-test may ask for (get_pip_<pip version, dots as underscores>.py).
mkdir -p "$get_pip_cache"
pip_versions=$("$venv_bin/python" - <<'EOF'
import re
from pathlib import Path

import ansible_test

source = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(" ".join(sorted(set(re.findall(r"pip='([0-9.]+)'", source.read_text())))))
EOF
)
for version in $pip_versions; do
    cp "$root/.ci/get_pip_ensurepip.py" "$get_pip_cache/get_pip_${version//./_}.py"
done

echo "ansible-test $* in $copy ($(git -C "$copy" ls-files --others --exclude-standard | wc -l) files)"
status=0
(cd "$copy" && "$venv_bin/ansible-test" "$@" --color no) || status=$?
if [ "$status" = 0 ]; then
    rm -rf "$work"
else
    echo "ansible-test failed (exit $status); its copy and output are kept in $copy/tests/output"
fi
exit "$status"
