# metal.lb — developer and CI entry points.
#   make lab    the main job (see README.md)
#   make test   every test and gate CI runs (.ci/run calls it)
# Everything runs from a project venv (.venv) built from requirements-dev.txt.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
ANSIBLE_PY  ?= 3.11
VENV        := $(CURDIR)/.venv
VPY         := $(VENV)/bin/python
VBIN        := $(VENV)/bin
VENV_STAMP  := $(VENV)/.metal-lb-stamp
BUILD       := $(CURDIR)/build
# pytest imports the collection as ansible_collections.metal.lb through a symlink farm; ansible-test
# needs a real copy, which .ci/ansible-test.sh makes for each run.
PYTEST_ROOT := $(BUILD)/pytest
PYTEST_LINK := $(PYTEST_ROOT)/ansible_collections/metal/lb
PYTEST      := PYTHONPATH=$(PYTEST_ROOT) $(VPY) -m pytest
# System packages for the lab and tests: every dpkg line of bindep.txt.
DEPS_PKGS   := $(shell awk '!/^[[:space:]]*(\#|$$)/ && /platform:dpkg/ {print $$1}' bindep.txt)

TEST_STEPS  := deps venv k8s lint unit integration lab-tests molecule sanity ansible-units ansible-lint collection

.PHONY: help venv deps k8s lint unit integration lab-tests sanity ansible-units ansible-lint collection test \
        lab lab-down lab-image lab-hosts benchmarks clean pytest-farm

help:
	@echo "make lab        build the lab, install metal.lb with site.yml, show a VIP answering and failing over (KEEP=1 keeps it)"
	@echo "make lab-hosts  the lab with its systemd hosts for Ansible, left running (make lab-image: their image)"
	@echo "make lab-down   tear the lab down"
	@echo "make test       every test and gate: $(TEST_STEPS)"
	@echo "make k8s        build kube-apiserver, kubectl and etcd (pinned in lab/k8s) into build/bin"
	@echo "make venv|deps|lint|unit|integration|lab-tests|molecule|sanity|ansible-units|ansible-lint|collection|benchmarks|clean"

# ---------------------------------------------------------------- environment

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements-dev.txt requirements.txt
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@# pip warns once per package about the machine's unused file:// index locations; drop only those lines.
	$(VPY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt 2>&1 \
	  | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; }
	@touch $@

deps:
	@if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	    echo "deps: not root or no apt-get; skipping system packages ($(DEPS_PKGS))"; \
	elif dpkg-query -W -f='$${Status}\n' $(DEPS_PKGS) 2>/dev/null | grep -vq '^install ok installed$$' \
	     || [ "$$(dpkg-query -W -f='$${Status}\n' $(DEPS_PKGS) 2>/dev/null | wc -l)" -ne "$(words $(DEPS_PKGS))" ]; then \
	    echo "deps: installing $(DEPS_PKGS)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq; \
	    apt-get install -y -qq --no-install-recommends $(DEPS_PKGS) >/dev/null; \
	    echo "deps: installed"; \
	else \
	    echo "deps: system packages already installed ($(DEPS_PKGS))"; \
	fi

# The real Kubernetes API server, kubectl and etcd the lab and the tests run, built from the Go
# module lab/k8s (pinned versions); rebuilt only when go.mod/go.sum change.
k8s:
	@lab/k8s/build.sh $(BUILD)/bin

# pytest imports the collection as ansible_collections.metal.lb through a symlink farm.
pytest-farm:
	@mkdir -p $(dir $(PYTEST_LINK))
	@ln -sfn $(CURDIR) $(PYTEST_LINK)

# ---------------------------------------------------------------- tests and gates

lint: venv
	$(VBIN)/ruff check .

unit: venv pytest-farm
	$(PYTEST) tests/unit -n auto --hypothesis-profile=ci

# pytest exits 5 when it collects nothing; an empty suite is not a failure of these steps.
integration: venv k8s pytest-farm
	@if [ -d tests/integration ]; then \
	    $(PYTEST) tests/integration --hypothesis-profile=ci || rc=$$?; \
	    if [ "$${rc:-0}" = 5 ]; then echo "integration: no tests collected"; else exit $${rc:-0}; fi; \
	else echo "integration: tests/integration does not exist yet"; fi

lab-tests: venv k8s lab-image pytest-farm
	@if [ -d tests/lab ]; then \
	    $(PYTEST) tests/lab --hypothesis-profile=ci || rc=$$?; \
	    if [ "$${rc:-0}" = 5 ]; then echo "lab-tests: no tests collected"; else exit $${rc:-0}; fi; \
	else echo "lab-tests: tests/lab does not exist yet"; fi

# The molecule scenarios (extensions/molecule/), one after the other: each boots a lab of its own with
# systemd hosts (build/molecule/<scenario>/) and removes it again, also when it fails. SCENARIOS=...
# runs some. Skipped (like the lab tests) where the lab cannot run.
.PHONY: molecule
MOLECULE_SCENARIOS = $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard extensions/molecule/*/molecule.yml))))
molecule: venv k8s lab-image pytest-farm
	@reason=$$($(VPY) -c 'from lab.cluster import missing_requirements as m; print(m(True) or "")'); \
	if [ -n "$$reason" ]; then echo "molecule: skipped: $$reason"; exit 0; fi; \
	summary=(); status=0; \
	for scenario in $(or $(SCENARIOS),$(MOLECULE_SCENARIOS)); do \
	    start=$$(date +%s); \
	    if PATH=$(VBIN):$$PATH $(VBIN)/molecule test -s $$scenario; then result=ok; else result=FAILED; status=1; fi; \
	    summary+=("$$(printf 'molecule %-12s %-7s %4ss' $$scenario $$result $$(( $$(date +%s) - start )))"); \
	done; \
	printf '%s\n' "$${summary[@]}"; exit $$status

sanity: venv
	.ci/ansible-test.sh $(VBIN) sanity --venv --python $(ANSIBLE_PY)

ansible-units: venv
	.ci/ansible-test.sh $(VBIN) units --venv --python $(ANSIBLE_PY)

ansible-lint: venv pytest-farm
	ANSIBLE_COLLECTIONS_PATH=$(PYTEST_ROOT) PATH=$(VBIN):$$PATH $(VBIN)/ansible-lint --profile production

# The tarball users install: builds, installs into an empty path, imports and documents cleanly.
collection: venv
	@.ci/collection.sh $(VBIN)

# Every step in order; stops at the first failure and prints what ran, how long, and the result.
test:
	@summary=(); status=0; total_start=$$(date +%s); \
	for step in $(TEST_STEPS); do \
	    echo; echo "==== make $$step"; start=$$(date +%s); \
	    if $(MAKE) --no-print-directory $$step; then result=ok; else result=FAILED; status=1; fi; \
	    summary+=("$$(printf '%-14s %-7s %4ss' $$step $$result $$(( $$(date +%s) - start )))"); \
	    [ $$status = 0 ] || break; \
	done; \
	echo; echo "==== summary"; printf '%s\n' "$${summary[@]}"; \
	echo "total          $$([ $$status = 0 ] && echo ok || echo FAILED) $$(( $$(date +%s) - total_start ))s"; \
	exit $$status

# ---------------------------------------------------------------- the lab

# The namespace lab (lab/): bridge, apiserver, client, and cp1 + node1..3 as systemd hosts on which
# playbooks/site.yml installs metal.lb over SSH (twice: the second run changes nothing); then a
# 3-replica Service gets an IP, is curled and fails over. Needs root and `make deps`. KEEP=1 leaves
# it up until `make lab-down`.
lab: deps venv k8s lab-image
	@$(VPY) -m lab.demo $(if $(KEEP),--keep,)

# The lab hosts' Debian 12 image (debootstrap, cached in build/lab-image by its recipe).
lab-image: deps venv
	@$(VPY) -m lab.image

# The lab with its systemd hosts and no metal.lb, left running for Ansible (make lab-down removes it).
lab-hosts: deps venv k8s lab-image
	@$(VPY) -m lab up --hosts

lab-down: venv
	@$(VPY) -m lab.down $(if $(FORCE),--force,)

benchmarks: venv k8s pytest-farm
	@shopt -s nullglob; scripts=(benchmarks/*.py); \
	if [ $${#scripts[@]} = 0 ]; then echo "benchmarks: none yet"; fi; \
	for script in "$${scripts[@]}"; do \
	    echo "==== $$script"; PYTHONPATH=$(PYTEST_ROOT) $(VPY) "$$script"; \
	done

clean:
	rm -rf $(BUILD) tests/output .pytest_cache .hypothesis .ruff_cache
	find . -path ./.venv -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
