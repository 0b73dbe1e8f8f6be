"""Where a message goes next: the flow's steps laid out as one list with a successor for each.

Workflows walk flows by index (``FlowRunInput.start_at``, child runs entering mid-flow, retries from
a step), so the branches of routers get indexes too: the main line keeps the indexes it always had
(``flow.all_steps``), and every branch's steps follow it. A flow without routers is laid out as
before: step ``i`` is followed by ``i + 1``, and ``len(steps)`` is the end. Pure and deterministic:
workflow code builds it from the definition.
"""

from dataclasses import dataclass, field

from flows.aggregate_window import is_window_aggregate
from flows.model import DEFAULT_BRANCH, Flow, Step
from steps.protocol import Message

ROUTER = "router"
SPLITTER = "splitter"
AGGREGATE = "aggregate"
BRANCH_KEY = "branch"  # the metadata key in which the router names the branch it chose for a message


def is_router(step: Step) -> bool:
    return step.component == ROUTER


def is_aggregate(step: Step) -> bool:
    return step.component == AGGREGATE


@dataclass
class FlowPlan:
    steps: list[Step] = field(default_factory=list)
    after: list[int] = field(default_factory=list, repr=False)
    lanes: list[str | None] = field(default_factory=list, repr=False)
    entries: dict[tuple[int, str], int] = field(default_factory=dict, repr=False)
    gathers: dict[int, int] = field(default_factory=dict, repr=False)
    unmatched_aggregates: list[int] = field(default_factory=list, repr=False)

    @property
    def end(self) -> int:
        """The index past the last step: a message there has gone through the flow."""
        return len(self.steps)

    def lane(self, index: int) -> str | None:
        """The branch step ``index`` runs in, as ``<router id>/<branch id>`` (None: the main line)."""
        return self.lanes[index] if index < len(self.lanes) else None

    def index_of(self, step_id: str) -> int | None:
        return next((index for index, step in enumerate(self.steps) if step.id == step_id), None)

    def routes(self, index: int, outputs: list[Message]) -> list[tuple[int, list[Message]]]:
        """Where the messages step ``index`` emitted go, grouped by the index they enter at (in the
        order of their first message). A router's outputs go down the branch each names
        (``metadata.branch``); a name the router does not have goes the default way."""
        if not is_router(self.steps[index]):
            return [(self.after[index], outputs)] if outputs else []
        # a router without branches (validation refuses one) sends every message on past itself
        default = self.entries.get((index, DEFAULT_BRANCH), self.after[index])
        groups: dict[int, list[Message]] = {}
        for message in outputs:
            branch = message.metadata.get(BRANCH_KEY)
            target = self.entries.get((index, str(branch)), default)
            groups.setdefault(target, []).append(message)
        return list(groups.items())

    def chosen_branches(self, index: int, outputs: list[Message]) -> list[str] | None:
        """A router's record: the branches it sent the message down (None for other steps)."""
        if not is_router(self.steps[index]):
            return None
        return [str(message.metadata.get(BRANCH_KEY, DEFAULT_BRANCH)) for message in outputs]


def plan_flow(flow: Flow) -> FlowPlan:
    plan = FlowPlan()
    _place(plan, flow.all_steps, -1, None)
    plan.after = [plan.end if index < 0 else index for index in plan.after]
    plan.entries = {key: plan.end if index < 0 else index for key, index in plan.entries.items()}
    return plan


def _place(plan: FlowPlan, line: list[Step], then: int, lane: str | None) -> int:
    """Lay out one line of steps (the main line, or a branch) followed by ``then`` (-1: the end,
    resolved once every step has its index); returns where a message entering the line goes."""
    indexes = []
    for step in line:
        indexes.append(len(plan.steps))
        plan.steps.append(step)
        plan.lanes.append(lane)
        plan.after.append(then)
    for position in range(len(indexes) - 1):
        plan.after[indexes[position]] = indexes[position + 1]
    for index, step in zip(indexes, line, strict=True):
        if step.branches is not None or step.default is not None:
            _place_branches(plan, index, step)
    _pair_splits(plan, indexes)
    return indexes[0] if indexes else then


def _place_branches(plan: FlowPlan, index: int, router: Step) -> None:
    rejoin = plan.after[index]
    plan.entries[(index, DEFAULT_BRANCH)] = rejoin  # without a default: on past the router
    for way in router.ways():
        entry = _place(plan, way.steps, rejoin if way.then == "rejoin" else -1, f"{router.id}/{way.id}")
        plan.entries[(index, way.id)] = entry
        if way is router.default:
            plan.entries[(index, DEFAULT_BRANCH)] = entry


def _pair_splits(plan: FlowPlan, indexes: list[int]) -> None:
    """Each aggregate of a line gathers the parts of the nearest unpaired splitter before it in that
    line, as brackets pair. A window aggregate gathers by key across runs, not a split: it pairs with none."""
    open_splits: list[int] = []
    for index in indexes:
        step = plan.steps[index]
        if step.component == SPLITTER:
            open_splits.append(index)
        elif is_aggregate(step) and not is_window_aggregate(step):
            if open_splits:
                plan.gathers[open_splits.pop()] = index
            else:
                plan.unmatched_aggregates.append(index)
