"""Retry and rebound delays: the policies' delays for attempts 1..n with their caps, the Temporal
retry policy a step's activities get, and the delay the ``run_step`` activity asks Temporal for
after a crash or a rebound (the real activity, with a pool that only pretends)."""

import dataclasses
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.run_step import StepActivities
from activities.step_credentials import StepCredentials
from conflux.credential_store import CredentialStore
from conflux.keys import KeyRing
from flows.model import ReboundPolicy, RetryPolicy, Step, backoff_delay
from steps.errors import ContainerCrashed, ImageNotFound, StepFailure
from steps.pool import WarmPool
from steps.protocol import ErrorInfo, Message, RequestOutcome, StepRequest
from steps.runner import ProcessRunner
from steps.spec import ContainerSpec
from workflows.models import StepBatchCall, StepCall
from workflows.step_activity import retry_policy

# --- the policies ---------------------------------------------------------------------------------------


def test_the_one_formula_grows_by_the_backoff_from_the_first_attempt_up_to_the_cap() -> None:
    assert [backoff_delay(3, 2, attempt, 20) for attempt in range(1, 6)] == [3, 6, 12, 20, 20]
    assert [backoff_delay(3, 1, attempt, 20) for attempt in range(1, 4)] == [3, 3, 3]
    assert backoff_delay(30, 2, 1, 20) == 20


def test_rebound_delays_double_from_15_seconds_up_to_an_hour_by_default() -> None:
    policy = ReboundPolicy()
    assert [policy.delay(attempt) for attempt in range(1, 11)] == [
        15, 30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_retry_delays_double_from_1_second_up_to_a_minute_by_default() -> None:
    policy = RetryPolicy()
    assert [policy.delay(attempt) for attempt in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


@pytest.mark.parametrize(("policy", "delays"), [
    (ReboundPolicy(initial_delay=2, backoff=3, max_delay=50), [2, 6, 18, 50, 50]),
    (ReboundPolicy(initial_delay=5, backoff=1), [5, 5, 5, 5, 5]),
    (ReboundPolicy(initial_delay=100, max_delay=10), [10, 10, 10, 10, 10]),
    (RetryPolicy(initial_interval=0.5, backoff=2, max_interval=3), [0.5, 1, 2, 3, 3]),
    (RetryPolicy(initial_interval=2, backoff=1.5, max_interval=100), [2, 3, 4.5, 6.75, 10.125]),
])
def test_custom_policies_grow_by_their_backoff_up_to_their_cap(policy: ReboundPolicy | RetryPolicy,
                                                               delays: list[float]) -> None:
    assert [policy.delay(attempt) for attempt in range(1, 6)] == pytest.approx(delays)


def test_the_temporal_policy_takes_the_crash_retry_numbers_and_the_larger_caps() -> None:
    step = Step(id="s", component="c", function="f", retry=RetryPolicy(max_attempts=4, initial_interval=2, backoff=3,
                                                                        max_interval=30),
                rebound=ReboundPolicy(max_attempts=7, max_delay=600))
    policy = retry_policy(step)
    assert policy.initial_interval == timedelta(seconds=2)
    assert policy.backoff_coefficient == 3
    assert policy.maximum_interval == timedelta(seconds=600)   # a rebound may ask for up to 600 s
    assert policy.maximum_attempts == 7                        # the activity stops crash retries at 4 itself
    # Temporal's own interval (after a worker died) is the crash-retry delay below the crash cap
    temporal = [min(2 * 3 ** (attempt - 1), 600) for attempt in range(1, 4)]
    assert temporal == [step.retry.delay(attempt) for attempt in range(1, 4)] == [2, 6, 18]

    wide = Step(id="s", component="c", function="f", retry=RetryPolicy(max_attempts=50, max_interval=7200))
    assert retry_policy(wide).maximum_attempts == 50
    assert retry_policy(wide).maximum_interval == timedelta(seconds=7200)


# --- the delay the activity asks for --------------------------------------------------------------------


class PretendPool(WarmPool):
    """Answers ``run_fresh`` with a fixed outcome per request, or fails as told; starts nothing."""

    def __init__(self, failure: StepFailure | None = None, rebound_delay: float | None = None) -> None:
        super().__init__(ProcessRunner())
        self.failure = failure
        self.rebound_delay = rebound_delay

    async def run_fresh(self, spec: ContainerSpec, requests: list[StepRequest], timeout: float, *,
                        origin: str, standby: int | None = None) -> list[RequestOutcome]:
        if self.failure is not None:
            raise self.failure
        return [RequestOutcome(id=request.id, rebound=ErrorInfo(name="Busy", message="try later"),
                               rebound_delay=self.rebound_delay, ended=True) for request in requests]


STEP = Step(id="send", component="c", function="f", retry=RetryPolicy(max_attempts=4, initial_interval=1.5,
                                                                       max_interval=5),
            rebound=ReboundPolicy(initial_delay=10, backoff=3, max_attempts=5, max_delay=200))


def one_call() -> StepCall:
    return StepCall(flow_id="f", flow_version=1, execution_id="e", step=STEP, message=Message(id="m", body={"a": 1}))


def batch_call() -> StepBatchCall:
    return StepBatchCall(flow_id="f", flow_version=1, execution_id="e", step=STEP,
                         messages=[Message(id=f"m{n}", body={"n": n}) for n in range(3)])


async def failure_at(pool: WarmPool, attempt: int, batch: bool = False) -> ApplicationError:
    """The error the real activity raises on ``attempt``."""
    environment = ActivityEnvironment()
    environment.info = dataclasses.replace(ActivityEnvironment.default_info(), attempt=attempt)
    with tempfile.TemporaryDirectory() as folder:
        store = CredentialStore(Path(folder) / "conflux.db", KeyRing([("k", bytes(32))]))
        activities = StepActivities(pool, {}, StepCredentials(store))
        with pytest.raises(ApplicationError) as raised:
            if batch:
                await environment.run(activities.run_step_batch, batch_call())
            else:
                await environment.run(activities.run_step, one_call())
    return raised.value


def seconds(delay: timedelta | None) -> float | None:
    return None if delay is None else delay.total_seconds()


@pytest.mark.parametrize("batch", [False, True], ids=["one message", "batch"])
async def test_a_crash_is_retried_after_the_retry_delay_until_max_attempts(batch: bool) -> None:
    pool = PretendPool(failure=ContainerCrashed("exit code 137"))
    errors = [await failure_at(pool, attempt, batch) for attempt in range(1, 5)]
    assert [seconds(error.next_retry_delay) for error in errors] == [1.5, 3, 5, None]
    assert [error.non_retryable for error in errors] == [False, False, False, True]
    assert {error.type for error in errors} == {"ContainerCrashed"}
    assert "attempt 4 of 4: giving up" in errors[-1].message


async def test_a_broken_step_fails_at_once() -> None:
    error = await failure_at(PretendPool(failure=ImageNotFound("no image c")), 1)
    assert error.non_retryable and error.next_retry_delay is None and error.type == "ImageNotFound"


async def test_a_rebound_is_retried_after_the_rebound_delay_until_max_attempts() -> None:
    errors = [await failure_at(PretendPool(), attempt) for attempt in range(1, 6)]
    assert [seconds(error.next_retry_delay) for error in errors] == [10, 30, 90, 200, None]
    assert [error.type for error in errors] == ["Rebound"] * 4 + ["ReboundLimit"]
    assert [error.non_retryable for error in errors] == [False] * 4 + [True]
    assert "rebounded 5 times" in errors[-1].message


async def test_a_delay_the_component_asks_for_wins_over_the_policy() -> None:
    errors = [await failure_at(PretendPool(rebound_delay=7), attempt) for attempt in (1, 3)]
    assert [seconds(error.next_retry_delay) for error in errors] == [7, 7]
