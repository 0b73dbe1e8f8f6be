"""How a workflow calls the ``run_step`` activity: the same timeouts and retries everywhere."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.heartbeat import HEARTBEAT_TIMEOUT
    from flows.model import Step
    from workflows.models import StepBatchCall, StepBatchResult, StepCall, StepResult
    from workflows.window_models import WindowHandedOver, WindowHandover

CONTAINER_OVERHEAD = timedelta(seconds=60)  # image start and removal, on top of the step's own timeout
HANDOVER_TIMEOUT = timedelta(seconds=30)  # one signal-with-start; retried (without end) while Temporal is away


async def execute_step(call: StepCall, lane: str | None = None) -> StepResult:
    step = call.step
    return await workflow.execute_activity(
        "run_step", call, result_type=StepResult, summary=summary(step, lane),
        start_to_close_timeout=timedelta(seconds=step.timeout) + CONTAINER_OVERHEAD,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=retry_policy(step),
    )


async def execute_step_batch(call: StepBatchCall, lane: str | None = None) -> StepBatchResult:
    """A batch gets the step's timeout once per message (the runner enforces it per message)."""
    step = call.step
    return await workflow.execute_activity(
        "run_step_batch", call, result_type=StepBatchResult,
        summary=f"{summary(step, lane)} ×{len(call.messages)}",
        start_to_close_timeout=timedelta(seconds=step.timeout) * len(call.messages) + CONTAINER_OVERHEAD,
        heartbeat_timeout=HEARTBEAT_TIMEOUT,
        retry_policy=retry_policy(step),
    )


async def hand_to_window(call: WindowHandover, step: Step) -> WindowHandedOver:
    """A window aggregate's handover: retried until the collector has the message (a key that cannot
    be computed fails at once)."""
    return await workflow.execute_activity(
        "hand_to_window", call, result_type=WindowHandedOver, summary=f"{step.label()} · hand to window",
        start_to_close_timeout=HANDOVER_TIMEOUT, retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)),
    )


def summary(step: Step, lane: str | None) -> str:
    """What the Temporal UI's event list says of the activity: the step, and the router branch it is in."""
    return step.label() if lane is None else f"{step.label()} · branch {lane}"


def retry_policy(step: Step) -> RetryPolicy:
    """The activity sets every retry's delay itself (``next_retry_delay``: ``step.retry.delay`` after a
    crash or hang, ``step.rebound.delay`` after a rebound, both ``flows.model.backoff_delay``). Temporal
    computes one only when the activity could not answer (its worker died: heartbeat timeout), with the
    same formula from the crash-retry policy's numbers. Temporal's caps are the larger of the two
    policies; the activity itself stops crash retries at ``retry.max_attempts`` and rebounds at
    ``rebound.max_attempts``."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=step.retry.initial_interval),
        backoff_coefficient=step.retry.backoff,
        maximum_interval=timedelta(seconds=max(step.retry.max_interval, step.rebound.max_delay)),
        maximum_attempts=max(step.retry.max_attempts, step.rebound.max_attempts),
    )
