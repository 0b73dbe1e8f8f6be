"""Temporal going away and coming back: a worker that starts while the server is down waits for it
(conflux/temporal.py ``connect_patiently``), and an API and a worker that were running go on with
their work once a dev server on its file store is started again (bench/faults.py does the same
under load, with processes)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from conflux.settings import PlatformSettings
from conflux.temporal import connect_patiently
from deploy.temporal_server import DevServer, running_dev_server
from tests.api_harness import api_settings, api_with_worker
from tests.waiting import finished, until

pytestmark = pytest.mark.temporal

FLOW: dict[str, Any] = {
    "id": "restarted", "name": "Restarted", "trigger": {"id": "hook", "component": "webhook", "function": "receive"},
    "steps": [{"id": "shape", "component": "transform", "function": "transform",
               "config": {"expression": "{'n': body.n}"}}],
}


async def test_a_worker_starting_while_temporal_is_down_connects_once_it_is_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = DevServer(tmp_path / "server.log")
    connecting = asyncio.create_task(
        connect_patiently(PlatformSettings(temporal_address=server.address, key_file=tmp_path / "keys"), pause=0.2))
    try:
        await until(lambda: "does not answer yet" in caplog.text, "a refused first attempt, logged", 30)
        assert not connecting.done()
        await asyncio.to_thread(server.start)
        client = await asyncio.wait_for(connecting, 30)
        assert (await client.workflow_service.get_system_info(GetSystemInfoRequest())).server_version
    finally:
        connecting.cancel()
        server.stop()


async def test_a_worker_gives_up_on_an_address_where_nothing_answers(tmp_path: Path) -> None:
    settings = PlatformSettings(temporal_address="127.0.0.1:9", key_file=tmp_path / "keys")
    with pytest.raises(RuntimeError, match=r"Temporal at 127.0.0.1:9 did not answer within 0.5 s"):
        await connect_patiently(settings, patience=0.5, pause=0.2)


async def test_api_and_worker_go_on_after_temporal_restarts_on_its_file_store(tmp_path: Path) -> None:
    with running_dev_server(tmp_path / "server.log", db_file=tmp_path / "temporal.db") as server:
        settings = api_settings(server.address, tmp_path, "restart", key_file=tmp_path / "keys")
        async with api_with_worker(settings, timeout=30) as http:
            assert (await http.put("/flows/restarted", json=FLOW)).status_code in (200, 201)
            before = (await http.post("/hooks/restarted", json={"n": 1})).json()["executionId"]
            assert (await finished(http, before))["status"] == "COMPLETED"

            await asyncio.to_thread(server.restart)

            async def accepted() -> str | None:
                answer = await http.post("/hooks/restarted", json={"n": 2}, headers={"Idempotency-Key": "after"})
                return answer.json()["executionId"] if answer.status_code == 202 else None

            after = await until(accepted, "the API to accept a message again after the restart", 60)
            status = await finished(http, after)
            assert status["status"] == "COMPLETED", status
            assert (await finished(http, before))["status"] == "COMPLETED"  # the file store kept it
