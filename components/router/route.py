"""Router action: which branches a message goes down; the platform then walks them.

The flow definition holds the branches (``branches: [{id, when, steps, then}]``, ``default``); the
platform passes their conditions in ``cfg`` (``branches: [{id, when}]``, ``default``: the default
branch's id) with the step's ``mode``: ``first`` (the default) sends the message down the first
branch whose condition holds, ``all`` down every one. When none holds it goes the default way. The
body passes unchanged, once per chosen branch, with ``metadata.branch`` naming the branch.
"""

from typing import Any

from jsonata_expressions import ExpressionError, evaluate, is_truthy

MODES = ("first", "all")  # also in flows/branch_problems.py, which refuses other modes when a flow is saved


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    for branch in chosen_branches(msg, cfg, emit.flow_variables):
        emit.data(msg.get("body"), metadata={"branch": branch})


def chosen_branches(msg: dict[str, Any], cfg: dict[str, Any], variables: dict[str, Any]) -> list[str]:
    mode = cfg.get("mode") or "first"
    if mode not in MODES:
        raise ExpressionError(f"cfg 'mode' is {mode!r}; a router's mode is 'first' or 'all'")
    branches = cfg.get("branches") or []
    if not branches:
        raise ExpressionError("cfg 'branches' is empty: a router needs branches, each {id, when} (the platform "
                              "passes them from the step's 'branches')")
    chosen = []
    for branch in branches:
        if is_truthy(evaluate(branch["when"], msg, variables)):
            chosen.append(str(branch["id"]))
            if mode == "first":
                break
    return chosen or [str(cfg.get("default") or "default")]
