# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ServiceAccounts and RBAC under manifests/rbac/: least privilege for controller and speaker.

The effective grants of each ServiceAccount (every rule of every role bound to it, with its scope)
must equal the table below exactly: a missing grant breaks a daemon on a real cluster, an extra one
is privilege it does not need.
"""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read manifests/")

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
NAMESPACE = "metallb-system"
CLUSTER = "<cluster>"
ANY = "<any name>"

if not MANIFESTS.is_dir():  # e.g. a copy of the collection without manifests/
    pytest.skip(f"{MANIFESTS} does not exist", allow_module_level=True)

VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
SUBRESOURCE_VERBS = {"get", "update", "patch"}
# Built-in resources the daemons may be granted, by API group.
BUILTIN = {
    "": {
        "services",
        "services/status",
        "namespaces",
        "nodes",
        "events",
        "endpoints",
        "configmaps",
        "secrets",
        "pods",
    },
    "events.k8s.io": {"events"},
    "discovery.k8s.io": {"endpointslices"},
    "coordination.k8s.io": {"leases"},
    "admissionregistration.k8s.io": {"validatingwebhookconfigurations"},
    "apiextensions.k8s.io": {"customresourcedefinitions"},
}
CONFIG_KINDS = (
    "ipaddresspools",
    "l2advertisements",
    "bgpadvertisements",
    "bgppeers",
    "communities",
    "bfdprofiles",
)


def _grants(scope: str, group: str, resources, verbs: str, names=(ANY,)) -> set:
    return {(scope, group, r, v, n) for r in resources for v in verbs.split() for n in names}


READ = "list watch"
EXPECTED = {
    "controller": (
        _grants(CLUSTER, "", ["services"], READ)
        | _grants(CLUSTER, "", ["services/status"], "patch")
        | _grants(CLUSTER, "", ["namespaces", "nodes"], READ)
        | _grants(CLUSTER, "", ["events"], "create patch")
        | _grants(NAMESPACE, "metallb.io", CONFIG_KINDS, READ)
        | _grants(NAMESPACE, "metallb.io", ["ipaddresspools/status"], "patch")
        | _grants(NAMESPACE, "metallb.io", ["configurationstates"], "create")
        | _grants(NAMESPACE, "metallb.io", ["configurationstates/status"], "patch")
        | _grants(NAMESPACE, "", ["configmaps"], READ)
        | _grants(NAMESPACE, "coordination.k8s.io", ["leases"], "get create update")
        | _grants(CLUSTER, "admissionregistration.k8s.io", ["validatingwebhookconfigurations"], "get patch",
                  ["metallb-webhook-configuration"])
        | _grants(CLUSTER, "apiextensions.k8s.io", ["customresourcedefinitions"], "get patch",
                  ["bgppeers.metallb.io"])
        | _grants(NAMESPACE, "", ["secrets"], "get update", ["metallb-webhook-cert"])
        | _grants(NAMESPACE, "", ["secrets"], "create")
    ),
    "speaker": (
        _grants(CLUSTER, "", ["services", "nodes", "namespaces"], READ)
        | _grants(CLUSTER, "discovery.k8s.io", ["endpointslices"], READ)
        | _grants(CLUSTER, "", ["events"], "create patch")
        | _grants(NAMESPACE, "metallb.io", CONFIG_KINDS, READ)
        | _grants(NAMESPACE, "metallb.io", ["servicel2statuses"], "create list watch delete")
        | _grants(NAMESPACE, "metallb.io", ["servicel2statuses/status"], "patch")
        | _grants(NAMESPACE, "metallb.io", ["servicebgpstatuses"], "create list watch delete")
        | _grants(NAMESPACE, "metallb.io", ["servicebgpstatuses/status"], "patch")
        | _grants(NAMESPACE, "metallb.io", ["configurationstates"], "create")
        | _grants(NAMESPACE, "metallb.io", ["configurationstates/status"], "patch")
        | _grants(NAMESPACE, "", ["configmaps", "secrets"], READ)
    ),
}


def _docs(subdir: str) -> list[dict]:
    docs = []
    for path in sorted((MANIFESTS / subdir).glob("*.yaml")):
        with path.open(encoding="utf-8") as handle:
            docs += [d for d in yaml.safe_load_all(handle) if d]
    return docs


RBAC = _docs("rbac")
CRDS = _docs("crds")
ROLES = [d for d in RBAC if d["kind"] in ("ClusterRole", "Role")]
BINDINGS = [d for d in RBAC if d["kind"] in ("ClusterRoleBinding", "RoleBinding")]
ACCOUNTS = [d for d in RBAC if d["kind"] == "ServiceAccount"]


def _crd_resources() -> set[str]:
    resources = set()
    for crd in CRDS:
        plural = crd["spec"]["names"]["plural"]
        resources.add(plural)
        if any("status" in v.get("subresources", {}) for v in crd["spec"]["versions"]):
            resources.add(plural + "/status")
    return resources


def _role(kind: str, name: str, namespace: str | None) -> dict:
    (role,) = [
        r
        for r in ROLES
        if r["kind"] == kind and r["metadata"]["name"] == name and r["metadata"].get("namespace") == namespace
    ]
    return role


def _effective(account: str) -> set:
    grants = set()
    for binding in BINDINGS:
        subjects = {(s["kind"], s.get("namespace"), s["name"]) for s in binding["subjects"]}
        if ("ServiceAccount", NAMESPACE, account) not in subjects:
            continue
        ref = binding["roleRef"]
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        role = _role(ref["kind"], ref["name"], namespace)
        scope = CLUSTER if binding["kind"] == "ClusterRoleBinding" else binding["metadata"]["namespace"]
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                grants |= _grants(
                    scope,
                    group,
                    rule["resources"],
                    " ".join(rule["verbs"]),
                    rule.get("resourceNames") or [ANY],
                )
    return grants


def _strings(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif isinstance(node, str):
        yield node


def test_rbac_manifests_hold_accounts_roles_and_bindings():
    assert {a["metadata"]["name"] for a in ACCOUNTS} == set(EXPECTED)
    assert {d["kind"] for d in RBAC} == {
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    }
    for doc in ACCOUNTS + [d for d in RBAC if d["kind"] in ("Role", "RoleBinding")]:
        assert doc["metadata"].get("namespace") == NAMESPACE, f"{doc['kind']}/{doc['metadata']['name']}"
    for doc in RBAC:
        if doc["kind"] in ("ClusterRole", "ClusterRoleBinding"):
            assert "namespace" not in doc["metadata"]


def test_no_wildcard_anywhere():
    for doc in RBAC:
        for text in _strings(doc):
            assert "*" not in text, f"{doc['kind']}/{doc['metadata']['name']}: {text!r}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: f"{r['kind']}-{r['metadata']['name']}")
def test_rules_use_known_verbs_and_existing_resources(role):
    crd_resources = _crd_resources()
    assert role["rules"], "a role without rules"
    for rule in role["rules"]:
        assert set(rule) <= {"apiGroups", "resources", "verbs", "resourceNames"}, "no nonResourceURLs"
        assert rule["apiGroups"] and rule["resources"] and rule["verbs"]
        assert set(rule["verbs"]) <= VERBS, rule
        assert len(rule["verbs"]) == len(set(rule["verbs"]))
        for group in rule["apiGroups"]:
            known = crd_resources if group == "metallb.io" else BUILTIN.get(group, set())
            for resource in rule["resources"]:
                assert resource in known, f"{group}/{resource} is not a core kind or one of our CRDs"
                if "/" in resource:
                    assert set(rule["verbs"]) <= SUBRESOURCE_VERBS, f"{resource}: {rule['verbs']}"
        if rule.get("resourceNames"):
            assert "create" not in rule["verbs"] and "list" not in rule["verbs"], (
                "create/list cannot be limited by resourceNames"
            )


def test_bindings_point_at_existing_roles_and_accounts():
    names = {(a["metadata"]["namespace"], a["metadata"]["name"]) for a in ACCOUNTS}
    bound = set()
    for binding in BINDINGS:
        ref = binding["roleRef"]
        assert ref["apiGroup"] == "rbac.authorization.k8s.io"
        if binding["kind"] == "ClusterRoleBinding":
            assert ref["kind"] == "ClusterRole", "a ClusterRoleBinding can only bind a ClusterRole"
        namespace = binding["metadata"].get("namespace") if ref["kind"] == "Role" else None
        bound.add((ref["kind"], ref["name"], namespace))
        _role(ref["kind"], ref["name"], namespace)
        for subject in binding["subjects"]:
            assert subject["kind"] == "ServiceAccount"
            assert (subject["namespace"], subject["name"]) in names
    assert bound == {(r["kind"], r["metadata"]["name"], r["metadata"].get("namespace")) for r in ROLES}


@pytest.mark.parametrize("account", sorted(EXPECTED))
def test_effective_grants_are_exactly_what_the_daemon_needs(account):
    got = _effective(account)
    assert sorted(got - EXPECTED[account]) == [], "granted but not needed"
    assert sorted(EXPECTED[account] - got) == [], "needed but not granted"


@pytest.mark.parametrize("account", sorted(EXPECTED))
def test_namespaced_data_is_never_granted_cluster_wide(account):
    for scope, group, resource, _verb, _name in _effective(account):
        if scope == CLUSTER:
            assert group != "metallb.io" and resource not in {"secrets", "configmaps", "pods", "leases"}, (
                resource
            )
