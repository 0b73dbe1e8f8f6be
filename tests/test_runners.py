"""Both runners against the probe component: every wire behaviour, the same results."""

import asyncio
import os
import sys

import pytest

from steps.docker_channel import DockerChannel
from steps.errors import ContainerCrashed, ImageNotFound, PayloadTooLarge, ProtocolViolation, StepTimeout
from steps.protocol import Message, StepRequest
from steps.runner import StepRunner
from steps.spec import ContainerSpec


def probe_spec(catalog, **overrides) -> ContainerSpec:
    info = catalog["probe"]
    return ContainerSpec(image=info.image, component_dir=info.directory, **overrides)


def request(function: str, body=None, request_id: str = "r1", **fields) -> StepRequest:
    return StepRequest(id=request_id, function=function, msg=Message(id="m1", body=body or {}), **fields)


async def test_one_message_echoes_and_stdout_prints_do_not_corrupt_the_stream(runner, catalog_with_probe):
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("echo", {"a": 1})], 30)
    assert outcome.ended and outcome.error is None
    assert [m.body for m in outcome.data] == [{"a": 1}]


async def test_several_data_events_for_one_message(runner, catalog_with_probe):
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("multi", {"count": 4})], 30)
    assert [m.body for m in outcome.data] == [{"index": i} for i in range(4)]


async def test_error_event(runner, catalog_with_probe):
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("fail", {"x": 1})], 30)
    assert outcome.error is not None and outcome.error.name == "ValueError"
    assert "cannot handle {'x': 1}" in outcome.error.message
    assert outcome.data == []


async def test_rebound_event(runner, catalog_with_probe):
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("rebound")], 30)
    assert outcome.rebound is not None and outcome.rebound.message == "target is down"
    assert outcome.error is None


async def test_snapshot_update_carries_across_messages_in_one_container(runner, catalog_with_probe):
    requests = [request("count", request_id=f"r{i}", **({"snapshot": {"seen": 10}} if i == 0 else {}))
                for i in range(3)]
    outcomes = await runner.run_once(probe_spec(catalog_with_probe), requests, 30)
    assert [o.data[0].body["seen_before"] for o in outcomes] == [10, 11, 12]
    assert outcomes[-1].merged_snapshot({"seen": 12}) == {"seen": 13}


async def test_http_reply(runner, catalog_with_probe):
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("reply", {"n": 1})], 30)
    assert outcome.http_reply is not None
    assert outcome.http_reply.statusCode == 201
    assert outcome.http_reply.body == {"created": {"n": 1}}
    assert outcome.http_reply.headers == {"x-probe": "yes"}


async def test_hanging_container_is_killed_at_its_timeout(runner, catalog_with_probe):
    started = asyncio.get_running_loop().time()
    with pytest.raises(StepTimeout, match="within 3s"):
        await runner.run_once(probe_spec(catalog_with_probe), [request("hang")], 3)
    assert asyncio.get_running_loop().time() - started < 15


async def test_non_zero_exit_reports_code_and_stderr(runner, catalog_with_probe):
    with pytest.raises(ContainerCrashed) as failure:
        await runner.run_once(probe_spec(catalog_with_probe), [request("crash")], 30)
    assert "exit code 3" in str(failure.value)
    assert "probe: about to crash" in str(failure.value)


async def test_garbage_on_stdout_fails_with_an_excerpt(runner, catalog_with_probe):
    python = "python3" if runner.kind == "docker" else sys.executable
    spec = probe_spec(catalog_with_probe, command=[python, "-c", "print('Hello, I am not a Conflux runtime')"])
    with pytest.raises(ProtocolViolation) as failure:
        await runner.run_once(spec, [request("echo")], 30)
    assert "not a step-protocol event" in str(failure.value)
    assert "Hello, I am not a Conflux runtime" in failure.value.detail


async def test_missing_image_or_component_is_named(runner, tmp_path):
    spec = ContainerSpec(image="conflux/does-not-exist:0.0.0", component_dir=tmp_path / "nowhere")
    with pytest.raises(ImageNotFound) as failure:
        await runner.run_once(spec, [request("echo")], 30)
    assert ("conflux/does-not-exist:0.0.0" in str(failure.value))


async def test_one_megabyte_message_round_trips(runner, catalog_with_probe):
    body = {"blob": "x" * (1024 * 1024)}
    [outcome] = await runner.run_once(probe_spec(catalog_with_probe), [request("echo", body)], 60)
    assert outcome.data[0].body == body


async def test_request_above_the_line_limit_is_refused_before_sending(catalog_with_probe):
    from steps.runner import make_runner

    small = make_runner("process", max_line_bytes=1024)
    with pytest.raises(PayloadTooLarge, match="line limit"):
        await small.run_once(probe_spec(catalog_with_probe), [request("echo", {"x": "y" * 2048})], 30)


async def test_many_messages_through_one_long_lived_container(runner: StepRunner, catalog_with_probe):
    session = await runner.open(probe_spec(catalog_with_probe))
    try:
        seen = []
        for batch in range(20):
            requests = [request("echo", {"n": batch * 50 + i}, request_id=f"b{batch}-{i}") for i in range(50)]
            outcomes = await session.call(requests, 30)
            seen += [o.data[0].body["n"] for o in outcomes]
        single = await session.call([request("count", request_id="last", snapshot={"seen": 1})], 30)
        assert single[0].data[0].body == {"seen_before": 1}
    finally:
        await session.finish()
    assert seen == list(range(1000))


async def test_steps_run_below_the_platform_on_the_cpu(runner, catalog_with_probe, monkeypatch):
    """A flood's steps must not starve the API of the CPU (steps/step_priority.py): a process ten
    nice levels below the worker; a container with a nice-10 task's cpu shares."""
    from steps.runner import make_runner

    monkeypatch.setenv("CONFLUX_STEP_NICENESS", "10")
    session = await make_runner(runner.kind).open(probe_spec(catalog_with_probe))
    try:
        [outcome] = await session.call([request("priority")], 30)
        if runner.kind == "process":
            assert outcome.data[0].body["nice"] == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
        else:
            assert isinstance(session.channel, DockerChannel)
            container = session.channel.container  # what the engine was asked for, on cgroup v1 or v2 alike
            await asyncio.to_thread(container.reload)
            assert container.attrs["HostConfig"]["CpuShares"] == 110
    finally:
        await session.finish()


async def test_niceness_0_leaves_steps_at_the_platforms_priority(monkeypatch, catalog_with_probe):
    from steps.runner import make_runner

    monkeypatch.setenv("CONFLUX_STEP_NICENESS", "0")
    [outcome] = await make_runner("process").run_once(probe_spec(catalog_with_probe), [request("priority")], 30)
    assert outcome.data[0].body["nice"] == os.getpriority(os.PRIO_PROCESS, 0)


@pytest.mark.parametrize("value", ["20", "-1", "ten", "1.5"])
def test_a_niceness_outside_0_to_19_is_refused_with_the_range(monkeypatch, value):
    from steps.runner import make_runner

    monkeypatch.setenv("CONFLUX_STEP_NICENESS", value)
    with pytest.raises(ValueError, match=r"CONFLUX_STEP_NICENESS=.*from 0 .* to 19 .*default is 10"):
        make_runner("process")


def test_docker_cpu_shares_weigh_like_nice_levels():
    from steps.step_priority import docker_cpu_shares

    assert docker_cpu_shares(0) is None  # Docker's default: the platform's own weight
    assert docker_cpu_shares(10) == 110  # the kernel's weight of a nice-10 task
    assert docker_cpu_shares(19) == 15
