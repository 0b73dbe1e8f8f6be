"""Reads component.json and finds the Python functions it names.

A function reference is ``"path/to/module.py"`` (function ``process``) or ``"module.py:name"``,
relative to the component directory. Modules are imported once per process, so state set up at
module level (connections, listeners) lives as long as a warm container does.
"""

import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from conflux_runtime.errors import ComponentError

DESCRIPTOR_FILE = "component.json"


def read_descriptor(path: Path) -> dict[str, Any]:
    """The JSON object in a component.json (the platform's catalog reads it with this too)."""
    try:
        descriptor = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComponentError(f"{path} is missing: every component directory needs a {DESCRIPTOR_FILE}") from None
    except ValueError as exc:
        raise ComponentError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(descriptor, dict):
        raise ComponentError(f"{path} must hold a JSON object, not {type(descriptor).__name__}")
    return descriptor


class Component:
    def __init__(self, directory: Path, descriptor: dict[str, Any]) -> None:
        self.directory = directory
        self.descriptor = descriptor
        self._modules: dict[Path, ModuleType] = {}
        self._functions: dict[str, Callable[..., Any]] = {}

    @classmethod
    def load(cls, directory: str | Path) -> "Component":
        directory = Path(directory).resolve()
        descriptor = read_descriptor(directory / DESCRIPTOR_FILE)
        if str(directory) not in sys.path:
            sys.path.append(str(directory))  # last: a component file named like a stdlib module shadows nothing
        return cls(directory, descriptor)

    @property
    def title(self) -> str:
        return str(self.descriptor.get("title", self.directory.name))

    @property
    def version(self) -> str:
        return str(self.descriptor.get("version", "0.0.0"))

    def function_spec(self, name: str) -> dict[str, Any]:
        """The trigger or action called ``name``."""
        for section in ("triggers", "actions"):
            spec = (self.descriptor.get(section) or {}).get(name)
            if spec is not None:
                return spec
        known = sorted({*(self.descriptor.get("triggers") or {}), *(self.descriptor.get("actions") or {})})
        raise ComponentError(f"component '{self.title}' has no trigger or action '{name}' "
                             f"(it has: {', '.join(known) or 'none'})")

    def resolve(self, reference: str, default_name: str = "process") -> Callable[..., Any]:
        file_part, _, attr = reference.partition(":")
        module = self._module(file_part)
        attr = attr or default_name
        function = getattr(module, attr, None)
        if not callable(function):
            raise ComponentError(f"{file_part} defines no function '{attr}'")
        return function

    def import_all(self) -> None:
        """Import every trigger's and action's module now, so a broken one is reported at start."""
        for section in ("triggers", "actions"):
            for name in self.descriptor.get(section) or {}:
                self.process_function(name)

    def has_async_code(self) -> bool:
        """Whether a trigger or action resolved so far is a coroutine or async generator function
        (a hook that is async, or a function that returns an awaitable, makes the loop on first use)."""
        return any(inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function)
                   for function in self._functions.values())

    def module_of(self, name: str) -> ModuleType:
        return self._module(self._main(name).partition(":")[0])

    def process_function(self, name: str) -> Callable[..., Any]:
        """Resolved once per name: a warm container asks for it with every message."""
        function = self._functions.get(name)
        if function is None:
            function = self._functions[name] = self.resolve(self._main(name))
        return function

    def _main(self, name: str) -> str:
        main = self.function_spec(name).get("main")
        if not isinstance(main, str) or not main:
            raise ComponentError(f"'{name}' in {DESCRIPTOR_FILE} has no 'main' (the module implementing it)")
        return main

    def _module(self, relative: str) -> ModuleType:
        path = (self.directory / relative).resolve()
        if path in self._modules:
            return self._modules[path]
        if not path.is_file():
            raise ComponentError(f"module {relative} not found in the component directory")
        module_name = "component_" + "_".join(path.relative_to(self.directory).with_suffix("").parts)
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ComponentError(f"cannot import {relative}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise ComponentError(f"importing {relative} failed: {type(exc).__name__}: {exc}") from exc
        self._modules[path] = module
        return module
