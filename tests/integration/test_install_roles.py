# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role metal.lb.crds and the module metal.lb.service_account_kubeconfig through ansible-playbook.

The role re-applies ``manifests/`` to the session's cluster, registering the webhooks at the URL the
session's webhook controller serves (127.0.0.1): the cluster keeps working, which the test checks. On a
cluster of your own (METAL_LB_TEST_KUBECONFIG) it would re-register that cluster's webhooks, so it skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

kubernetes = pytest.importorskip("kubernetes")
from kubernetes import client as k  # noqa: E402
from kubernetes import config as k8s_config  # noqa: E402

from playbook_runs import output, playbook, recap, role_play  # noqa: E402

pytestmark = pytest.mark.integration
OWN_CLUSTER = bool(os.environ.get("METAL_LB_TEST_KUBECONFIG"))
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(OWN_CLUSTER, reason="re-registers the cluster's webhooks")
def test_crds_role_installs_once_and_the_webhooks_keep_answering(tmp_path, kube_cluster, kubeconfig, kube_client,
                                                                 namespace):
    url = "https://127.0.0.1:%d" % kube_cluster.webhook_port
    variables = {"crds_kubeconfig": kubeconfig, "crds_webhook_registration": "url", "crds_webhook_url": url}
    first = role_play(tmp_path, "crds", variables)
    assert first.returncode == 0, output(first)
    second = role_play(tmp_path, "crds", variables)
    assert second.returncode == 0, output(second)
    assert recap(second)["changed"] == 0, output(second)

    admission = k.AdmissionregistrationV1Api(kube_client)
    config = admission.read_validating_webhook_configuration("metallb-webhook-configuration")
    assert all(h.client_config.url.startswith(url + "/validate-metallb-io-") for h in config.webhooks)
    assert all(h.client_config.ca_bundle for h in config.webhooks), "the controller's CA bundle was dropped"
    custom = k.CustomObjectsApi(kube_client)
    overlapping = {"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": {"name": "overlap"},
                   "spec": {"addresses": ["198.51.100.0/31", "198.51.100.1/32"]}}
    with pytest.raises(k.exceptions.ApiException) as refused:
        custom.create_namespaced_custom_object("metallb.io", "v1beta1", namespace, "ipaddresspools", overlapping)
    assert "overlap" in refused.value.body


def test_webhook_endpoints_pass_the_api_servers_dry_run_and_check_mode_writes_nothing(tmp_path, kubeconfig,
                                                                                      kube_client):
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [{
        "name": "endpoints", "metal.lb.cluster_objects": {
            "kubeconfig": kubeconfig,
            "resources": "{{ [] | metal.lb.webhook_registration(addresses=['198.51.100.11', '2001:db8::11']) }}"}}]}]
    path = tmp_path / "endpoints.yml"
    path.write_text(yaml.safe_dump(play))
    checked = playbook(tmp_path, path, check=True)
    assert checked.returncode == 0 and recap(checked)["changed"] == 1, output(checked)
    assert "EndpointSlice metallb-system/metallb-webhook-service-ipv6" in checked.stdout, output(checked)
    assert "198.51.100.11" in checked.stdout
    core = k.CoreV1Api(kube_client)
    with pytest.raises(k.exceptions.ApiException) as absent:
        core.read_namespaced_endpoints("metallb-webhook-service", "metallb-system")
    assert absent.value.status == 404


@pytest.mark.skipif(OWN_CLUSTER, reason="would list the deletion of the cluster's metal.lb objects")
def test_crds_role_absent_in_check_mode_deletes_exactly_what_it_installs_and_nothing_is_deleted(
        tmp_path, kubeconfig, kube_client):
    checked = role_play(tmp_path, "crds", {"crds_kubeconfig": kubeconfig, "crds_state": "absent"}, check=True)
    assert checked.returncode == 0 and recap(checked)["changed"] == 1, output(checked)
    shipped = []
    for path in sorted((ROOT / "manifests").rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            shipped += [(o["kind"], o["metadata"]["name"]) for o in yaml.safe_load_all(path.read_text())]
    for kind, name in shipped:
        assert "%s/%s" % (kind, name) in checked.stdout or "%s metallb-system/%s" % (kind, name) in checked.stdout, \
            (kind, name)
    # deleted last: the namespace, after everything in it
    assert checked.stdout.rindex("Namespace/metallb-system") > checked.stdout.rindex("ServiceAccount metallb-system/")
    k.ApiextensionsV1Api(kube_client).read_custom_resource_definition("ipaddresspools.metallb.io")
    assert k.CoreV1Api(kube_client).read_namespace("metallb-system").status.phase == "Active"


def test_crds_role_refuses_a_loopback_endpoint_before_writing(tmp_path, kubeconfig):
    failed = role_play(tmp_path, "crds", {"crds_kubeconfig": kubeconfig, "crds_webhook_addresses": ["127.0.0.1"]})
    assert failed.returncode != 0
    assert "webhook address 127.0.0.1: the API server cannot call a loopback" in failed.stdout, output(failed)


def token_play(tmp_path, kubeconfig: str, current_file: str, **module_args) -> tuple:
    """Run the module with the kubeconfig in ``current_file`` as the host's, write the answer back."""
    args = dict({"kubeconfig": kubeconfig, "service_account": "speaker",
                 "current": "{{ lookup('ansible.builtin.file', '%s', errors='ignore') | default('', true) }}"
                 % current_file}, **module_args)
    play = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "kubeconfig", "metal.lb.service_account_kubeconfig": args, "register": "made", "no_log": True},
        {"name": "keep it", "ansible.builtin.copy": {"content": "{{ made.kubeconfig }}", "dest": current_file,
                                                     "mode": "0600"}, "no_log": True, "changed_when": False,
         "when": "made.renewed"},
        {"name": "show what is not secret", "ansible.builtin.debug": {
            "msg": "renewed={{ made.renewed }} reason={{ made.reason }} expires={{ made.expires }}"}},
    ]}]
    path = tmp_path / "token.yml"
    path.write_text(yaml.safe_dump(play))
    proc = playbook(tmp_path, path)
    return proc, recap(proc)


def test_daemon_kubeconfig_is_made_once_works_and_is_renewed_near_expiry(tmp_path, kubeconfig, make_client):
    current = str(tmp_path / "speaker.kubeconfig")
    first, counts = token_play(tmp_path, kubeconfig, current)
    assert first.returncode == 0 and counts["changed"] == 1, output(first)
    assert "renewed=True reason=no kubeconfig yet" in first.stdout
    with open(current, encoding="utf-8") as handle:
        made = handle.read()
    assert made.split('"token": "')[1].split('"')[0] not in first.stdout + first.stderr

    speaker = make_client(current)
    who = k.AuthenticationV1Api(speaker).create_self_subject_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert who.status.user_info.username == "system:serviceaccount:metallb-system:speaker"
    assert k8s_config.kube_config.KubeConfigLoader(yaml.safe_load(made)).current_context["name"] == "metal-lb"

    second, counts = token_play(tmp_path, kubeconfig, current)
    assert second.returncode == 0 and counts["changed"] == 0, output(second)
    with open(current, encoding="utf-8") as handle:
        assert handle.read() == made

    # renewed when the token it has (a year) is within renew_before of its expiry
    third, counts = token_play(tmp_path, kubeconfig, current, renew_before=366 * 24 * 3600,
                               duration=400 * 24 * 3600)
    assert third.returncode == 0 and counts["changed"] == 1, output(third)
    assert "reason=its token expires in" in third.stdout
    with open(current, encoding="utf-8") as handle:
        assert handle.read() != made


def inventory(tmp_path, variables: dict) -> str:
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"localhost": {"ansible_connection": "local"}},
                                            "vars": variables}}))
    return str(path)


def config_play(tmp_path) -> str:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": "metal.lb.config"}]}]))
    return str(path)


def pools_and_ads(kube_client, namespace: str) -> tuple[dict, dict]:
    custom = k.CustomObjectsApi(kube_client)
    pools = custom.list_namespaced_custom_object("metallb.io", "v1beta1", namespace, "ipaddresspools")["items"]
    ads = custom.list_namespaced_custom_object("metallb.io", "v1beta1", namespace, "l2advertisements")["items"]
    return ({p["metadata"]["name"]: p["spec"] for p in pools}, {a["metadata"]["name"]: a["spec"] for a in ads})


def test_config_role_from_flat_survey_answers_then_full_objects(tmp_path, kubeconfig, kube_client, namespace):
    survey = {"metal_lb_kubeconfig": kubeconfig, "metal_lb_namespace": namespace, "metal_lb_pool_name": "production",
              "metal_lb_pool_addresses": "198.51.100.10-198.51.100.20,\n203.0.113.0/28",
              "metal_lb_l2_interfaces": "", "metal_lb_pool_auto_assign": "", "metal_lb_pool_avoid_buggy_ips": "true",
              "metal_lb_config": ""}
    first = playbook(tmp_path, config_play(tmp_path), inventory=inventory(tmp_path, survey))
    assert first.returncode == 0 and recap(first)["changed"] == 1, output(first)
    pools, ads = pools_and_ads(kube_client, namespace)
    assert pools == {"production": {"addresses": ["198.51.100.10-198.51.100.20", "203.0.113.0/28"],
                                    "autoAssign": True, "avoidBuggyIPs": True}}  # autoAssign: the CRD's default
    assert ads == {"production": {"ipAddressPools": ["production"]}}
    second = playbook(tmp_path, config_play(tmp_path), inventory=inventory(tmp_path, survey))
    assert second.returncode == 0 and recap(second)["changed"] == 0, output(second)

    full = {"metal_lb_kubeconfig": kubeconfig, "metal_lb_namespace": namespace, "metal_lb_pool_name": "",
            "metal_lb_config": "---\napiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata: {name: staging}\n"
                               "spec:\n  addresses: [203.0.113.64/28]\n---\napiVersion: metallb.io/v1beta1\n"
                               "kind: L2Advertisement\nmetadata: {name: staging}\nspec:\n"
                               "  ipAddressPools: [staging]\n  interfaces: [eth0]\n"}
    third = playbook(tmp_path, config_play(tmp_path), inventory=inventory(tmp_path, full))
    assert third.returncode == 0 and recap(third)["changed"] == 1, output(third)
    pools, ads = pools_and_ads(kube_client, namespace)
    assert list(pools) == ["staging"] and pools["staging"]["addresses"] == ["203.0.113.64/28"]  # flat one pruned
    assert ads == {"staging": {"ipAddressPools": ["staging"], "interfaces": ["eth0"]}}


def test_config_role_names_a_pool_without_addresses_and_writes_nothing(tmp_path, kubeconfig, kube_client,
                                                                     namespace):
    survey = {"metal_lb_kubeconfig": kubeconfig, "metal_lb_namespace": namespace, "metal_lb_pool_name": "production",
              "metal_lb_pool_addresses": " "}
    failed = playbook(tmp_path, config_play(tmp_path), inventory=inventory(tmp_path, survey))
    assert failed.returncode != 0
    assert "metal_lb_pool_name and metal_lb_pool_addresses go together" in failed.stdout, output(failed)
    assert pools_and_ads(kube_client, namespace) == ({}, {})


def test_config_role_without_configuration_changes_nothing(tmp_path, kubeconfig, namespace):
    done = playbook(tmp_path, config_play(tmp_path),
                    inventory=inventory(tmp_path, {"metal_lb_kubeconfig": kubeconfig, "metal_lb_namespace": namespace,
                                                   "metal_lb_pool_name": "", "metal_lb_config": ""}))
    assert done.returncode == 0 and recap(done)["changed"] == 0, output(done)
    assert "No metal.lb configuration given" in done.stdout


def validate_playbook() -> str:
    from test_modules import collections_root

    return os.path.join(collections_root(), "ansible_collections", "metal", "lb", "playbooks", "validate.yml")


def test_validate_plans_the_inventorys_flat_configuration_offline(tmp_path):
    survey = {"metal_lb_pool_name": "production", "metal_lb_pool_addresses": ["198.51.100.10-198.51.100.20"],
              "metal_lb_service_cidrs": ["198.51.100.0/28"]}
    done = playbook(tmp_path, validate_playbook(), inventory=inventory(tmp_path, survey))
    assert done.returncode != 0, output(done)
    assert "IPAddressPool \"production\"" in done.stdout and "198.51.100.0/28" in done.stdout, output(done)
    survey["metal_lb_service_cidrs"] = ""
    passed = playbook(tmp_path, validate_playbook(), inventory=inventory(tmp_path, survey))
    assert passed.returncode == 0, output(passed)
    assert "1 pool(s), no configuration errors" in passed.stdout
    assert '"ipv4": 11' in passed.stdout


def test_validate_plans_full_objects_with_services_from_a_file(tmp_path):
    services = tmp_path / "services.yaml"
    services.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Service",
                                        "metadata": {"name": "web", "namespace": "default"},
                                        "spec": {"type": "LoadBalancer", "ports": [{"port": 80}],
                                                 "clusterIP": "198.51.100.200", "clusterIPs": ["198.51.100.200"],
                                                 "ipFamilies": ["IPv4"]}}))
    survey = {"metal_lb_config": [{"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool",
                                   "metadata": {"name": "only"}, "spec": {"addresses": ["203.0.113.7/32"]}}],
              "metal_lb_plan_files": [str(services)]}
    done = playbook(tmp_path, validate_playbook(), inventory=inventory(tmp_path, survey))
    assert done.returncode == 0, output(done)
    assert 'Assigned IP [\\"203.0.113.7\\"]' in done.stdout and '"state": "assigned"' in done.stdout, output(done)


@pytest.mark.skipif(OWN_CLUSTER, reason="re-registers the cluster's webhooks and needs a cluster known to be clean")
def test_site_playbook_without_hosts_runs_the_cluster_plays_twice_and_changes_nothing_the_second_time(
        tmp_path, kube_cluster, kubeconfig, kube_client, namespace):
    from test_modules import collections_root

    site = os.path.join(collections_root(), "ansible_collections", "metal", "lb", "playbooks", "site.yml")
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {
        "children": {"metal_lb_controllers": {"hosts": {}}, "metal_lb_speakers": {"hosts": {}}},
        "vars": {"metal_lb_kubeconfig": kubeconfig, "metal_lb_namespace": namespace,
                 "metal_lb_webhook_registration": "url",
                 "metal_lb_webhook_url": "https://127.0.0.1:%d" % kube_cluster.webhook_port,
                 "metal_lb_pool_name": "site", "metal_lb_pool_addresses": "203.0.113.96/28"}}}))
    first = playbook(tmp_path, site, inventory=str(path))
    assert first.returncode == 0, output(first)
    assert pools_and_ads(kube_client, namespace)[0]["site"]["addresses"] == ["203.0.113.96/28"]
    second = playbook(tmp_path, site, inventory=str(path))
    assert second.returncode == 0 and recap(second)["changed"] == 0, output(second)
