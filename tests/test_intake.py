"""An ordinary flow's intake: the workflow's logic with ``start_runs`` mocked under its real name,
then a flood through the real API and worker, where every accepted message runs once."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from temporalio import activity
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

from api.app import create_app
from api.settings import ApiSettings
from catalog.components import load_catalog
from conflux.temporal import connect
from flows.validation import parse_flow
from steps.protocol import Message
from steps.runner import make_runner
from tests.waiting import finished
from worker.main import running_worker
from workflows.intake import FlowIntakeWorkflow
from workflows.intake_models import (
    SIGNAL_INTAKE,
    IntakeBatch,
    IntakeInput,
    StartRunsCall,
    StartRunsResult,
    intake_workflow_id,
)

DEFINITION: dict[str, Any] = {
    "id": "intake-flow", "name": "Intake test",
    "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "double", "component": "transform", "function": "transform",
               "config": {"expression": "{'n': body.n * 2}"}}],
}


@pytest.fixture(scope="module")
def settings(temporal_address, tmp_path_factory) -> ApiSettings:
    folder = tmp_path_factory.mktemp("intake")
    return ApiSettings(temporal_address=temporal_address, task_queue=f"intake-{uuid.uuid4().hex[:8]}",
                       db_path=folder / "conflux.db", blob_dir=folder / "blobs", direct_starts=0)


class StartRunsRecorder:
    """``start_runs`` that only records what it was asked to start; ``gate`` holds it back."""

    def __init__(self) -> None:
        self.calls: list[StartRunsCall] = []
        self.gate = asyncio.Event()

    @activity.defn(name="start_runs")
    async def start_runs(self, call: StartRunsCall) -> StartRunsResult:
        await self.gate.wait()
        self.calls.append(call)
        return StartRunsResult(started=len(call.messages), duplicates=0)


def batch(flow_version: int, numbers: range) -> IntakeBatch:
    flow = parse_flow({**DEFINITION, "version": flow_version}, load_catalog())
    return IntakeBatch(flow=flow, messages=[Message(id=f"m{n}", body={"n": n}) for n in numbers])


async def signal(client: Client, queue: str, workflow_id: str, intake: IntakeInput, sent: IntakeBatch) -> str | None:
    """Signal-with-start, as the API does; the run id it reached."""
    handle = await client.start_workflow(FlowIntakeWorkflow.run, intake, id=workflow_id, task_queue=queue,
                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                start_signal=SIGNAL_INTAKE, start_signal_args=[sent])
    return handle.result_run_id


async def test_waiting_messages_start_in_order_once_each_per_flow_version(settings) -> None:
    """Batches of two flow versions arrive while the first start is held back; each message is
    started once, in the order accepted, never mixed with another version; the intake carries
    what waits over a continue-as-new and ends when idle."""
    client = await connect(settings)
    queue = f"intake-logic-{uuid.uuid4().hex[:6]}"
    recorder = StartRunsRecorder()
    workflow_id = intake_workflow_id(f"logic-{uuid.uuid4().hex[:6]}")
    intake = IntakeInput(flow_id="intake-flow", idle_seconds=2, max_history_events=20)
    async with Worker(client, task_queue=queue, workflows=[FlowIntakeWorkflow], activities=[recorder.start_runs]):
        first_run = await signal(client, queue, workflow_id, intake, batch(1, range(0, 150)))
        for sent in (batch(1, range(150, 160)), batch(2, range(160, 170)), batch(1, range(170, 175))):
            await signal(client, queue, workflow_id, intake, sent)
        handle = client.get_workflow_handle(workflow_id, result_type=int)
        assert await handle.query(FlowIntakeWorkflow.waiting, "m172")
        assert not await handle.query(FlowIntakeWorkflow.waiting, "m999")
        recorder.gate.set()
        assert await handle.result() == 175
        assert (await handle.describe()).run_id != first_run, "the intake never continued as new"
    started = [(call.flow.version, message.id) for call in recorder.calls for message in call.messages]
    assert started == [(1, f"m{n}") for n in range(160)] + [(2, f"m{n}") for n in range(160, 170)] + \
        [(1, f"m{n}") for n in range(170, 175)]
    assert all(len({m.id for m in call.messages}) == len(call.messages) <= 100 for call in recorder.calls)
    assert {call.flow.version for call in recorder.calls} == {1, 2}


@pytest.fixture(scope="module")
async def api(settings: ApiSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Client]]:
    """The API (every message through the intake: ``direct_starts=0``) and a worker on the process runner."""
    client = await connect(settings)
    app = create_app(settings, client=client)
    async with running_worker(client, settings, make_runner("process"), load_catalog()):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://conflux") as http:
            assert (await http.put(f"/flows/{DEFINITION['id']}", json=DEFINITION)).status_code in (200, 201)
            yield http, client


async def test_a_flood_through_the_intake_runs_every_message_once(api) -> None:
    http, client = api
    numbers = range(60)
    answers = await asyncio.gather(*(http.post(f"/hooks/{DEFINITION['id']}", json={"n": n},
                                               headers={"Idempotency-Key": f"flood-{n}"}) for n in numbers))
    assert [answer.status_code for answer in answers] == [202] * len(numbers)
    repeat = await http.post(f"/hooks/{DEFINITION['id']}", json={"n": 0}, headers={"Idempotency-Key": "flood-0"})
    assert repeat.status_code == 202 and repeat.json()["duplicate"] is True
    outputs = {}
    for answer in answers:
        execution_id = answer.json()["executionId"]
        status = await finished(http, execution_id)
        assert status["status"] == "COMPLETED", status
        outputs[execution_id] = status["result"]["outputs"]
    assert sorted(output[0]["n"] for output in outputs.values()) == [n * 2 for n in numbers]
    runs = [w async for w in client.list_workflows(f"FlowId = '{DEFINITION['id']}'")]
    assert len(runs) == len(numbers)  # one run per message, the repeat included; the intake is not listed
