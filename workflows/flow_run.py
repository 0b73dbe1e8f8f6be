"""FlowRun: one execution of an ordinary flow.

One message goes step by step, one activity (one container) per step. Step outputs live in the
workflow's history, so a worker that dies resumes at the next step. A step that emits many
messages fans out: they travel on in batches (one container per step per batch, spread over the
flow's concurrency slots); past LEAF_MESSAGES they go to child FlowRun workflows (a tree of
bounded width), so no history grows with the size of the fan-out.

Routers and aggregates (flows/plan.py lays the branches out): a router's outputs go down the
branches it named; the parts of a split travel to the split's aggregate step, which runs once on
those that reached it, after every part has ended its way there (child branches hand theirs back).
A window aggregate (flows/aggregate_window.py) is not waited for here: the message is handed to the
collector of its key (workflows/aggregate_window.py) and its path in this run ends; the collector
starts a run of its own at the aggregate step with the window's messages (``grouped``).
A flow without either issues the same commands as before both existed.

This module is the workflow's face only (its input, result, query and update); the walk itself is
in workflows/flow_walk.py, which the sandbox imports once rather than once per run.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from flows.aggregation import gathered_part
    from workflows.flow_walk import FlowWalk, Gathering
    from workflows.models import FLOW_RUN_TYPE, FlowRunInput, FlowRunResult
    from workflows.replies import FlowReply, ReplyRequest, run_reply


@workflow.defn(name=FLOW_RUN_TYPE)
class FlowRunWorkflow:
    """Routes messages through the steps; what happened goes into the run's report."""

    @workflow.init
    def __init__(self, run: FlowRunInput) -> None:
        self._walk = FlowWalk(run)
        self._report = self._walk.report
        self._finished = False

    @workflow.run
    async def run(self, run: FlowRunInput) -> FlowRunResult:
        into = Gathering(at=run.gather_at) if run.gather_at is not None else None
        await self._walk.walk(into)
        if into is not None:
            self._report.result.gathered = [gathered_part(part) for part in into.parts]
        self._finished = True
        await workflow.wait_condition(workflow.all_handlers_finished)  # a waiting caller gets its answer first
        return self._report.finish()

    @workflow.query
    def progress(self) -> FlowRunResult:
        return self._report.result

    @workflow.update
    async def reply(self, request: ReplyRequest) -> FlowReply:
        """Request-reply: the answer for a caller waiting on this run (update-with-start from the API),
        or ``timeout`` once it waited ``request.timeout_seconds``; the run goes on either way."""
        try:
            await workflow.wait_condition(lambda: self._reply(request) is not None, timeout=request.timeout_seconds)
        except TimeoutError:
            return FlowReply(status="timeout")
        answer = self._reply(request)
        assert answer is not None
        return answer

    def _reply(self, request: ReplyRequest) -> FlowReply | None:
        return run_reply(self._report.result, request.mode, self._finished)
