# -*- coding: utf-8 -*-
# Copyright: metal.lb contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: UP009 - the Ansible header above is required in plugins/
"""A small subset of CEL for CRD ``x-kubernetes-validations`` rules.

Covered: literals (int, double, string, bool, null, lists, maps), ``self``/``oldSelf``, field
selection, indexing, ``!`` ``-`` ``* / %`` ``+ -`` comparisons, ``in``, ``&&`` ``||`` (with CEL's
error absorption), ``?:``; ``has()``, ``size()``/``.size()``, ``int()``, ``uint()``, ``double()``,
``string()``, ``duration()`` with ``getHours/getMinutes/getSeconds/getMilliseconds``,
``startsWith/endsWith/contains/matches``, and the ``all/exists/exists_one/map/filter`` macros. That
is every rule MetalLB's CRDs use (``self == oldSelf``, ``has(...)``/``size()`` combinations,
``duration(self).getSeconds()`` bounds).

Anything else raises ``Unsupported`` when the rule is compiled; the caller then reports the rule as
NOT evaluated (a ``Warning`` response header) instead of pretending it passed. Hand-written: there is
no pure-Python CEL implementation we may depend on from module_utils.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

_NO_OLD = object()


class Unsupported(Exception):
    """The rule uses CEL this subset does not implement."""


class EvalError(Exception):
    """A runtime CEL error (no such key, no matching overload ...)."""


class Duration:
    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and other.ns == self.ns

    def __lt__(self, other: Duration) -> bool:
        return self.ns < _as_duration(other).ns

    def __le__(self, other: Duration) -> bool:
        return self.ns <= _as_duration(other).ns

    def __gt__(self, other: Duration) -> bool:
        return self.ns > _as_duration(other).ns

    def __ge__(self, other: Duration) -> bool:
        return self.ns >= _as_duration(other).ns

    def __hash__(self) -> int:
        return hash(self.ns)


def _as_duration(value: Any) -> Duration:
    if not isinstance(value, Duration):
        raise EvalError("no matching overload")
    return value


_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration(text: Any) -> Duration:
    """Go's time.ParseDuration (the format of metav1.Duration and CEL's duration())."""
    if not isinstance(text, str):
        raise EvalError("no matching overload for duration()")
    s = text.strip()
    sign = 1
    if s[:1] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return Duration(0)
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise EvalError(f"invalid duration {text!r}")
    total = 0.0
    for number, unit in parts:
        total += float(number) * _UNITS[unit]
    return Duration(sign * int(round(total)))


# --------------------------------------------------------------------------- lexer

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|0x[0-9a-fA-F]+u?|\d+u?)
  | (?P<str>[rR]?"(?:[^"\\\n]|\\.)*"|[rR]?'(?:[^'\\\n]|\\.)*')
  | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,()\[\]{}])
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
""",
    re.VERBOSE,
)


def _lex(text: str) -> list[tuple[str, Any]]:
    if '"""' in text or "'''" in text:
        raise Unsupported("triple-quoted strings")
    out: list[tuple[str, Any]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise Unsupported(f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind = match.lastgroup
        value = match.group()
        if kind == "ws":
            continue
        if kind == "num":
            if value.startswith("0x"):
                out.append(("lit", int(value.rstrip("u"), 16)))
            elif "." in value or "e" in value.lower():
                out.append(("lit", float(value)))
            else:
                out.append(("lit", int(value.rstrip("u"))))
        elif kind == "str":
            raw = value[0] in "rR"
            body = value[2:-1] if raw else value[1:-1]
            if not raw:
                body = body.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
            out.append(("lit", body))
        elif kind == "id" and value in ("true", "false", "null"):
            out.append(("lit", {"true": True, "false": False, "null": None}[value]))
        else:
            out.append((kind, value))
    out.append(("end", None))
    return out


# --------------------------------------------------------------------------- parser → closures
# Each node compiles to fn(env) -> value, env = {"self": ..., "oldSelf": ..., macro vars ...}.

Node = Callable[[dict], Any]


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _lex(text)
        self.pos = 0

    def peek(self) -> tuple[str, Any]:
        return self.toks[self.pos]

    def take(self, value: Any = None) -> tuple[str, Any]:
        tok = self.toks[self.pos]
        if value is not None and tok[1] != value:
            raise Unsupported(f"expected {value!r}, found {tok[1]!r}")
        self.pos += 1
        return tok

    def at(self, *values: str) -> bool:
        kind, value = self.peek()
        return kind == "op" and value in values or (kind == "id" and value in values and value == "in")

    def parse(self) -> Node:
        node = self.cond()
        if self.peek()[0] != "end":
            raise Unsupported(f"unexpected {self.peek()[1]!r}")
        return node

    def cond(self) -> Node:
        test = self.lor()
        if self.at("?"):
            self.take("?")
            yes = self.cond()
            self.take(":")
            no = self.cond()
            return lambda env: yes(env) if _truth(test(env)) else no(env)
        return test

    def lor(self) -> Node:
        node = self.land()
        while self.at("||"):
            self.take()
            node = _or(node, self.land())
        return node

    def land(self) -> Node:
        node = self.rel()
        while self.at("&&"):
            self.take()
            node = _and(node, self.rel())
        return node

    def rel(self) -> Node:
        node = self.add()
        while self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            op = self.take()[1]
            node = _binary(op, node, self.add())
        return node

    def add(self) -> Node:
        node = self.mul()
        while self.at("+", "-"):
            op = self.take()[1]
            node = _binary(op, node, self.mul())
        return node

    def mul(self) -> Node:
        node = self.unary()
        while self.at("*", "/", "%"):
            op = self.take()[1]
            node = _binary(op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at("!"):
            self.take()
            inner = self.unary()
            return lambda env: not _bool(inner(env))
        if self.at("-"):
            self.take()
            inner = self.unary()
            return lambda env: -_number(inner(env))
        return self.member()

    def args(self) -> list[Node]:
        self.take("(")
        out: list[Node] = []
        if not self.at(")"):
            out.append(self.cond())
            while self.at(","):
                self.take()
                out.append(self.cond())
        self.take(")")
        return out

    def member(self) -> Node:
        node = self.primary()
        while True:
            if self.at("."):
                self.take()
                kind, name = self.take()
                if kind != "id":
                    raise Unsupported("expected a field name after '.'")
                if self.at("("):
                    node = self.method(node, name)
                else:
                    node = _select(node, name)
            elif self.at("["):
                self.take()
                index = self.cond()
                self.take("]")
                node = _index(node, index)
            else:
                return node

    def method(self, target: Node, name: str) -> Node:
        if name in ("all", "exists", "exists_one", "map", "filter"):
            self.take("(")
            kind, var = self.take()
            if kind != "id":
                raise Unsupported(f"macro {name} needs a variable")
            self.take(",")
            body = self.cond()
            self.take(")")
            return _macro(name, target, var, body)
        args = self.args()
        return _method(name, target, args)

    def primary(self) -> Node:
        kind, value = self.take()
        if kind == "lit":
            return lambda env: value
        if kind == "op" and value == "(":
            node = self.cond()
            self.take(")")
            return node
        if kind == "op" and value == "[":
            items: list[Node] = []
            if not self.at("]"):
                items.append(self.cond())
                while self.at(","):
                    self.take()
                    items.append(self.cond())
            self.take("]")
            return lambda env: [i(env) for i in items]
        if kind == "op" and value == "{":
            pairs: list[tuple[Node, Node]] = []
            if not self.at("}"):
                while True:
                    k = self.cond()
                    self.take(":")
                    pairs.append((k, self.cond()))
                    if not self.at(","):
                        break
                    self.take()
            self.take("}")
            return lambda env: {k(env): v(env) for k, v in pairs}
        if kind == "id":
            if value == "has" and self.at("("):
                return self.has()
            if self.at("("):
                return _function(value, self.args())
            name = value
            return lambda env: _variable(env, name)
        raise Unsupported(f"unexpected {value!r}")

    def has(self) -> Node:
        self.take("(")
        target = self.member()
        self.take(")")
        field = getattr(target, "cel_field", None)
        if field is None:
            raise Unsupported("has() needs a field selection")
        parent, name = field

        def run(env: dict) -> bool:
            obj = parent(env)
            if isinstance(obj, dict):
                return name in obj and obj[name] is not None
            raise EvalError("invalid type for field selection")

        return run


def _variable(env: dict, name: str) -> Any:
    if name not in env:
        raise Unsupported(f"undeclared reference to {name!r}")
    value = env[name]
    if value is _NO_OLD:
        raise EvalError("oldSelf is not available")
    return value


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise EvalError("no matching overload for a condition")
    return value


_bool = _truth


def _number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float, Duration)):
        raise EvalError("no matching overload")
    if isinstance(value, Duration):
        return Duration(-value.ns)
    return value


def _or(left: Node, right: Node) -> Node:
    def run(env: dict) -> bool:
        try:
            if _bool(left(env)):
                return True
        except EvalError:
            if _bool(right(env)):
                return True
            raise
        return _bool(right(env))

    return run


def _and(left: Node, right: Node) -> Node:
    def run(env: dict) -> bool:
        try:
            if not _bool(left(env)):
                return False
        except EvalError:
            if not _bool(right(env)):
                return False
            raise
        return _bool(right(env))

    return run


def _same_kind(a: Any, b: Any) -> None:
    numeric = (int, float)
    if isinstance(a, bool) != isinstance(b, bool):
        raise EvalError("no matching overload")
    if isinstance(a, numeric) and isinstance(b, numeric):
        return
    if type(a) is not type(b) and not (a is None or b is None):
        raise EvalError("no matching overload")


def _binary(op: str, left: Node, right: Node) -> Node:
    def run(env: dict) -> Any:
        a, b = left(env), right(env)
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op == "in":
            if isinstance(b, dict):
                return a in b
            if isinstance(b, list):
                return any(_equal(a, x) for x in b)
            raise EvalError("no matching overload for 'in'")
        _same_kind(a, b)
        if op in ("<", "<=", ">", ">="):
            if a is None or isinstance(a, (dict, list)):
                raise EvalError("no matching overload")
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if op == "+":
            if isinstance(a, Duration):
                return Duration(a.ns + b.ns)
            if isinstance(a, (str, list, int, float)):
                return a + b
            raise EvalError("no matching overload for '+'")
        if op == "-":
            if isinstance(a, Duration):
                return Duration(a.ns - b.ns)
            return _number(a) - _number(b)
        if op == "*":
            return _number(a) * _number(b)
        if op in ("/", "%"):
            if isinstance(a, int) and isinstance(b, int):
                if b == 0:
                    raise EvalError("division by zero" if op == "/" else "modulus by zero")
                quotient = abs(a) // abs(b) * (1 if (a >= 0) == (b >= 0) else -1)
                return quotient if op == "/" else a - quotient * b
            if op == "/":
                return _number(a) / _number(b)
        raise EvalError(f"no matching overload for {op!r}")

    return run


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=False))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    return a == b


def _select(target: Node, name: str) -> Node:
    def run(env: dict) -> Any:
        obj = target(env)
        if not isinstance(obj, dict):
            raise EvalError(f"no such key: {name}")
        if name not in obj:
            raise EvalError(f"no such key: {name}")
        return obj[name]

    run.cel_field = (target, name)  # type: ignore[attr-defined]
    return run


def _index(target: Node, index: Node) -> Node:
    def run(env: dict) -> Any:
        obj, key = target(env), index(env)
        try:
            if isinstance(obj, list) and (isinstance(key, bool) or not isinstance(key, int)):
                raise EvalError("no matching overload for index")
            return obj[key]
        except (KeyError, IndexError, TypeError) as exc:
            raise EvalError(f"no such key: {key}") from exc

    return run


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, dict, bytes)):
        return len(value)
    raise EvalError("no matching overload for size()")


def _function(name: str, args: list[Node]) -> Node:
    conversions: dict[str, Callable[[Any], Any]] = {
        "size": _size,
        "duration": parse_duration,
        "int": lambda v: int(v) if not isinstance(v, Duration) else v.ns,
        "uint": int,
        "double": float,
        "string": lambda v: (
            v if isinstance(v, str) else ("true" if v is True else "false" if v is False else str(v))
        ),
    }
    if name not in conversions or len(args) != 1:
        raise Unsupported(f"function {name}/{len(args)}")
    fn = conversions[name]
    arg = args[0]

    def run(env: dict) -> Any:
        try:
            return fn(arg(env))
        except (TypeError, ValueError) as exc:
            raise EvalError(str(exc)) from exc

    return run


def _method(name: str, target: Node, args: list[Node]) -> Node:
    duration_parts = {
        "getHours": 3_600_000_000_000,
        "getMinutes": 60_000_000_000,
        "getSeconds": 1_000_000_000,
        "getMilliseconds": 1_000_000,
    }
    if name in duration_parts and not args:
        unit = duration_parts[name]

        def part(env: dict) -> int:
            value = _as_duration(target(env))
            return int(value.ns / unit)

        return part
    if name == "size" and not args:
        return lambda env: _size(target(env))
    string_methods = {
        "startsWith": lambda s, a: s.startswith(a),
        "endsWith": lambda s, a: s.endswith(a),
        "contains": lambda s, a: a in s,
        "matches": lambda s, a: re.search(a, s) is not None,
    }
    if name in string_methods and len(args) == 1:
        fn = string_methods[name]
        arg = args[0]

        def run(env: dict) -> Any:
            s, a = target(env), arg(env)
            if not isinstance(s, str) or not isinstance(a, str):
                raise EvalError(f"no matching overload for {name}")
            return fn(s, a)

        return run
    raise Unsupported(f"method {name}/{len(args)}")


def _macro(name: str, target: Node, var: str, body: Node) -> Node:
    def run(env: dict) -> Any:
        collection = target(env)
        if isinstance(collection, dict):
            elements = list(collection)
        elif isinstance(collection, list):
            elements = collection
        else:
            raise EvalError(f"no matching overload for {name}")
        results = []
        for element in elements:
            inner = dict(env)
            inner[var] = element
            results.append((element, body(inner)))
        if name == "all":
            return all(_bool(r) for _element, r in results)
        if name == "exists":
            return any(_bool(r) for _element, r in results)
        if name == "exists_one":
            return sum(1 for _element, r in results if _bool(r)) == 1
        if name == "map":
            return [r for _element, r in results]
        return [e for e, r in results if _bool(r)]

    return run


@functools.lru_cache(maxsize=512)
def compile_rule(rule: str) -> Node:
    """Compile once; raises ``Unsupported`` for CEL outside the subset."""
    return _Parser(rule).parse()


def uses_old_self(rule: str) -> bool:
    return re.search(r"\boldSelf\b", rule) is not None


def evaluate(rule: str, value: Any, old: Any = _NO_OLD) -> Any:
    """Evaluate ``rule`` with ``self`` = value (and ``oldSelf`` when given). May raise EvalError."""
    node = compile_rule(rule)
    env = {"self": value, "oldSelf": old}
    return node(env)


NO_OLD = _NO_OLD
