# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The hostile-input corpus: every entry of ``corpus/`` through the CLI and the modules' engine path.

An entry is a directory ``corpus/<name>/`` holding ``case.yaml`` and its input files; adding an
entry is adding a directory, nothing else changes (README.md in this directory lists the keys).
For every command an entry names, ``bin/metal-lb <command>`` runs as a subprocess and must:

* exit with the code the entry expects, by itself (no signal, no timeout), without a traceback;
* print exactly one error line, naming the object and the field (the entry's ``error`` text),
  or none when it expects exit 0 (then its ``warning`` text, if any, must be among the warnings);
* lose nothing that worked: ``neighbors.yaml`` (valid pools, an advertisement, Services, one of
  them already holding an address) is read beside the hostile input, and the neighbours plan
  exactly as they plan alone whenever the configuration is still valid; when it is not, the one
  error line is the hostile object's (the neighbours are not dragged in).

With ``engine`` (default on for validate and plan), the same files go through the modules' engine
path (``metal.lb.plan``'s reader, then ``planner.plan``), which must report the same error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ansible_collections.metal.lb.plugins.module_utils.engine import planner
from ansible_collections.metal.lb.plugins.module_utils.engine.config.parse import parse_config
from ansible_collections.metal.lb.plugins.modules import plan as plan_module

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
NEIGHBORS = HERE / "neighbors.yaml"
ROOT = HERE.parents[2]
CLI = ROOT / "bin" / "metal-lb"
INFO_PREFIXES = ("warning:", "note:")
ENGINE_COMMANDS = ("validate", "plan")


def load_case(directory: Path) -> dict:
    case = yaml.safe_load((directory / "case.yaml").read_text(encoding="utf-8"))
    assert isinstance(case, dict) and case.get("commands"), "%s: case.yaml needs commands" % directory.name
    return case


def cases() -> list:
    params = []
    for directory in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        case = load_case(directory)
        for command in case["commands"]:
            params.append(pytest.param(directory, command, id="%s-%s" % (directory.name, command)))
    return params


def input_path(directory: Path, case: dict, tmp_path: Path) -> Path | None:
    """The entry's input: a file of its directory, or text generated from ``generate`` (inputs too big
    or too odd to keep in the repository: 50,000 brackets, 400 nines)."""
    generate = case.get("generate")
    if generate:
        text = (generate.get("prefix", "") + generate["repeat"] * generate["times"]
                + generate.get("close", "") * generate["times"] + generate.get("suffix", ""))
        path = tmp_path / generate.get("name", "generated.yaml")
        path.write_bytes(text.encode(generate.get("encoding", "utf-8")))
        return path
    if case.get("input"):
        return directory / case["input"]
    return None


def argv_for(command: str, spec: dict, case: dict, source: Path | None) -> tuple[list[str], bytes | None]:
    use_stdin = case.get("stdin", False)
    neighbors = spec.get("neighbors", command in ENGINE_COMMANDS)
    if "args" in spec:
        args = [a.replace("{input}", str(source)).replace("{dir}", str(source.parent if source else ""))
                for a in spec["args"]]
    else:
        args = (["-f", str(NEIGHBORS)] if neighbors else []) + ["-f", "-" if use_stdin else str(source)]
        if command == "plan":
            args += ["-o", "json"]
    stdin = source.read_bytes() if use_stdin and source is not None else None
    return [sys.executable, str(CLI), command] + args, stdin


def run_cli(argv: list[str], stdin: bytes | None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run(argv, input=stdin if stdin is not None else b"", capture_output=True, timeout=120,
                          env=env, check=False)


def error_lines(command: str, proc: subprocess.CompletedProcess) -> tuple[list[str], list[str], dict | None]:
    """(error lines, warning lines, plan JSON) of one run."""
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    errors, warnings = [], []
    for line in err.splitlines():
        (warnings if line.startswith(INFO_PREFIXES) else errors).append(line)
    result = None
    if command == "plan" and out.strip():
        result = json.loads(out)
        errors += result["errors"]
        warnings += result["warnings"]
    elif command == "validate":
        errors += [line for line in out.splitlines() if not line.startswith("configuration valid:")]
    return errors, warnings, result


@pytest.fixture(scope="module")
def baseline() -> dict:
    """What the neighbours produce alone."""
    proc = run_cli([sys.executable, str(CLI), "plan", "-f", str(NEIGHBORS), "-o", "json"], None)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["services"] and all(s["state"] == "assigned" for s in result["services"].values())
    validate = run_cli([sys.executable, str(CLI), "validate", "-f", str(NEIGHBORS)], None)
    assert validate.returncode == 0, validate.stderr
    return {"plan": result, "validate": validate.stdout.decode()}


@pytest.mark.parametrize("directory, command", cases())
def test_hostile_input(directory: Path, command: str, tmp_path: Path, baseline: dict) -> None:
    case = load_case(directory)
    spec = dict(case["commands"][command] or {})
    expected_exit = spec.get("exit", case.get("exit"))
    expected_error = spec.get("error", case.get("error"))
    source = input_path(directory, case, tmp_path)
    argv, stdin = argv_for(command, spec, case, source)
    proc = run_cli(argv, stdin)
    stderr = proc.stderr.decode("utf-8", "replace")

    assert proc.returncode >= 0, "killed by signal %d" % -proc.returncode
    assert "Traceback" not in stderr, stderr
    errors, warnings, result = error_lines(command, proc)
    assert proc.returncode == expected_exit, (proc.returncode, errors, warnings)
    if expected_exit == 0:
        assert errors == []
    else:
        assert len(errors) == 1, errors
        assert expected_error in errors[0], errors
    if spec.get("stdout"):
        assert spec["stdout"] in proc.stdout.decode("utf-8", "replace")
    expected_warning = spec.get("warning", case.get("warning"))
    if expected_warning:
        assert any(expected_warning in w for w in warnings), warnings

    neighbors = spec.get("neighbors", command in ENGINE_COMMANDS) and "args" not in spec
    if neighbors and command == "plan" and result is not None and result["pools"]:
        planned = baseline["plan"]
        for key, entry in planned["services"].items():  # nothing that worked is lost
            assert result["services"].get(key) == entry, key
        # The speakers announce only from a valid whole configuration (an invalid one keeps their last
        # valid one running), so a plan shows announcements only then; when it does, none is lost.
        if result["announcements"] or not result["errors"]:
            for ip, decision in planned["announcements"].items():
                assert result["announcements"].get(ip) == decision, ip
    if neighbors and command == "validate" and proc.returncode == 0 and not spec.get("adds_objects"):
        assert proc.stdout.decode() == baseline["validate"]

    if spec.get("engine", case.get("engine", command in ENGINE_COMMANDS)) and "args" not in spec:
        engine_errors = run_engine(command, source, neighbors)
        if proc.returncode == 2:  # unreadable: the module reports the file, as the CLI does
            assert len(engine_errors) == 1 and expected_error in engine_errors[0], engine_errors
        elif command == "plan":
            assert engine_errors == result["errors"]
        else:
            assert len(engine_errors) == (0 if expected_exit == 0 else 1), engine_errors
            if expected_exit:
                assert expected_error in engine_errors[0]


def run_engine(command: str, source: Path | None, neighbors: bool) -> list[str]:
    """The modules' path: metal.lb.plan's file reader, then the planner (what metal.lb.plan reports) or
    the configuration parser alone (what metal.lb.config and the pool_validate filter report)."""
    paths = ([str(NEIGHBORS)] if neighbors else []) + ([str(source)] if source else [])
    objects, file_errors = plan_module.read_objects(paths)
    if file_errors:
        return file_errors
    if command == "plan":
        return planner.plan(objects)["errors"]
    return [str(e) for e in parse_config(objects).errors]
