# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The metallb.io CRDs, the namespace and the kustomization under manifests/.

The CRD schemas are checked the way the API server would use them: structural-schema rules, and
objects validated against each version's openAPIV3Schema (turned into JSON Schema, defaults applied,
then the x-kubernetes-validations CEL rules evaluated with cel-python when it is installed). MetalLB's
documented example manifests must pass unchanged (only their addresses are moved into the test
ranges 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32); broken variants must be rejected.
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read manifests/")

try:
    import jsonschema
except ImportError:  # a test requirement (shipped with ansible-lint); without it only the shape checks run
    jsonschema = None

try:
    import celpy
except ImportError:  # cel-python: optional; without it the CEL rules are not evaluated
    celpy = None

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
CRD_DIR = MANIFESTS / "crds"
GROUP = "metallb.io"
NAMESPACE = "metallb-system"

needs_jsonschema = pytest.mark.skipif(jsonschema is None, reason="jsonschema is not installed")
needs_cel = pytest.mark.skipif(
    celpy is None, reason="cel-python (celpy) is not installed: CEL rules not evaluated"
)

# kind -> (plural, {version: storage}, kinds that MetalLB gives a status subresource with content)
EXPECTED = {
    "IPAddressPool": ("ipaddresspools", {"v1beta1": True}),
    "L2Advertisement": ("l2advertisements", {"v1beta1": True}),
    "BGPAdvertisement": ("bgpadvertisements", {"v1beta1": True}),
    "BGPPeer": ("bgppeers", {"v1beta1": False, "v1beta2": True}),
    "Community": ("communities", {"v1beta1": True}),
    "BFDProfile": ("bfdprofiles", {"v1beta1": True}),
    "ServiceL2Status": ("servicel2statuses", {"v1beta1": True}),
    "ServiceBGPStatus": ("servicebgpstatuses", {"v1beta1": True}),
    "ConfigurationState": ("configurationstates", {"v1beta1": True}),
}
STATUS_KINDS = {"IPAddressPool", "ServiceL2Status", "ServiceBGPStatus", "ConfigurationState"}
# MetalLB's printer columns (name -> jsonPath) that kubectl get must show.
COLUMNS = {
    "IPAddressPool": {
        "Auto Assign": ".spec.autoAssign",
        "Avoid Buggy IPs": ".spec.avoidBuggyIPs",
        "Addresses": ".spec.addresses",
    },
    "BGPPeer": {
        "Address": ".spec.peerAddress",
        "ASN": ".spec.peerASN",
        "BFD Profile": ".spec.bfdProfile",
        "Multi Hops": ".spec.ebgpMultiHop",
    },
    "ServiceL2Status": {
        "Allocated Node": ".status.node",
        "Service Name": ".status.serviceName",
        "Service Namespace": ".status.serviceNamespace",
    },
    "ServiceBGPStatus": {
        "Node": ".status.node",
        "Service Name": ".status.serviceName",
        "Service Namespace": ".status.serviceNamespace",
    },
    "ConfigurationState": {"Result": ".status.result", "ErrorSummary": ".status.errorSummary"},
    "L2Advertisement": {"IPAddressPools": ".spec.ipAddressPools", "Interfaces": ".spec.interfaces"},
    "BGPAdvertisement": {"IPAddressPools": ".spec.ipAddressPools", "Peers": ".spec.peers"},
    "BFDProfile": {"Passive Mode": ".spec.passiveMode", "Multiplier": ".spec.detectMultiplier"},
}
AGGREGATION_MESSAGE = (
    "serviceSelectors and aggregationLength are mutually exclusive, can only be used together with "
    "default aggregationLength (32) and aggregationLengthV6 (128)"
)


# ------------------------------------------------------------------------------------------ loading


class KubeYAMLLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader without YAML 1.1 base-60 numbers, as Kubernetes reads YAML.

    PyYAML turns the community `1234:1` from MetalLB's docs into the integer 74041; kubectl
    (go-yaml) keeps it a string. Everything else (yes/no booleans included) resolves the same.
    """


KubeYAMLLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
KubeYAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
KubeYAMLLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)


def _load_all(text) -> list:
    return [doc for doc in yaml.load_all(text, Loader=KubeYAMLLoader) if doc is not None]


def _documents(path: Path) -> list:
    with path.open(encoding="utf-8") as handle:
        return _load_all(handle)


def _manifest_files() -> list[Path]:
    return sorted(p for p in MANIFESTS.rglob("*.yaml"))


def _load_crds() -> dict:
    crds = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for doc in _documents(path):
            crds[doc["spec"]["names"]["kind"]] = doc
    return crds


if not MANIFESTS.is_dir():  # e.g. a copy of the collection without manifests/
    pytest.skip(f"{MANIFESTS} does not exist", allow_module_level=True)

CRDS = _load_crds()


def _version(kind: str, version: str) -> dict:
    for entry in CRDS[kind]["spec"]["versions"]:
        if entry["name"] == version:
            return entry
    raise KeyError(f"{kind} has no version {version}")


def _schema(kind: str, version: str) -> dict:
    return _version(kind, version)["schema"]["openAPIV3Schema"]


def _schema_nodes(schema: dict, path: str = ""):
    """Yield (path, node) for every schema node below and including schema."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _schema_nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _schema_nodes(schema["additionalProperties"], f"{path}.*")
    if isinstance(schema.get("items"), dict):
        yield from _schema_nodes(schema["items"], f"{path}[]")
    for key in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _schema_nodes(sub, f"{path}<{key}{i}>")
    if isinstance(schema.get("not"), dict):
        yield from _schema_nodes(schema["not"], f"{path}<not>")


def _all_schemas():
    for kind, doc in sorted(CRDS.items()):
        for entry in doc["spec"]["versions"]:
            yield kind, entry["name"], entry["schema"]["openAPIV3Schema"]


ALL_SCHEMAS = [pytest.param(k, v, s, id=f"{k}-{v}") for k, v, s in _all_schemas()]
ALL_RULES = [
    pytest.param(rule, id=f"{kind}-{version}{path}-{i}")
    for kind, version, schema in _all_schemas()
    for path, node in _schema_nodes(schema)
    for i, rule in enumerate(node.get("x-kubernetes-validations", []))
]


# ------------------------------------------------------------------------- validation (the API's way)


def _to_json_schema(node):
    """openAPIV3Schema -> JSON Schema: the same keywords, minus Kubernetes' extensions.

    x-kubernetes-list-type: set becomes uniqueItems (the API server rejects duplicates in a set);
    the other x-kubernetes-* keys only steer merging and CEL, which _cel_errors handles.
    """
    if isinstance(node, list):
        return [_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "default"):
            continue
        if key in ("properties",):
            out[key] = {name: _to_json_schema(sub) for name, sub in value.items()}
        else:
            out[key] = _to_json_schema(value)
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("nullable"):
        out["type"] = [out["type"], "null"]
        out.pop("nullable")
    return out


def _apply_defaults(schema: dict, value):
    """Fill in defaults like the API server: for absent properties of objects that are present."""
    if isinstance(value, dict) and schema.get("type") == "object":
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = copy.deepcopy(sub["default"])
            if name in value:
                value[name] = _apply_defaults(sub, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in set(value) - set(schema.get("properties", {})):
                value[name] = _apply_defaults(extra, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        value = [_apply_defaults(schema["items"], item) for item in value]
    return value


def _cel_errors(schema: dict, value, old, path: str) -> list[str]:
    """Evaluate every x-kubernetes-validations rule where the value is present.

    Transition rules (those using oldSelf) run only when an old value exists, as in Kubernetes.
    """
    errors = []
    for rule in schema.get("x-kubernetes-validations", []):
        uses_old = "oldSelf" in rule["rule"]
        if uses_old and old is None:
            continue
        env = celpy.Environment()
        activation = {"self": celpy.json_to_cel(value)}
        if uses_old:
            activation["oldSelf"] = celpy.json_to_cel(old)
        try:
            result = env.program(env.compile(rule["rule"])).evaluate(activation)
        except celpy.CELEvalError as err:  # Kubernetes rejects an object whose rule errors
            errors.append(f"{path}: {rule['message']} (rule error: {err.args[0]})")
            continue
        if not (isinstance(result, (bool, celpy.celtypes.BoolType)) and bool(result)):
            errors.append(f"{path}: {rule['message']}")
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                old_sub = old.get(name) if isinstance(old, dict) else None
                errors += _cel_errors(sub, value[name], old_sub, f"{path}.{name}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            errors += _cel_errors(schema["items"], item, None, f"{path}[{i}]")
    return errors


def _admit(obj: dict, old: dict | None = None) -> list[str]:
    """Validate obj (a create, or an update of old) against its CRD; return the errors."""
    group, version = obj["apiVersion"].split("/")
    assert group == GROUP, obj["apiVersion"]
    schema = _schema(obj["kind"], version)
    errors = [
        f"{'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
        for err in jsonschema.Draft4Validator(_to_json_schema(schema)).iter_errors(obj)
    ]
    if errors:
        return errors
    defaulted = _apply_defaults(schema, copy.deepcopy(obj))
    if celpy is not None:
        old_defaulted = _apply_defaults(schema, copy.deepcopy(old)) if old is not None else None
        errors += _cel_errors(schema, defaulted, old_defaulted, "")
    return errors


def _stored(obj: dict) -> dict:
    """obj as the API server would store it: admitted, then defaulted."""
    errors = _admit(obj)
    assert errors == [], errors
    return _apply_defaults(_schema(obj["kind"], obj["apiVersion"].split("/")[1]), copy.deepcopy(obj))


# ----------------------------------------------------------- MetalLB's documented example manifests
# From MetalLB's website (configuration/_index.md, _advanced_*_configuration.md), unchanged except for
# addresses: 192.168.x/10.x/172.30.x/42.176.x/fc00:: are replaced by the documentation ranges.

DOC_EXAMPLES = """
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses:
  - 198.51.100.0/24
  - 203.0.113.1-203.0.113.5
  - 2001:db8:0ccd:e799::/124
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses:
  - 198.51.100.240-198.51.100.250
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: example, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: sample, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 203.0.113.1
---
apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: {name: sample, namespace: metallb-system}
spec:
  myASN: 64500
  peerASN: 64501
  peerAddress: 203.0.113.1
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: example, namespace: metallb-system}
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
---
apiVersion: metallb.io/v1beta1
kind: BFDProfile
metadata: {name: testbfdprofile, namespace: metallb-system}
spec:
  receiveInterval: 380
  transmitInterval: 270
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: peersample, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 203.0.113.3
  bfdProfile: testbfdprofile
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: local, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  aggregationLength: 32
  localPref: 100
  communities:
  - 65535:65282
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: external, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  aggregationLength: 24
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: example, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 203.0.113.3
  peerPort: 180
  nodeSelectors:
  - matchLabels:
      rack: frontend
    matchExpressions:
    - key: network-speed
      operator: NotIn
      values: [slow]
  - matchExpressions:
    - key: kubernetes.io/hostname
      operator: In
      values: [hostA, hostB]
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  nodeSelectors:
  - matchLabels:
      kubernetes.io/hostname: NodeA
  - matchLabels:
      kubernetes.io/hostname: NodeB
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - PoolA
  peers:
  - PeerA
  - PeerB
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: production-services, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  localPref: 200
  serviceSelectors:
  - matchLabels:
      environment: production
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: example, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 203.0.113.3
  peerPort: 179
  sourceAddress: 203.0.113.2
  nodeSelectors:
  - matchLabels:
      kubernetes.io/hostname: node-1
---
apiVersion: metallb.io/v1beta1
kind: Community
metadata: {name: communities, namespace: metallb-system}
spec:
  communities:
  - name: vpn-only
    value: 1234:1
  - name: NO_ADVERTISE
    value: 65535:65282
---
apiVersion: metallb.io/v1beta1
kind: BGPAdvertisement
metadata: {name: local, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  aggregationLength: 32
  localPref: 100
  communities:
  - vpn-only
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: example, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 203.0.113.3
  peerPort: 179
  vrf: "red"
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: example, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64512
  peerAddress: 203.0.113.3
  enableGracefulRestart: true
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: example, namespace: metallb-system}
spec:
  myASN: 64512
  peerASN: 64520
  peerAddress: 203.0.113.3
  localASN: 65410
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  nodeSelectors:
  - matchLabels:
      kubernetes.io/hostname: NodeA
  - matchLabels:
      kubernetes.io/hostname: NodeB
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: tiered-zones, namespace: metallb-system}
spec:
  ipAddressPools:
  - production-pool
  preferredNodeSelectors:
  - weight: 100
    preference:
      matchLabels:
        zone: primary
  - weight: 50
    preference:
      matchLabels:
        zone: secondary
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: example, namespace: metallb-system}
spec:
  ipAddressPools:
  - fourth-pool
  nodeSelectors:
  - matchLabels:
      kubernetes.io/hostname: NodeA
  interfaces:
  - eth3
---
apiVersion: metallb.io/v1beta1
kind: L2Advertisement
metadata: {name: frontend-services, namespace: metallb-system}
spec:
  ipAddressPools:
  - first-pool
  interfaces:
  - eth0
  serviceSelectors:
  - matchLabels:
      tier: frontend
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: expensive, namespace: metallb-system}
spec:
  addresses:
  - 203.0.113.64/30
  autoAssign: false
---
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: ippool-ns-service-alloc-sample, namespace: metallb-system}
spec:
  addresses:
    - 198.51.100.0/24
  avoidBuggyIPs: true
  serviceAllocation:
    priority: 50
    namespaces:
      - namespace-a
      - namespace-b
    namespaceSelectors:
      - matchLabels:
          foo: bar
    serviceSelectors:
      - matchExpressions:
          - {key: app, operator: In, values: [bar]}
"""
EXAMPLES = _load_all(DOC_EXAMPLES)


def _example(kind: str, name: str, version: str | None = None, field: str | None = None) -> dict:
    """The first documented example of kind/name (in version, with spec.field set, if given)."""
    for doc in EXAMPLES:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            if version is None or doc["apiVersion"].endswith("/" + version):
                if field is None or field in doc.get("spec", {}):
                    return copy.deepcopy(doc)
    raise KeyError((kind, name, version, field))


# ---------------------------------------------------------------------------------- every manifest


def test_every_manifest_parses_into_named_kubernetes_objects():
    files = _manifest_files()
    assert files, "manifests/ has no YAML"
    for path in files:
        docs = _documents(path)
        assert docs, f"{path} is empty"
        for doc in docs:
            assert isinstance(doc, dict), path
            assert doc.get("apiVersion") and doc.get("kind"), path
            if doc["kind"] != "Kustomization":
                assert doc.get("metadata", {}).get("name"), f"{path}: {doc['kind']} without a name"


def test_kustomization_lists_every_manifest_once():
    kustomization = _documents(MANIFESTS / "kustomization.yaml")[0]
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    on_disk = {str(p.relative_to(MANIFESTS)) for p in _manifest_files()} - {"kustomization.yaml"}
    assert set(listed) == on_disk


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_builds_every_object():
    out = subprocess.run(
        ["kubectl", "kustomize", str(MANIFESTS)], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    built = _load_all(out.stdout)
    expected = sum(
        len(_documents(MANIFESTS / p)) for p in _documents(MANIFESTS / "kustomization.yaml")[0]["resources"]
    )
    assert len(built) == expected
    assert sum(doc["kind"] == "CustomResourceDefinition" for doc in built) == len(EXPECTED)


def test_namespace_is_metallb_system_with_privileged_pod_security():
    (namespace,) = _documents(MANIFESTS / "namespace.yaml")
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"]["name"] == NAMESPACE
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "privileged"


# ------------------------------------------------------------------------------- CRD shape checks


def test_one_crd_file_per_kind_named_after_its_plural():
    files = sorted(CRD_DIR.glob("*.yaml"))
    assert {p.name for p in files} == {f"{GROUP}_{plural}.yaml" for plural, _versions in EXPECTED.values()}
    for path in files:
        assert len(_documents(path)) == 1, path
    assert set(CRDS) == set(EXPECTED)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_crd_names_scope_and_versions(kind):
    crd = CRDS[kind]
    plural, versions = EXPECTED[kind]
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == f"{plural}.{GROUP}"
    spec = crd["spec"]
    assert spec["group"] == GROUP
    assert spec["scope"] == "Namespaced"
    names = spec["names"]
    assert (names["kind"], names["plural"]) == (kind, plural)
    assert names["singular"] == kind.lower()
    assert names["listKind"] == kind + "List"
    got = {v["name"]: v["storage"] for v in spec["versions"]}
    assert got == versions
    assert sum(v["storage"] for v in spec["versions"]) == 1
    assert all(v["served"] is True for v in spec["versions"])
    if len(versions) > 1:
        # BGPPeer: the controller's conversion webhook, as MetalLB's (see the file's comment).
        assert spec["conversion"] == {"strategy": "Webhook", "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": {"service": {"name": "metallb-webhook-service", "namespace": "metallb-system",
                                         "port": 443, "path": "/convert"}}}}
        deprecated = [v["name"] for v in spec["versions"] if v.get("deprecated")]
        assert deprecated == ["v1beta1"]


@pytest.mark.parametrize("kind", sorted(STATUS_KINDS))
def test_status_kinds_have_a_status_subresource(kind):
    for entry in CRDS[kind]["spec"]["versions"]:
        assert entry["subresources"]["status"] == {}
        assert "status" in entry["schema"]["openAPIV3Schema"]["properties"]


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_printer_columns_are_metallbs(kind):
    for entry in CRDS[kind]["spec"]["versions"]:
        columns = {c["name"]: c["jsonPath"] for c in entry.get("additionalPrinterColumns", [])}
        for name, path in COLUMNS[kind].items():
            assert columns.get(name) == path, f"{kind} {entry['name']}: column {name!r}"


@pytest.mark.parametrize("kind,version,schema", ALL_SCHEMAS)
def test_printer_columns_point_into_the_schema(kind, version, schema):
    for column in _version(kind, version).get("additionalPrinterColumns", []):
        assert column["type"] in {"integer", "number", "string", "boolean", "date"}
        path = column["jsonPath"]
        if path.startswith(".metadata."):
            continue
        node = schema
        for part in path.strip(".").split("."):
            assert part in node.get("properties", {}), f"{kind}/{version}: column {column['name']} -> {path}"
            node = node["properties"][part]


# Keywords a structural schema may not use (apiextensions.k8s.io/v1 "Specifying a structural schema").
FORBIDDEN = {"$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "id", "$schema"}


@pytest.mark.parametrize("kind,version,schema", ALL_SCHEMAS)
def test_schema_is_structural(kind, version, schema):
    assert schema["type"] == "object"
    assert schema["properties"]["metadata"] == {"type": "object"}, "metadata may only be {type: object}"
    for key in ("apiVersion", "kind"):
        assert schema["properties"][key]["type"] == "string"
    for path, node in _schema_nodes(schema):
        where = f"{kind}/{version} {path or '<root>'}"
        assert not FORBIDDEN & set(node), f"{where}: {FORBIDDEN & set(node)}"
        assert node.get("uniqueItems") is not True, f"{where}: uniqueItems is not allowed (use list-type set)"
        if "<" in path:  # inside allOf/anyOf/oneOf/not: value validations only, no types
            continue
        if not (node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")):
            assert node.get("type") in {"object", "array", "string", "integer", "number", "boolean"}, where
        if "properties" in node or "additionalProperties" in node:
            assert node["type"] == "object", where
            assert not ("properties" in node and "additionalProperties" in node), where
        if node.get("type") == "array":
            assert isinstance(node.get("items"), dict), f"{where}: an array needs one items schema"
        assert set(node.get("required", [])) <= set(node.get("properties", {})), f"{where}: unknown required"
        for rule in node.get("x-kubernetes-validations", []):
            assert rule.get("rule", "").strip() and rule.get("message", "").strip(), where
        list_type = node.get("x-kubernetes-list-type")
        if list_type == "set":
            items = node["items"]
            assert items["type"] in {"string", "integer", "number", "boolean"} or (
                items.get("x-kubernetes-map-type") == "atomic"
            ), f"{where}: set items must be scalars or atomic maps"
        if list_type == "map":
            items = node["items"]
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in items.get("required", []) or "default" in items["properties"][key], where


@needs_jsonschema
@pytest.mark.parametrize("kind,version,schema", ALL_SCHEMAS)
def test_defaults_are_valid_values_of_their_schema(kind, version, schema):
    for path, node in _schema_nodes(schema):
        if "default" in node:
            assert not path.startswith(".metadata"), "no defaults under metadata"
            jsonschema.validate(node["default"], _to_json_schema(node))


@needs_cel
@pytest.mark.parametrize("rule", ALL_RULES)
def test_every_cel_rule_compiles(rule):
    celpy.Environment().compile(rule["rule"])


def test_status_kinds_fields_are_immutable_by_cel():
    for kind in ("ServiceL2Status", "ServiceBGPStatus"):
        status = _schema(kind, "v1beta1")["properties"]["status"]["properties"]
        for field in ("node", "serviceName", "serviceNamespace"):
            rules = status[field].get("x-kubernetes-validations", [])
            assert {"rule": "self == oldSelf", "message": "Value is immutable"} in rules, f"{kind}.{field}"


# ----------------------------------------------------------------------- objects through the schemas


@needs_jsonschema
@pytest.mark.parametrize(
    "doc", [pytest.param(d, id=f"{i}-{d['kind']}-{d['metadata']['name']}") for i, d in enumerate(EXAMPLES)]
)
def test_metallb_documented_examples_are_accepted_unchanged(doc):
    errors = _admit(doc)
    assert errors == []


@needs_jsonschema
def test_defaults_are_metallbs():
    pool = _stored(_example("IPAddressPool", "first-pool"))
    assert (pool["spec"]["autoAssign"], pool["spec"]["avoidBuggyIPs"]) == (True, False)
    assert "spec" not in _stored(_example("BGPAdvertisement", "example")), "no spec: nothing to default"
    adv = _stored(_with(_example("BGPAdvertisement", "local"), "spec.aggregationLength", None))
    assert (adv["spec"]["aggregationLength"], adv["spec"]["aggregationLengthV6"]) == (32, 128)
    peer = _stored(_example("BGPPeer", "sample", "v1beta2"))
    assert peer["spec"]["peerPort"] == 179
    assert (peer["spec"]["disableMP"], peer["spec"]["dualStackAddressFamily"]) == (False, False)
    legacy = _stored(_example("BGPPeer", "sample", "v1beta1"))
    assert "peerPort" not in legacy["spec"], "v1beta1 has no peerPort default"


def _with(doc: dict, path: str, value) -> dict:
    """A copy of doc with the dotted path set to value (value None deletes the key)."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is None:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return doc


POOL = _example("IPAddressPool", "first-pool")
PEER2 = _example("BGPPeer", "sample", "v1beta2")
PEER1 = _example("BGPPeer", "sample", "v1beta1")
BFD = _example("BFDProfile", "testbfdprofile")
L2 = _example("L2Advertisement", "tiered-zones")
ADV = _example("BGPAdvertisement", "local")
COMMUNITY = _example("Community", "communities")
STATE = {
    "apiVersion": "metallb.io/v1beta1",
    "kind": "ConfigurationState",
    "metadata": {"name": "controller", "namespace": NAMESPACE},
    "status": {
        "result": "Invalid",
        "errorSummary": "pool first-pool: overlaps",
        "conditions": [
            {
                "type": "poolReconcilerValid",
                "status": "False",
                "reason": "ConfigurationError",
                "message": "pool first-pool: overlaps",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
            }
        ],
    },
}

# (case id, object, field the error must name) - each breaks one schema rule.
SCHEMA_REJECTS = [
    ("peerPort-0-v1beta2", _with(PEER2, "spec.peerPort", 0), "spec.peerPort"),
    ("peerPort-16385-v1beta2", _with(PEER2, "spec.peerPort", 16385), "spec.peerPort"),
    ("peerPort-16385-v1beta1", _with(PEER1, "spec.peerPort", 16385), "spec.peerPort"),
    ("myASN-2^32", _with(PEER2, "spec.myASN", 4294967296), "spec.myASN"),
    ("peerASN-negative", _with(PEER2, "spec.peerASN", -1), "spec.peerASN"),
    ("localASN-0", _with(PEER2, "spec.localASN", 0), "spec.localASN"),
    ("myASN-missing", _with(PEER2, "spec.myASN", None), "spec"),
    ("v1beta1-peerAddress-missing", _with(PEER1, "spec.peerAddress", None), "spec"),
    ("peer-without-spec", _with(PEER2, "spec", None), "<root>"),
    (
        "dynamicASN-unknown",
        _with(_with(PEER2, "spec.peerASN", None), "spec.dynamicASN", "both"),
        "spec.dynamicASN",
    ),
    (
        "operator-lowercase",
        _with(
            PEER2,
            "spec.nodeSelectors",
            [{"matchExpressions": [{"key": "a", "operator": "in", "values": ["b"]}]}],
        ),
        "spec.nodeSelectors.0.matchExpressions.0.operator",
    ),
    (
        "duplicate-node-selectors",
        _with(PEER2, "spec.nodeSelectors", [{"matchLabels": {"a": "b"}}] * 2),
        "spec.nodeSelectors",
    ),
    (
        "v1beta1-expression-without-values",
        _with(PEER1, "spec.nodeSelectors", [{"matchExpressions": [{"key": "a", "operator": "In"}]}]),
        "spec.nodeSelectors.0.matchExpressions.0",
    ),
    (
        "weight-101",
        _with(L2, "spec.preferredNodeSelectors.0.weight", 101),
        "spec.preferredNodeSelectors.0.weight",
    ),
    (
        "weight-0",
        _with(L2, "spec.preferredNodeSelectors.0.weight", 0),
        "spec.preferredNodeSelectors.0.weight",
    ),
    (
        "preference-missing",
        _with(L2, "spec.preferredNodeSelectors.0.preference", None),
        "spec.preferredNodeSelectors.0",
    ),
    ("detectMultiplier-1", _with(BFD, "spec.detectMultiplier", 1), "spec.detectMultiplier"),
    ("detectMultiplier-256", _with(BFD, "spec.detectMultiplier", 256), "spec.detectMultiplier"),
    ("receiveInterval-9", _with(BFD, "spec.receiveInterval", 9), "spec.receiveInterval"),
    ("transmitInterval-60001", _with(BFD, "spec.transmitInterval", 60001), "spec.transmitInterval"),
    ("echoInterval-9", _with(BFD, "spec.echoInterval", 9), "spec.echoInterval"),
    ("minimumTtl-0", _with(BFD, "spec.minimumTtl", 0), "spec.minimumTtl"),
    ("minimumTtl-255", _with(BFD, "spec.minimumTtl", 255), "spec.minimumTtl"),
    ("aggregationLength-0", _with(ADV, "spec.aggregationLength", 0), "spec.aggregationLength"),
    ("aggregationLength-33", _with(ADV, "spec.aggregationLength", 33), "spec.aggregationLength"),
    ("aggregationLengthV6-129", _with(ADV, "spec.aggregationLengthV6", 129), "spec.aggregationLengthV6"),
    ("localPref-2^32", _with(ADV, "spec.localPref", 4294967296), "spec.localPref"),
    ("duplicate-pool-names", _with(ADV, "spec.ipAddressPools", ["a", "a"]), "spec.ipAddressPools"),
    ("pool-without-spec", _with(POOL, "spec", None), "<root>"),
    ("pool-without-addresses", _with(POOL, "spec.addresses", None), "spec"),
    ("pool-empty-addresses", _with(POOL, "spec.addresses", []), "spec.addresses"),
    ("pool-duplicate-addresses", _with(POOL, "spec.addresses", ["198.51.100.0/24"] * 2), "spec.addresses"),
    ("pool-autoAssign-string", _with(POOL, "spec.autoAssign", "yes"), "spec.autoAssign"),
    (
        "pool-duplicate-namespaces",
        _with(POOL, "spec.serviceAllocation", {"namespaces": ["a", "a"]}),
        "spec.serviceAllocation.namespaces",
    ),
    ("pool-status-incomplete", _with(POOL, "status", {"assignedIPv4": 1}), "status"),
    (
        "community-value-one-field",
        _with(COMMUNITY, "spec.communities.0.value", "65535"),
        "spec.communities.0.value",
    ),
    (
        "community-large-three-fields",
        _with(COMMUNITY, "spec.communities.0.value", "large:1:2"),
        "spec.communities.0.value",
    ),
    ("community-without-name", _with(COMMUNITY, "spec.communities.0.name", None), "spec.communities.0"),
    ("configurationstate-result", _with(STATE, "status.result", "Broken"), "status.result"),
    ("condition-status", _with(STATE, "status.conditions.0.status", "Maybe"), "status.conditions.0.status"),
]


@needs_jsonschema
@pytest.mark.parametrize("case,doc,field", [pytest.param(*c, id=c[0]) for c in SCHEMA_REJECTS])
def test_schema_rejects_bad_objects_naming_the_field(case, doc, field):
    errors = _admit(doc)
    assert errors, f"{case} was accepted"
    assert any(e.split(":", 1)[0] == field for e in errors), errors


@needs_jsonschema
def test_boundaries_that_metallb_accepts():
    accepted = [
        _with(PEER1, "spec.peerPort", 0),  # v1beta1: 0..16384
        _with(PEER2, "spec.peerPort", 16384),
        _with(PEER2, "spec.myASN", 4294967295),
        _with(L2, "spec.preferredNodeSelectors.0.weight", 1),
        _with(BFD, "spec.detectMultiplier", 255),
        _with(_with(BFD, "spec.receiveInterval", 10), "spec.transmitInterval", 60000),
        _with(_with(BFD, "spec.minimumTtl", 254), "spec.echoMode", True),
        _with(COMMUNITY, "spec.communities.0.value", "large:64512:1:4294967295"),
        _with(ADV, "spec.aggregationLength", 1),
        _with(_with(STATE, "status.conditions", []), "status.result", "Valid"),
        _with(
            POOL,
            "status",
            dict.fromkeys(["assignedIPv4", "assignedIPv6", "availableIPv4", "availableIPv6"], 0),
        ),
        _with(PEER2, "spec.nodeSelectors", [{"matchExpressions": [{"key": "a", "operator": "Exists"}]}]),
    ]
    for doc in accepted:
        errors = _admit(doc)
        assert errors == [], doc["spec"] if "spec" in doc else doc["status"]


# ---------------------------------------------------------------------- CEL rules (x-kubernetes-validations)


@needs_jsonschema
@needs_cel
def test_service_selectors_need_default_aggregation():
    selected = _with(ADV, "spec.serviceSelectors", [{"matchLabels": {"environment": "production"}}])
    for aggregation in ({"aggregationLength": 24}, {"aggregationLengthV6": 64}):
        doc = copy.deepcopy(selected)
        doc["spec"].update(aggregation)
        errors = _admit(doc)
        assert errors == [f".spec: {AGGREGATION_MESSAGE}"]
    for doc in (
        selected,
        _with(selected, "spec.aggregationLength", 32),
        _with(ADV, "spec.aggregationLength", 24),
    ):
        assert _admit(doc) == []
    assert _admit(_with(_with(ADV, "spec.aggregationLength", 24), "spec.serviceSelectors", [])) == []


@needs_jsonschema
@needs_cel
def test_graceful_restart_cannot_change_after_creation():
    old = _example("BGPPeer", "example", "v1beta2", "enableGracefulRestart")
    assert old["spec"]["enableGracefulRestart"] is True
    errors = _admit(_with(old, "spec.enableGracefulRestart", False), old=old)
    assert errors == [".spec.enableGracefulRestart: EnableGracefulRestart cannot be changed after creation"]
    assert _admit(_with(old, "spec.peerPort", 180), old=old) == []


@needs_jsonschema
@needs_cel
@pytest.mark.parametrize(
    "value,message",
    [
        ("0s", "connect time should be between 1 seconds to 65535"),
        ("65536s", "connect time should be between 1 seconds to 65535"),
        ("1500ms", "connect time should contain a whole number of seconds"),
        ("1s", None),
        ("2m", None),
        ("65535s", None),
    ],
)
def test_connect_time_whole_seconds_between_1_and_65535(value, message):
    errors = _admit(_with(PEER2, "spec.connectTime", value))
    assert errors == ([f".spec.connectTime: {message}"] if message else [])


@needs_jsonschema
@needs_cel
@pytest.mark.parametrize(
    "changes,message",
    [
        ({"myASN": 0}, "missing local ASN"),
        ({"peerASN": None}, "missing peer ASN and dynamicASN"),
        ({"peerASN": 0}, "missing peer ASN and dynamicASN"),
        ({"dynamicASN": "external"}, "both peer ASN and dynamicASN specified"),
        ({"peerAddress": None}, "peer has no Address or Interface specified"),
        ({"interface": "eth0"}, "peer has both Address and Interface specified"),
        ({"peerASN": 64500, "ebgpMultiHop": True}, "invalid ebgp-multihop parameter set for an ibgp peer"),
        ({"password": "x", "passwordSecret": {"name": "s"}}, "can not have both password and secret ref set"),
        ({"holdTime": "30s", "keepaliveTime": "31s"}, "invalid keepaliveTime: must be lower than holdTime"),
        ({"peerASN": None, "dynamicASN": "internal"}, None),
        ({"peerAddress": None, "interface": "eth0"}, None),
        ({"ebgpMultiHop": True}, None),
        ({"password": "x", "passwordSecret": {}}, None),
        ({"holdTime": "30s", "keepaliveTime": "10s"}, None),
        ({"keepaliveTime": "10s"}, None),
    ],
)
def test_bgppeer_v1beta2_per_object_rules(changes, message):
    doc = PEER2
    for field, value in changes.items():
        doc = _with(doc, f"spec.{field}", value)
    errors = _admit(doc)
    if message is None:
        assert errors == []
    else:
        assert len(errors) == 1 and errors[0].startswith(".spec: " + message), errors


@needs_jsonschema
@needs_cel
@pytest.mark.parametrize("version", ["v1beta1", "v1beta2"])
@pytest.mark.parametrize(
    "hold,ok", [("0s", True), ("3s", True), ("90s", True), ("2s", False), ("2999ms", False)]
)
def test_hold_time_is_zero_or_at_least_3s(version, hold, ok):
    errors = _admit(_with(_example("BGPPeer", "sample", version), "spec.holdTime", hold))
    assert errors == ([] if ok else [".spec.holdTime: invalid hold time: must be 0 or >=3s"])


@needs_jsonschema
@needs_cel
def test_bgppeer_v1beta1_per_object_rules():
    assert _admit(_with(PEER1, "spec.myASN", 0)) == [".spec: missing local ASN"]
    assert _admit(_with(PEER1, "spec.peerASN", 0)) == [".spec: missing peer ASN and dynamicASN"]
    multihop = _with(_with(PEER1, "spec.peerASN", 64500), "spec.ebgpMultiHop", True)
    assert _admit(multihop) == [".spec: invalid ebgp-multihop parameter set for an ibgp peer"]


@needs_jsonschema
@needs_cel
@pytest.mark.parametrize("kind", ["ServiceL2Status", "ServiceBGPStatus"])
def test_status_objects_keep_their_node_and_service(kind):
    old = {
        "apiVersion": "metallb.io/v1beta1",
        "kind": kind,
        "metadata": {"generateName": "svc-", "name": "svc-x7k2p", "namespace": NAMESPACE},
        "status": {"node": "node1", "serviceName": "web", "serviceNamespace": "default"},
    }
    assert _admit(old) == []
    for field, value in (("node", "node2"), ("serviceName", "api"), ("serviceNamespace", "prod")):
        errors = _admit(_with(old, f"status.{field}", value), old=old)
        assert errors == [f".status.{field}: Value is immutable"]
    extra = "interfaces" if kind == "ServiceL2Status" else "peers"
    value = [{"name": "eth0"}] if extra == "interfaces" else ["peer-a", "peer-b"]
    assert _admit(_with(old, f"status.{extra}", value), old=old) == []
