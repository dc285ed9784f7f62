# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one shell around every metal.lb module, as kubernetes.core has one.

It checks the Python requirements, builds the API client from the connection options (and
closes it), turns check mode into a server-side dry run for writes, and maps every error a user
or the API can cause to ONE ``fail_json`` line: a configuration error names the objects and
fields, an API error its status and the API's message. A module keeps only its decisions.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from importlib import import_module
from typing import Any, Iterator

from ..adapters.kube.client import KubeConfigError
from ..adapters.kube.module_auth import api_client_from_params, describe_api_error

try:
    from ansible.module_utils.basic import missing_required_lib
except ImportError:  # pragma: no cover - modules always run with ansible
    def missing_required_lib(library: str, **_kwargs) -> str:  # type: ignore[misc]
        return "Failed to import the required Python library (%s)" % library

# Python requirement -> (import name, name in missing_required_lib's message)
REQUIREMENTS = {"kubernetes": ("kubernetes", "kubernetes"), "netaddr": ("netaddr", "netaddr"),
                "yaml": ("yaml", "PyYAML")}


class ModuleFailure(Exception):
    """Fail the task with ``msg`` and the result keys ``result``."""

    def __init__(self, msg: str, **result: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


def config_failure(problems: Sequence[str], done: str = "nothing written", **result: Any) -> ModuleFailure:
    """An invalid configuration: one line listing every error (each names the object and field);
    ``done`` says what happened meanwhile ('' for a task that never writes)."""
    count = len(problems)
    summary = "Invalid configuration (%d error%s)" % (count, "" if count == 1 else "s")
    if done:
        summary += ", " + done
    return ModuleFailure("%s: %s" % (summary, "; ".join(problems)), **result)


class ModuleRunner:
    """``ModuleRunner(module, requires=...).run(body)``: ``body(runner)`` returns the result dict
    for ``exit_json``, raises ``ModuleFailure`` to fail, and reaches the API through
    ``runner.client`` (built on first use, closed at the end) inside ``runner.api_step(what)``."""

    def __init__(self, module, *, requires: Sequence[str] = (), failure_defaults: dict | None = None) -> None:
        self.module = module
        self.params = module.params
        self.failure_defaults = dict(failure_defaults or {})
        self._client = None
        self.require(*requires)

    def require(self, *names: str) -> None:
        """Fail the task at once, the Ansible way, when a Python library is missing."""
        for name in names:
            import_name, library = REQUIREMENTS[name]
            try:
                import_module(import_name)
            except ImportError:
                self.fail(missing_required_lib(library), exception=traceback.format_exc())

    @property
    def check_mode(self) -> bool:
        return bool(self.module.check_mode)

    @property
    def dry_run(self) -> dict:
        """Keyword arguments for a write: a server-side dry run in check mode (the API validates,
        admission runs, nothing is stored)."""
        return {"dry_run": "All"} if self.check_mode else {}

    @property
    def client(self):
        if self._client is None:
            try:
                self._client = api_client_from_params(self.params)
            except KubeConfigError as exc:
                raise ModuleFailure(str(exc)) from None
        return self._client

    @contextmanager
    def api_step(self, what: str, **result: Any) -> Iterator[None]:
        """Any API or network error inside becomes ``<what>: <the API's one-line reason>``."""
        try:
            yield
        except (ModuleFailure, KubeConfigError):
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught  # API and network errors alike
            raise ModuleFailure("%s: %s" % (what, describe_api_error(exc)), exception=traceback.format_exc(),
                                **result) from None

    def fail(self, msg: str, **result: Any) -> None:
        self.module.fail_json(msg=msg, **dict(self.failure_defaults, **result))

    def run(self, body: Callable[[ModuleRunner], dict]) -> None:
        try:
            try:
                result = body(self)
            except KubeConfigError as exc:
                raise ModuleFailure(str(exc)) from None
        except ModuleFailure as failure:
            self.close()
            self.fail(failure.msg, **failure.result)
            return
        self.close()
        self.module.exit_json(**result)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
