"""The report of one FlowRun: totals, the first step records, failures and outputs, each capped so
the workflow's state (and the result in its history) stays small whatever the fan-out."""

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from flows.model import Step
    from steps.protocol import HttpReply, Message
    from workflows.models import MAX_OUTPUTS, FlowRunResult, StepRecord
    from workflows.retry_input import kept
    from workflows.search import FAILED_STEP

MAX_RECORDS = 100
MAX_FAILURES = 20
FAILED_TYPE = "FlowRunFailed"


class RunReport:
    """What a run did, as the ``progress`` query, the result and the failure details show it."""

    def __init__(self, result: FlowRunResult) -> None:
        self.result = result

    def count_step_runs(self, count: int) -> None:
        self.result.totals.step_runs += count

    def filtered(self) -> None:
        """A path ended early because a step emitted nothing."""
        self.result.totals.filtered += 1

    def deliver(self, message: Message) -> None:
        self.result.totals.delivered += 1
        if len(self.result.outputs) < MAX_OUTPUTS:
            self.result.outputs.append(message.body)

    def http_reply(self, reply: HttpReply | None) -> None:
        """The first reply a step emits is the run's."""
        if reply is not None and self.result.http_reply is None:
            self.result.http_reply = reply

    def record(self, record: StepRecord) -> None:
        if len(self.result.records) < MAX_RECORDS:
            self.result.records.append(record)
        else:
            self.result.records_dropped += 1

    def record_failed(self, record: StepRecord) -> None:
        self.result.totals.failed += 1
        self.record(record)
        if len(self.result.failures) < MAX_FAILURES:
            self.result.failures.append(record)

    def record_failure(self, step: Step, message: Message, error: Exception, branch: str | None = None) -> None:
        """A step's activity (or a child run) that failed: its error, and the input it failed on;
        ``branch``: the router branch the step is in."""
        cause = error.cause if isinstance(error, (ActivityError, ChildWorkflowError)) and error.cause else error
        details = cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
        self.record_failed(StepRecord(
            step_id=step.id, component=step.component, message_id=message.id, status="failed",
            error=str(cause), error_type=cause.type if isinstance(cause, ApplicationError) else type(cause).__name__,
            input=details.get("input", message.body) if isinstance(details, dict) else message.body,
            arrived=kept(message), branch=branch,
        ))

    def merge(self, branch: FlowRunResult) -> None:
        """A child branch's report, within this report's caps."""
        self.result.totals.add(branch.totals)
        self.http_reply(branch.http_reply)
        self.result.records_dropped += branch.records_dropped
        for record in branch.records:
            self.record(record)
        room = MAX_FAILURES - len(self.result.failures)
        self.result.failures.extend(branch.failures[:max(room, 0)])
        room = MAX_OUTPUTS - len(self.result.outputs)
        self.result.outputs.extend(branch.outputs[:max(room, 0)])

    def finish(self) -> FlowRunResult:
        """The result of a run with no failure; else FlowRunFailed carrying the report, with the
        failed steps made searchable (``FailedStep``)."""
        result = self.result
        if not result.totals.failed:
            result.status = "completed"
            return result
        result.status = "failed"
        workflow.upsert_search_attributes([FAILED_STEP.value_set(sorted({f.step_id for f in result.failures}))])
        raise ApplicationError(result.failure_summary(), result.model_dump(mode="json"), type=FAILED_TYPE,
                               non_retryable=True)


def failed_branch_result(error: ChildWorkflowError) -> FlowRunResult | None:
    """A branch that failed still reports what it did, in its failure's details."""
    return failed_run_result(error.cause)


def failed_run_result(cause: BaseException | None) -> FlowRunResult | None:
    """The report a failed FlowRun carries in its failure (None: it failed some other way)."""
    if isinstance(cause, ApplicationError) and cause.type == FAILED_TYPE and cause.details:
        return FlowRunResult.model_validate(cause.details[0])
    return None
