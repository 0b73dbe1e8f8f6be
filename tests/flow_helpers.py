"""Helpers for the end-to-end flow tests: define a flow, start it, wait for its result, run a
worker as a process of its own."""

import os
import subprocess
import sys
import uuid
from typing import Any

from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError

from conflux.settings import PlatformSettings
from flows.model import Flow
from flows.validation import parse_flow
from steps.protocol import Message
from tests.conftest import REPO_ROOT
from workflows.flow_run import FlowRunWorkflow
from workflows.models import FlowRunInput, FlowRunResult
from workflows.search import flow_search_attributes


def make_flow(catalog, steps: list[dict], flow_id: str = "test-flow", **extra: Any) -> Flow:
    definition = {"id": flow_id, "name": f"Test {flow_id}", "trigger": {"id": "hook", "component": "webhook",
                                                                       "function": "receive"},
                  "steps": steps, **extra}
    return parse_flow(definition, catalog)


async def run_flow(client: Client, task_queue: str, flow: Flow, body: Any) -> tuple[str, FlowRunResult]:
    """Run to the end; a failed run returns the result carried in its failure."""
    message_id = uuid.uuid4().hex[:12]
    workflow_id = f"{flow.id}:{message_id}"
    handle = await client.start_workflow(
        FlowRunWorkflow.run,
        FlowRunInput(flow=flow, execution_id=message_id, message=Message(id=message_id, body=body)),
        id=workflow_id, task_queue=task_queue, search_attributes=flow_search_attributes(flow),
        static_summary=f"{flow.name} v{flow.version}",
    )
    try:
        return workflow_id, await handle.result()
    except WorkflowFailureError as failure:
        cause = failure.cause
        assert isinstance(cause, ApplicationError) and cause.type == "FlowRunFailed", failure
        return workflow_id, FlowRunResult.model_validate(cause.details[0])


def start_worker_process(settings: PlatformSettings, queue: str, log_path,
                         extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m worker`` as its own process, so a test can kill it."""
    env = {**os.environ, "CONFLUX_TEMPORAL_ADDRESS": settings.temporal_address, "CONFLUX_TASK_QUEUE": queue,
           "CONFLUX_BLOB_DIR": str(settings.blob_dir), "CONFLUX_RUNNER": "docker", "PYTHONPATH": str(REPO_ROOT),
           **(extra_env or {})}
    with open(log_path, "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "worker"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                cwd=REPO_ROOT)
