"""What a step's component gets as its ``cfg``. A router's conditions live in its ``branches`` (beside
their steps, where a reader looks for them); the ``router`` component gets them in its ``cfg``."""

from typing import Any

from flows.model import DEFAULT_BRANCH, Step
from flows.plan import is_router


def step_config(step: Step) -> dict[str, Any]:
    if not is_router(step):
        return step.config
    return {**step.config,
            "branches": [{"id": branch.id, "when": branch.when} for branch in step.branches or []],
            "default": step.default.id if step.default is not None else DEFAULT_BRANCH}
