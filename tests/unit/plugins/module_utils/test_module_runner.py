# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module runner: one fail_json line per user or API error, the client always closed."""

from __future__ import annotations

import pytest

from ansible_collections.metal.lb.plugins.module_utils.shells import module_runner as runner_mod
from ansible_collections.metal.lb.plugins.module_utils.adapters.kube.client import KubeConfigError
from ansible_collections.metal.lb.plugins.module_utils.shells.module_runner import (
    ModuleFailure,
    ModuleRunner,
    config_failure,
)

ApiException = pytest.importorskip("kubernetes.client.exceptions").ApiException


class Done(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode: bool = False) -> None:
        self.params = {"namespace": "metallb-system"}
        self.check_mode = check_mode
        self.outcome = None

    def fail_json(self, **result):
        self.outcome = ("fail", result)
        raise Done()

    def exit_json(self, **result):
        self.outcome = ("exit", result)
        raise Done()


class FakeClient:
    closed = False

    def close(self):
        self.closed = True


def run(body, module=None, **kwargs):
    module = module or FakeModule()
    with pytest.raises(Done):
        ModuleRunner(module, **kwargs).run(body)
    return module.outcome


def test_an_api_error_is_one_line_and_the_client_is_closed(monkeypatch):
    client = FakeClient()
    monkeypatch.setattr(runner_mod, "api_client_from_params", lambda params: client)

    def body(runner):
        with runner.api_step("Cannot read the cluster"):
            runner.client  # noqa: B018 - builds it
            raise ApiException(status=403, reason="Forbidden")

    kind, result = run(body, failure_defaults={"config_errors": []})
    assert kind == "fail" and result["msg"] == "Cannot read the cluster: Kubernetes API error 403 Forbidden"
    assert result["config_errors"] == [] and "exception" in result
    assert client.closed


def test_connection_settings_that_cannot_work_fail_with_their_message(monkeypatch):
    def refuse(params):
        raise KubeConfigError("kubeconfig /nowhere: no such file")

    monkeypatch.setattr(runner_mod, "api_client_from_params", refuse)
    kind, result = run(lambda runner: {"changed": runner.client is None})
    assert (kind, result["msg"]) == ("fail", "kubeconfig /nowhere: no such file")


def test_configuration_errors_are_listed_in_one_line():
    def body(_runner):
        raise config_failure(['IPAddressPool "a": spec.addresses[0]: bad', 'IPAddressPool "b": x'],
                             config_errors=["..."])

    kind, result = run(body)
    assert kind == "fail"
    assert result["msg"] == ('Invalid configuration (2 errors), nothing written: IPAddressPool "a": '
                             'spec.addresses[0]: bad; IPAddressPool "b": x')


def test_check_mode_writes_are_server_dry_runs_and_success_exits():
    seen = {}

    def body(runner):
        seen["dry_run"] = runner.dry_run
        return {"changed": False}

    assert run(body, FakeModule(check_mode=True)) == ("exit", {"changed": False})
    assert seen["dry_run"] == {"dry_run": "All"}
    assert run(body) == ("exit", {"changed": False}) and seen["dry_run"] == {}


def test_a_missing_library_fails_before_anything_runs(monkeypatch):
    monkeypatch.setitem(runner_mod.REQUIREMENTS, "nothing", ("metal_lb_no_such_library", "nothing-here"))
    with pytest.raises(Done):
        ModuleRunner(module := FakeModule(), requires=("nothing",))
    assert module.outcome[0] == "fail" and "nothing-here" in module.outcome[1]["msg"]


def test_module_failure_carries_result_keys():
    failure = ModuleFailure("no", changed=True)
    assert failure.msg == "no" and failure.result == {"changed": True}
