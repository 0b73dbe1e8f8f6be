"""Runs in flight replay on the current FlowRun code: a history recorded by an earlier version replays
without a nondeterminism error, so a change that alters the commands such a run issues (and needs a
``workflow.patched``) fails here first. No server, no containers: Temporal's Replayer only.

``histories/flow-run-plain-two-steps.json``: a flow without routers or aggregates (a trigger of the
user's own and two steps, activities mocked as in tests/test_flow_run_logic.py), recorded with the
code of main before routers and aggregates were merged (db39d3c), so it holds "flows without routers
replay unchanged". To record one again (another commit's code, another flow)::

    git archive <commit> | tar -x -C /tmp/old && cp tests/test_flow_replay.py /tmp/old/tests/
    cd /tmp/old && python -m tests.test_flow_replay tests/histories/<name>.json

Recorded without the payload codec (its keys are each installation's own), which replay does not need.
"""

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from conflux.settings import PlatformSettings
from conflux.temporal import connect
from deploy.temporal_server import dev_server
from steps.protocol import Message
from tests.mock_activities import MockSteps, make_flow, mock_worker
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput
from workflows.search import flow_search_attributes

HISTORIES = Path(__file__).parent / "histories"
PLAIN_TWO_STEPS = HISTORIES / "flow-run-plain-two-steps.json"
PLAIN_WORKFLOW_ID = "replay:plain-two-steps"


def recorded(path: Path, workflow_id: str) -> WorkflowHistory:
    return WorkflowHistory.from_json(workflow_id, path.read_text())


async def test_a_plain_flow_run_recorded_before_routers_replays_on_the_current_code() -> None:
    history = recorded(PLAIN_TWO_STEPS, PLAIN_WORKFLOW_ID)
    replayer = Replayer(workflows=[FlowRunWorkflow], data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(history)
    assert result.replay_failure is None


def test_the_recorded_run_went_through_both_steps() -> None:
    """The fixture is what its name says (a replay of an empty or failed run would prove little)."""
    text = PLAIN_TWO_STEPS.read_text()
    assert text.count('"EVENT_TYPE_ACTIVITY_TASK_COMPLETED"') == 3  # hook, a, b
    assert '"EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"' in text


async def record(target: Path) -> None:
    """Run the plain flow once on a throwaway dev server with mocked activities; write its history."""
    def append_step(step_id: str) -> Any:
        return lambda message, attempt: [{"path": [*message.body.get("path", []), step_id]}]

    flow = make_flow("a", "b", flow_id="replay")
    steps = MockSteps({step_id: append_step(step_id) for step_id in ("hook", "a", "b")})
    with dev_server() as address, tempfile.TemporaryDirectory() as blobs:
        client = await connect(PlatformSettings(temporal_address=address, blob_dir=Path(blobs)), encrypted=False)
        async with mock_worker(client, steps) as queue:
            handle = await client.start_workflow(
                FlowRunWorkflow.run,
                FlowRunInput(flow=flow, execution_id="plain-two-steps",
                             message=Message(id="plain-two-steps", body={"path": []})),
                id=PLAIN_WORKFLOW_ID, task_queue=queue, search_attributes=flow_search_attributes(flow))
            await handle.result()
        history = await handle.fetch_history()
    target.write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(record(Path(sys.argv[1]) if len(sys.argv) > 1 else PLAIN_TWO_STEPS))
