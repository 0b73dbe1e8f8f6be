"""Step runners against their floors, measured in the same run:

- one step in one-shot mode with the Docker runner vs a bare ``docker run -i --rm`` of the same
  image fed the same request line;
- one message through a long-lived container vs a bare echo through a pipe (``cat``).

Run: ``python -m bench.step_runners [--repeat N]`` (needs Docker and the built images).
"""

import argparse
import asyncio
import json

from bench.common import side_by_side, timed
from catalog.build import build_all
from catalog.components import load_catalog
from steps.protocol import Message, StepRequest
from steps.runner import make_runner
from steps.spec import ContainerSpec
from steps.step_priority import docker_cpu_shares

REQUEST = StepRequest(id="r1", function="transform", msg=Message(id="m", body={"a": 1}), cfg={"expression": "{'b': a}"})


async def bare_docker_run(image: str, niceness: int) -> None:
    """``docker run -i --rm`` of one request, with the cpu shares a runner of ``niceness`` gives a
    step's container (steps/step_priority.py), so that the floor and the runner weigh the same."""
    shares = docker_cpu_shares(niceness)
    process = await asyncio.create_subprocess_exec(
        "docker", "run", "-i", "--rm", "--network", "none", *(["--cpu-shares", str(shares)] if shares else []), image,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await process.communicate(REQUEST.encode())
    assert b'"end"' in out, out


async def one_shot(image: str, repeat: int) -> str:
    runner = make_runner("docker")
    spec = ContainerSpec(image=image)

    async def ours() -> None:
        [outcome] = await runner.run_once(spec, [REQUEST], 60)
        assert outcome.data

    async def floor() -> None:
        await bare_docker_run(image, runner.niceness)

    await ours()  # warm the engine's caches for both
    await floor()
    return side_by_side("one step, one-shot (start, 1 message, exit, remove)",
                        ("Docker runner run_once", await timed(ours, repeat)),
                        ("bare docker run -i --rm", await timed(floor, repeat)))


async def long_lived(image: str, messages: int) -> str:
    session = await make_runner("docker").open(ContainerSpec(image=image))
    cat = await asyncio.create_subprocess_exec("cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert cat.stdin is not None and cat.stdout is not None  # both piped
    cat_in, cat_out = cat.stdin, cat.stdout
    counter = iter(range(10**9))

    async def ours() -> None:
        request = REQUEST.model_copy(update={"id": f"r{next(counter)}"})
        [outcome] = await session.call([request], 10)
        assert outcome.data

    line = (json.dumps({"id": "x", "type": "data", "msg": {"body": {"b": 1}}}) + "\n").encode()

    async def echo() -> None:
        cat_in.write(line)
        await cat_in.drain()
        await cat_out.readline()

    async def batch_of_100() -> None:
        requests = [REQUEST.model_copy(update={"id": f"r{next(counter)}"}) for _ in range(100)]
        outcomes = await session.call(requests, 10)
        assert len(outcomes) == 100

    async def echo_100() -> None:
        cat_in.write(line * 100)
        await cat_in.drain()
        for _ in range(100):
            await cat_out.readline()

    try:
        await timed(ours, 50)
        single = side_by_side("one message through a warm container (round trip)",
                              ("long-lived Docker session call", await timed(ours, messages)),
                              ("bare echo through a pipe (cat)", await timed(echo, messages)))
        batches = max(1, messages // 100)
        batched = side_by_side(
            "per message, in batches of 100 on the wire",
            ("long-lived Docker session call", [t / 100 for t in await timed(batch_of_100, batches)]),
            ("bare echo through a pipe (cat)", [t / 100 for t in await timed(echo_100, batches)]))
        return single + "\n" + batched
    finally:
        await session.finish()
        cat_in.close()
        await cat.wait()


async def main(repeat: int, messages: int) -> None:
    build_all(only=["transform"], report=None)
    image = load_catalog()["transform"].image
    print(f"image {image}")
    print(await one_shot(image, repeat))
    print(await long_lived(image, messages))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="one-shot runs of each kind")
    parser.add_argument("--messages", type=int, default=2000, help="messages through the warm container")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.messages))
