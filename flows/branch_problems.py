"""What is wrong with a flow's routers and aggregates, each problem with where it is: a router
without branches, branches on another step, conditions that do not parse, branches no message can
reach, steps after a router that every branch ends, an aggregate with no splitter before it (or a
window aggregate's mode, key, window and max_messages that are not right), and
either of them in a real-time flow (which runs neither)."""

from typing import Any

from flows.aggregate_window import window_problems
from flows.mapping import MappingError, compile_expression, shared
from flows.model import Branch, DefaultBranch, Flow, Step
from flows.plan import ROUTER, is_aggregate, is_router, plan_flow

Where = tuple[str, str]  # (where, problem)
MODES = ("first", "all")  # also in components/router/route.py: a component cannot import platform code


def step_locations(flow: Flow) -> list[tuple[str, Step]]:
    """Every step with where it is: ``trigger``, ``steps[2] (route)``,
    ``steps[2] (route).branches[0] (big).steps[1] (notify)``."""
    located: list[tuple[str, Step]] = [("trigger", flow.trigger)]
    for index, step in enumerate(flow.steps):
        located += _located(f"steps[{index}] ({step.id})", step)
    return located


def _located(where: str, step: Step) -> list[tuple[str, Step]]:
    found = [(where, step)]
    for branch_where, branch in _branches(where, step):
        for index, inner in enumerate(branch.steps):
            found += _located(f"{branch_where}.steps[{index}] ({inner.id})", inner)
    return found


def _branches(where: str, step: Step) -> list[tuple[str, Branch | DefaultBranch]]:
    return [(f"{where}.branches[{index}] ({way.id})" if isinstance(way, Branch) else f"{where}.default", way)
            for index, way in enumerate(step.ways())]


def branch_problems(flow: Flow) -> list[Where]:
    located = step_locations(flow)
    problems: list[Where] = []
    for where, step in located:
        problems += _router_problems(where, step) if is_router(step) else _not_a_router(where, step)
        if is_aggregate(step):
            problems += [(f"{where}.{field}", problem) for field, problem in window_problems(step)]
    problems += _aggregate_problems(flow, dict((step.id, where) for where, step in located))
    if flow.type == "realtime":
        problems += [(where, f"a real-time flow runs no '{step.component}' steps (routers and aggregates run in "
                             "ordinary flows only); make the flow type 'ordinary', or remove the step")
                     for where, step in located if is_router(step) or is_aggregate(step)]
    return problems


def _not_a_router(where: str, step: Step) -> list[Where]:
    if step.branches is None and step.default is None:
        return []
    return [(f"{where}.branches", f"only router steps (component '{ROUTER}', function 'route') take 'branches' and "
                                  f"'default'; this step is a '{step.component}'")]


def _router_problems(where: str, step: Step) -> list[Where]:
    if not step.branches:
        return [(f"{where}.branches", "a router needs 'branches': [{id, when, steps, then}], at least one (without "
                                      "them every message would go the default way)")]
    problems: list[Where] = []
    mode = step.config.get("mode", "first")
    if mode not in MODES:
        problems.append((f"{where}.config.mode", f"a router's mode is 'first' or 'all', not {mode!r}"))
    always: str | None = None
    seen: dict[str, str] = {}
    for branch_where, branch in _branches(where, step)[:len(step.branches)]:
        assert isinstance(branch, Branch)
        try:
            constant = _constant_truth(branch.when)
        except MappingError as error:
            problems.append((f"{branch_where}.when", str(error)))
            continue
        if always is not None and mode == "first":
            problems.append((branch_where, f"unreachable: branch '{always}' before it takes every message "
                                           "(its condition is always true, and the mode is 'first')"))
        elif constant is False:
            problems.append((branch_where, f"unreachable: its condition {branch.when!r} is never true"))
        elif mode == "first" and branch.when.strip() in seen:
            problems.append((branch_where, f"unreachable: branch '{seen[branch.when.strip()]}' before it has the "
                                           "same condition, and the mode is 'first'"))
        seen.setdefault(branch.when.strip(), branch.id)
        if constant is True and always is None:
            always = branch.id
    if always is not None and step.default is not None:
        problems.append((f"{where}.default", f"unreachable: branch '{always}' takes every message (its condition "
                                             "is always true)"))
    return problems


def _constant_truth(condition: str) -> bool | None:
    """True or False for a condition that is a literal (``true``, ``false``, ``0``, ``"x"``…), None
    for one that depends on the message; MappingError when it does not parse."""
    tree: Any = compile_expression(condition).ast
    if getattr(tree, "type", None) in ("value", "string", "number"):
        return bool(shared.is_truthy(tree.value))
    return None


def _aggregate_problems(flow: Flow, where_is: dict[str, str]) -> list[Where]:
    plan = plan_flow(flow)
    problems = [(where_is[plan.steps[index].id],
                 "an aggregate gathers the parts of a split: put a splitter before it in the same line of steps (the "
                 "main line, or the same branch), with no other aggregate between them")
                for index in plan.unmatched_aggregates]
    for index, step in enumerate(plan.steps):
        if is_router(step) and step.branches and plan.after[index] < plan.end and _every_way_ends(step):
            follower = plan.steps[plan.after[index]]
            problems.append((where_is[follower.id], f"unreachable: every branch of router '{step.id}' and its "
                                                    "default end the flow ('then: end'); let one rejoin, or remove "
                                                    "the steps after the router"))
    return problems


def _every_way_ends(router: Step) -> bool:
    # without a default, a message no branch takes goes on past the router
    return router.default is not None and all(way.then == "end" for way in router.ways())
