"""Checks a flow against the component catalog and reports every problem at once, with where it is."""

from collections.abc import Mapping as TypingMapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from catalog.components import ComponentInfo
from flows.branch_problems import branch_problems, step_locations
from flows.mapping import mapping_errors
from flows.model import BranchSteps, Flow, Step


class Problem(BaseModel):
    where: str
    problem: str


class FlowInvalid(ValueError):
    """Every problem of a definition; ``str()`` reads as a list a person can fix from."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p.where}: {p.problem}" for p in problems)
        super().__init__(f"flow definition {source} is invalid ({len(problems)} problem(s)):\n{lines}")


def parse_flow(data: Any, catalog: TypingMapping[str, ComponentInfo], source: str = "") -> Flow:
    """Model-validate then catalog-validate; the returned flow has every step's image pinned."""
    try:
        flow = Flow.model_validate(data)
    except ValidationError as exc:
        raise FlowInvalid(source or "(input)", _pydantic_problems(exc)) from None
    problems = catalog_problems(flow, catalog)
    if problems:
        raise FlowInvalid(source or f"'{flow.id}'", problems)
    return pin_images(flow, catalog)


def catalog_problems(flow: Flow, catalog: TypingMapping[str, ComponentInfo]) -> list[Problem]:
    problems: list[Problem] = []
    for where, step in step_locations(flow):
        problems += _step_problems(step, where, catalog, is_trigger=step is flow.trigger,
                                   trigger_type=flow.trigger.type)
    return problems + [Problem(where=where, problem=problem) for where, problem in branch_problems(flow)]


def credential_problems(flow: Flow, credentials: TypingMapping[str, str]) -> list[Problem]:
    """Each step's ``credential`` against the stored ones (``credentials``: id -> component): it must
    exist and belong to the step's component (a credential reaches only its own component's code)."""
    problems: list[Problem] = []
    for located, step in step_locations(flow):  # routers' branch steps too
        if step.credential is None:
            continue
        where = f"{located}.credential"
        owner = credentials.get(step.credential)
        if owner is None:
            mine = sorted(cid for cid, component in credentials.items() if component == step.component)
            stored = f"those of '{step.component}': {', '.join(mine)}" if mine else f"none for '{step.component}'"
            problems.append(Problem(where=where, problem=(
                f"no credential '{step.credential}' is stored ({stored}); store one with POST /credentials")))
        elif owner != step.component:
            problems.append(Problem(where=where, problem=(
                f"credential '{step.credential}' belongs to component '{owner}', not '{step.component}'; "
                "a step uses only a credential of its own component")))
    return problems


W = TypeVar("W", bound=BranchSteps)


def pin_images(flow: Flow, catalog: TypingMapping[str, ComponentInfo]) -> Flow:
    def pinned(step: Step) -> dict[str, Any]:
        update: dict[str, Any] = {"image": step.image or catalog[step.component].image}
        if step.branches is not None:
            update["branches"] = [pin_way(branch) for branch in step.branches]
        if step.default is not None:
            update["default"] = pin_way(step.default)
        return update

    def pin_way(way: W) -> W:
        return way.model_copy(update={"steps": [pin(inner) for inner in way.steps]})

    def pin(step: Step) -> Step:
        return step.model_copy(update=pinned(step))

    return flow.model_copy(update={
        "trigger": flow.trigger.model_copy(update=pinned(flow.trigger)),
        "steps": [pin(step) for step in flow.steps],
    })


def _step_problems(step: Step, where: str, catalog: TypingMapping[str, ComponentInfo],
                   is_trigger: bool, trigger_type: str) -> list[Problem]:
    problems = [Problem(where=f"{where}.{w}", problem=p) for w, p in mapping_errors(step.mapping or {})]
    component = catalog.get(step.component)
    if component is None:
        known = ", ".join(sorted(catalog)) or "none"
        return [Problem(where=f"{where}.component", problem=f"unknown component '{step.component}' (known: {known})"),
                *problems]
    section = component.triggers if is_trigger else component.actions
    spec = section.get(step.function)
    if spec is None:
        kind = "trigger" if is_trigger else "action"
        known = ", ".join(sorted(section)) or "none"
        return [Problem(where=f"{where}.function",
                        problem=f"component '{step.component}' has no {kind} '{step.function}' (its {kind}s: {known})"),
                *problems]
    if is_trigger and component.trigger_type(step.function) != trigger_type:
        problems.append(Problem(where=f"{where}.type", problem=(
            f"'{step.component}/{step.function}' is a {component.trigger_type(step.function)} trigger but the flow "
            f"says type '{trigger_type}'")))
    for field, definition in (spec.get("fields") or {}).items():
        if isinstance(definition, dict) and definition.get("required") and step.config.get(field) in (None, ""):
            label = definition.get("label", field)
            problems.append(Problem(where=f"{where}.config.{field}",
                                    problem=f"required field '{field}' ({label}) of "
                                            f"{step.component}/{step.function} is missing"))
    return problems


def _pydantic_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "string_pattern_mismatch":
            from flows.model import ID_RULE
            message = f"{message}: ids use {ID_RULE}"
        elif error["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        problems.append(Problem(where=location, problem=message))
    return problems
