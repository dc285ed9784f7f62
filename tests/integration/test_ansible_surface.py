# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible surface as a user meets it: ansible-playbook resolving metal.lb.* by name.

Runs the real ansible-playbook of this venv against localhost (no network), with the collection
found through ANSIBLE_COLLECTIONS_PATH, so module packaging (AnsiballZ with the engine's relative
imports), filter loading and the metal.lb.validate playbook are exercised together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import ansible_collections.metal.lb as collection_package

ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
TIMEOUT = 300

GOOD_MANIFEST = """\
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: production
  namespace: metallb-system
spec:
  addresses:
    - 198.51.100.10-198.51.100.20
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata:
  name: l2
  namespace: metallb-system
"""

BAD_MANIFEST = """\
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: broken
  namespace: metallb-system
spec:
  addresses:
    - 198.51.100.20-198.51.100.10
"""


def collections_root() -> str:
    """The directory holding ansible_collections/metal/lb for this test run."""
    path = list(collection_package.__path__)[0]
    return os.path.dirname(os.path.dirname(os.path.dirname(path)))


pytestmark = pytest.mark.skipif(
    not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook is not installed"
)


def ansible_playbook(playbook: str, *extra: str, cwd: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update(
        ANSIBLE_COLLECTIONS_PATH=collections_root(),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_HOME=os.path.join(cwd, ".ansible"),
    )
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run(
        [ANSIBLE_PLAYBOOK, playbook, *extra],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
    )


def validate_playbook() -> str:
    return os.path.join(list(collection_package.__path__)[0], "playbooks", "validate.yml")


def test_the_validate_playbook_passes_a_valid_directory(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "metallb.yaml").write_text(GOOD_MANIFEST)
    done = ansible_playbook("metal.lb.validate", "-e", "manifests_dir=%s" % manifests, cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no configuration errors" in done.stdout


def test_the_validate_playbook_fails_on_an_invalid_pool_naming_it(tmp_path):
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    (manifests / "metallb.yaml").write_text(GOOD_MANIFEST)
    (manifests / "zz-broken.yaml").write_text(BAD_MANIFEST)
    done = ansible_playbook(validate_playbook(), "-e", "manifests_dir=%s" % manifests, cwd=str(tmp_path))
    assert done.returncode != 0
    assert "broken" in done.stdout
    assert "198.51.100.20-198.51.100.10" in done.stdout


def test_the_validate_playbook_asks_for_the_directory(tmp_path):
    done = ansible_playbook(validate_playbook(), cwd=str(tmp_path))
    assert done.returncode != 0
    assert "Set manifests_dir" in done.stdout


def test_the_filters_resolve_by_their_collection_names(tmp_path):
    playbook = tmp_path / "filters.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          gather_facts: false
          vars:
            pool: [198.51.100.0/24, 203.0.113.10-203.0.113.20]
          tasks:
            - ansible.builtin.assert:
                that:
                  - (pool | metal.lb.pool_validate) == []
                  - (['198.51.100.0/33'] | metal.lb.pool_validate) | length == 1
                  - (pool | metal.lb.pool_size) == 267
                  - pool | metal.lb.pool_contains('203.0.113.15')
                  - not (pool | metal.lb.pool_contains('203.0.113.21'))
                  - (pool | metal.lb.pool_overlaps(['198.51.100.128/25'])) | length == 1
                  - ('203.0.113.10-203.0.113.20' | metal.lb.range_to_cidrs) | length == 4
                  - (['198.51.100.0/25', '198.51.100.128/25'] | metal.lb.cidrs_to_range)
                    == ['198.51.100.0-198.51.100.255']
            - name: A bad entry fails the task with the filter's message
              ansible.builtin.debug:
                msg: "{{ ['not-a-range'] | metal.lb.pool_size }}"
              register: bad
              ignore_errors: true
            - ansible.builtin.assert:
                that:
                  - bad is failed
                  - "'pool_size: invalid' in bad.msg"
        """))
    done = ansible_playbook(str(playbook), cwd=str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
