# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``metal-lb plan | validate | convert``: exit codes (0 ok, 1 invalid config, 2 usage/I-O) and output."""

from __future__ import annotations

import io
import json

import pytest
import yaml

from ansible_collections.metal.lb.plugins.module_utils.shells import cli

NS = "metallb-system"
POOL = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "p", "namespace": NS},
        "spec": {"addresses": ["198.51.100.10-198.51.100.19"]}}


def svc(name: str, **spec) -> dict:
    body = {"type": "LoadBalancer", "clusterIP": "203.0.113.200", "clusterIPs": ["203.0.113.200"],
            "ports": [{"port": 80, "protocol": "TCP"}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "app"}, "spec": body}


@pytest.fixture
def manifests(tmp_path):
    def write(*objects: dict, name: str = "m.yaml"):
        path = tmp_path / name
        path.write_text(yaml.safe_dump_all(objects))
        return str(path)
    return write


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_plan_prints_json_and_exits_0(manifests, capsys):
    code, out, _unused = run(capsys, "plan", "-f", manifests(POOL, svc("web")))
    result = json.loads(out)
    assert code == 0
    assert result["services"]["app/web"]["ips"] == ["198.51.100.10"]
    assert result["services"]["app/web"]["state"] == "assigned"
    assert result["pools"]["p"]["in_use"] == {"ipv4": 1, "ipv6": 0}
    assert result["errors"] == []


def test_plan_is_byte_for_byte_deterministic(manifests, capsys):
    path = manifests(POOL, svc("b"), svc("a"), svc("c", loadBalancerIP="198.51.100.15"))
    assert run(capsys, "plan", "-f", path)[1] == run(capsys, "plan", "-f", path)[1]


def test_plan_with_invalid_config_exits_1_with_errors(manifests, capsys):
    bad = dict(POOL, spec={"addresses": ["198.51.100.1"]})
    code, out, _unused = run(capsys, "plan", "-f", manifests(bad, svc("web")))
    assert code == 1
    assert json.loads(out)["errors"] == ['IPAddressPool "p": spec.addresses[0]: invalid CIDR "198.51.100.1" in '
                                         'pool "p": invalid CIDR "198.51.100.1"']


def test_plan_table_output(manifests, capsys):
    files = manifests(POOL, svc("web"), svc("db", loadBalancerIP="203.0.113.9"))
    code, out, _unused = run(capsys, "plan", "-f", files, "--output", "table")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["SERVICE", "STATE", "IPS", "POOL", "CHANGED", "REASON"]
    assert lines[1].split()[:5] == ["app/db", "pending", "-", "-", "no"]
    assert lines[1].endswith('Failed to allocate IP for "app/db": ["203.0.113.9"] is not allowed in config')
    assert lines[2].split() == ["app/web", "assigned", "198.51.100.10", "p", "yes"]


def test_plan_reads_several_files_directories_and_stdin(manifests, capsys, tmp_path, monkeypatch):
    pools = manifests(POOL, name="pools.yaml")
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "a.json").write_text(json.dumps({"kind": "List", "apiVersion": "v1", "items": [svc("a")]}))
    (tmp_path / "svc" / "notes.txt").write_text("not a manifest")
    monkeypatch.setattr("sys.stdin", io.StringIO(yaml.safe_dump(svc("b"))))
    code, out, _unused = run(capsys, "plan", "-f", pools, "-f", str(tmp_path / "svc"), "-f", "-")
    assert code == 0
    assert sorted(json.loads(out)["services"]) == ["app/a", "app/b"]


def test_plan_lb_class(manifests, capsys):
    path = manifests(POOL, svc("mine", loadBalancerClass="example.com/lb"), svc("other"))
    services = json.loads(run(capsys, "plan", "-f", path, "--lb-class", "example.com/lb")[1])["services"]
    assert (services["app/mine"]["state"], services["app/other"]["state"]) == ("assigned", "ignored")


def test_plan_network_options(manifests, capsys):
    code, out, _unused = run(capsys, "plan", "-f", manifests(POOL), "--gateway", "198.51.100.12")
    assert code == 1
    assert "gateway 198.51.100.12" in json.loads(out)["errors"][0]


@pytest.mark.parametrize("command", ["plan", "validate", "convert"])
def test_missing_file_exits_2_with_one_line(capsys, tmp_path, command):
    code, out, err = run(capsys, command, "-f", str(tmp_path / "nope.yaml"))
    assert code == 2 and out == ""
    assert err.startswith("metal-lb %s: " % command) and "No such file or directory" in err
    assert len(err.strip().splitlines()) == 1


def test_unparsable_yaml_exits_2(capsys, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: [unclosed\n")
    code, _unused, err = run(capsys, "plan", "-f", str(path))
    assert code == 2 and "invalid YAML" in err


def test_validate_ok_and_invalid(manifests, capsys):
    code, out, _unused = run(capsys, "validate", "-f", manifests(POOL, svc("ignored-by-validate")))
    assert (code, out.strip()) == (0, "configuration valid: 1 pools, 0 L2 advertisements, 0 BGP advertisements, "
                                      "0 BGP peers")
    other = dict(POOL, metadata={"name": "q", "namespace": NS})
    code, out, _unused = run(capsys, "validate", "-f", manifests(POOL, other))
    assert code == 1
    assert out.strip() == ('IPAddressPool "q": spec.addresses[0]: CIDR "198.51.100.10/31" in pool "q" '
                           'overlaps with already defined CIDR "198.51.100.10/31"')


def test_validate_warns_on_stderr(manifests, capsys):
    elsewhere = dict(POOL, metadata={"name": "x", "namespace": "default"})
    code, _unused, err = run(capsys, "validate", "-f", manifests(POOL, elsewhere))
    assert code == 0
    assert err.strip() == 'warning: IPAddressPool "x" is in namespace "default", not "metallb-system": ignored'


def test_convert_legacy_configmap(manifests, capsys):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "config", "namespace": NS},
          "data": {"config": "address-pools:\n- name: lan\n  protocol: layer2\n  addresses: [198.51.100.0/24]\n"}}
    code, out, _unused = run(capsys, "convert", "-f", manifests(cm))
    assert code == 0
    assert [(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(out)] == [
        ("IPAddressPool", "lan"), ("L2Advertisement", "l2advertisement1")]


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["plan"])
    assert info.value.code == 2
