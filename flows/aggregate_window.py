"""An aggregate step in window mode: messages of different executions gathered by a key for a time.

``config: {mode: window, key: <JSONata>, window: <seconds>, max_messages: <n>}``. A message reaching
the step is handed to a collector workflow (workflows/aggregate_window.py) named after the flow, the
step and the key's value, so every execution whose message has that key finds the same collector.
Pure: the workflow, the activity and validation share it.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flows.mapping import MappingError, compile_expression
from flows.model import Step

WINDOW_MODE = "window"
MODES = ("split", WINDOW_MODE)  # split (default): the parts of one split, within one execution
DEFAULT_MAX_MESSAGES = 1000
COLLECTOR_PREFIX = "aggregate"


@dataclass(frozen=True)
class WindowSettings:
    key: str
    seconds: float
    max_messages: int


def is_window_aggregate(step: Step) -> bool:
    return step.component == "aggregate" and step.config.get("mode") == WINDOW_MODE


def window_settings(step: Step) -> WindowSettings:
    """The step's window, as validation let it through (``window_problems`` is empty)."""
    config = step.config
    return WindowSettings(key=str(config["key"]), seconds=float(config["window"]),
                          max_messages=int(config.get("max_messages", DEFAULT_MAX_MESSAGES)))


def collector_id(flow_id: str, step_id: str, key: Any) -> str:
    """``aggregate:<flow>/<step>/<key hash>``: the same for every message whose key is equal (the
    key's JSON, so ``1`` and ``"1"`` differ), short whatever the key's size."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{COLLECTOR_PREFIX}:{flow_id}/{step_id}/{digest}"


def window_problems(step: Step) -> list[tuple[str, str]]:
    """(config field, problem) for an aggregate step's mode and window settings."""
    config = step.config
    mode = config.get("mode", "split")
    if mode not in MODES:
        return [("config.mode", f"an aggregate's mode is 'split' (the parts of one split, the default) or "
                                f"'window' (messages of any execution by key and time), not {mode!r}")]
    if mode != WINDOW_MODE:
        return []
    problems = []
    key = config.get("key")
    if not isinstance(key, str) or not key.strip():
        problems.append(("config.key", "a window aggregate needs 'key': a JSONata expression on the message "
                                       "(e.g. 'orderId'); messages whose key is equal are gathered together"))
    else:
        try:
            compile_expression(key)
        except MappingError as error:
            problems.append(("config.key", str(error)))
    if not _positive_number(config.get("window")):
        problems.append(("config.window", "a window aggregate needs 'window': the seconds it gathers messages "
                                          f"from the first of a key, a number above 0 (not {config.get('window')!r})"))
    limit = config.get("max_messages", DEFAULT_MAX_MESSAGES)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        problems.append(("config.max_messages", "'max_messages' closes a window early once it holds that many "
                                                f"messages: a whole number of at least 1 (not {limit!r})"))
    return problems


def _positive_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
