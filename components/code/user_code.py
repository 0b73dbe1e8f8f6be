"""Turns the user's code (the body of ``run``) into a function, once per distinct text.

The text is parsed as the body of ``def run(msg, cfg, snapshot, emit):`` with line numbers kept
as the user wrote them, so a syntax error or a traceback points at the user's own line. A body
that uses ``await`` becomes ``async def run``; one that uses ``yield`` is a generator (each item
one message), exactly as the runtime treats any component function.
"""

import ast
import hashlib
import linecache
import textwrap
from collections.abc import Callable
from typing import Any

from conflux_runtime import Rebound

SIGNATURE = "msg, cfg, snapshot, emit"

_functions: dict[str, Callable[..., Any]] = {}


class UserCodeError(Exception):
    """The code does not compile; the message names the line."""


def function_for(code: str) -> Callable[..., Any]:
    if code not in _functions:
        _functions[code] = _compile(code)
    return _functions[code]


def _compile(code: str) -> Callable[..., Any]:
    body = textwrap.dedent(code).strip("\n") or "pass"
    user_lines = body.splitlines()
    indented = textwrap.indent(body, "    ", lambda line: True)
    filename = f"<code step {hashlib.sha256(code.encode()).hexdigest()[:8]}>"
    tree = _parse(f"def run({SIGNATURE}):\n{indented}", filename, user_lines)
    ast.increment_lineno(tree, -1)  # the wrapper's def line becomes line 0: user line N stays N
    if _awaits(tree.body[0]):
        tree.body[0] = _as_async(tree.body[0])
    linecache.cache[filename] = (len(indented), None, [line + "\n" for line in indented.splitlines()], filename)
    try:
        compiled = compile(tree, filename, "exec")
    except SyntaxError as exc:  # errors found only when compiling, e.g. a 'nonlocal' with nothing to bind
        raise _error(exc, exc.lineno or 1, user_lines) from None
    namespace: dict[str, Any] = {"__name__": "conflux_code_step", "Rebound": Rebound}
    exec(compiled, namespace)
    return namespace["run"]


def _parse(source: str, filename: str, user_lines: list[str]) -> ast.Module:
    try:
        return ast.parse(source, filename)
    except SyntaxError as exc:
        raise _error(exc, (exc.lineno or 2) - 1, user_lines) from None


def _error(exc: SyntaxError, line: int, user_lines: list[str]) -> UserCodeError:
    line = min(max(line, 1), len(user_lines))
    text = user_lines[line - 1].strip()
    return UserCodeError(f"syntax error in the code on line {line}: {exc.msg}" + (f": {text}" if text else ""))


def _as_async(function: ast.stmt) -> ast.AsyncFunctionDef:
    fields = {field: getattr(function, field) for field in function._fields}
    return ast.copy_location(ast.AsyncFunctionDef(**fields), function)


def _awaits(function: ast.AST) -> bool:
    """Whether the body itself (not a nested function) awaits, so run must be ``async def``."""
    pending = list(ast.iter_child_nodes(function))
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)):
            return True
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            pending.extend(ast.iter_child_nodes(node))
    return False
