# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/troubleshooting.md names every reason the code can give for a Service without an IP.

The reasons are read from the source, not copied here: the texts ``pending_reason`` returns
(``metal.lb.lb_info``'s ``reason``), the Warning events the controller's converge step emits
(the reason a pending Service shows), the allocation and request errors inside those events, and
the layer-2 reasons the planner gives for an IP no node announces. A new reason in the code fails
this test until the page explains it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ENGINE = ROOT / "plugins" / "module_utils" / "engine"
PAGE = ROOT / "docs" / "troubleshooting.md"
PLACEHOLDER = re.compile(r"%[sdr]|\{[^{}]*\}")


def _template(node) -> str | None:
    """A message's text with its substitutions as placeholders (%-format, f-string, str.format, +)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _template(node.left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        return None if left is None or right is None else left + right
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
        return _template(node.func.value)
    return None


def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _raised(path: Path, exceptions: set) -> list[str]:
    found = []
    for node in ast.walk(_tree(path)):
        if (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args
                and getattr(node.exc.func, "id", None) in exceptions):
            text = _template(node.exc.args[0])
            assert text is not None, "%s:%d: message not readable" % (path.name, node.lineno)
            found.append(text)
    return found


def pending_texts() -> list[str]:
    """What ``controller_pass.pending_reason`` returns besides a Warning event's message."""
    tree = _tree(ENGINE / "controller_pass.py")
    func = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "pending_reason")
    return [t for t in (_template(n.value) for n in ast.walk(func) if isinstance(n, ast.Return)) if t]


def warning_events() -> list[tuple[str, str]]:
    """(reason, message) of every Warning event the controller's converge step emits."""
    found = []
    for node in ast.walk(_tree(ENGINE / "converge.py")):
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Event" and len(node.args) == 3
                and getattr(node.args[0], "id", None) == "WARNING"):
            found.append((node.args[1].value, _template(node.args[2])))
    return found


def event_details() -> list[str]:
    """The errors an AllocationFailed or LoadBalancerFailed event carries."""
    details = []
    for path in sorted((ENGINE / "allocator").glob("*.py")):
        details += _raised(path, {"AllocationError"})
    details += _raised(ENGINE / "service.py", {"ValueError", "FamilyError"})
    details += _raised(ENGINE / "converge.py", {"ValueError"})
    return details


def layer2_reasons() -> list[str]:
    """MetalLB's reasons (camelCase string constants) why no node announces an IP."""
    found = []
    for name in ("election.py", "layer2_decisions.py"):
        for node in ast.walk(_tree(ENGINE / name)):
            if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.isupper() and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str) and re.fullmatch(r"[a-z]+[A-Z][A-Za-z]+", node.value.value)):
                found.append(node.value.value)
    return found


def missing_fragments(template: str, text: str) -> list[str]:
    """The fixed parts (3 characters or more) of ``template`` that ``text`` lacks."""
    parts = [part.strip() for part in PLACEHOLDER.split(template)]
    return [part for part in parts if len(part) >= 3 and part not in text]


def test_every_pending_text_is_documented():
    texts = pending_texts()
    assert len(texts) >= 5
    text = PAGE.read_text(encoding="utf-8")
    missing = [t for t in texts if missing_fragments(t, text)]
    assert not missing, "not in docs/troubleshooting.md: %s" % missing


def test_every_warning_event_is_documented():
    events = warning_events()
    assert {"AllocationFailed", "LoadBalancerFailed"} <= {reason for reason, _message in events}
    text = PAGE.read_text(encoding="utf-8")
    missing = ["%s: %s" % (reason, message) for reason, message in events
               if "`%s`" % reason not in text or missing_fragments(message, text)]
    assert not missing, "not in docs/troubleshooting.md: %s" % missing


def test_every_allocation_and_request_error_is_documented():
    details = event_details()
    assert "no available IPs" in details
    text = PAGE.read_text(encoding="utf-8")
    missing = [d for d in details if missing_fragments(d, text)]
    assert not missing, "not in docs/troubleshooting.md: %s" % missing


def test_every_layer2_reason_is_documented():
    reasons = layer2_reasons()
    assert {"notOwner", "noMatchingAdvertisement"} <= set(reasons)
    text = PAGE.read_text(encoding="utf-8")
    missing = [r for r in reasons if "`%s`" % r not in text]
    assert not missing, "not in docs/troubleshooting.md: %s" % missing


def test_fragment_check_notices_a_new_message():
    page = "| `no available IPs in pool <pool>` | ... |"
    assert missing_fragments("no available IPs in pool {}", page) == []
    assert missing_fragments("pool {} is on fire", page) == ["is on fire"]
