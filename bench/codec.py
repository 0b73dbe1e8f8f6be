"""What encrypting every payload costs, in one run with the same settings: the three-step flow of
bench/flows.py (webhook -> transform -> code -> transform, the API and a worker in this process)
with the payload codec and without, rounds alternating so drift hits both; a body past the blob
threshold (encrypted, then stored in the blob folder); and the codec alone on one payload.

Run: ``python -m bench.codec [--repeat N] [--runner process|docker]`` (starts its own Temporal dev
server on the file store, as the embedded default does).
"""

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from temporalio.api.common.v1 import Payload

from api.settings import ApiSettings
from bench.common import row
from bench.flows import FLOW, STANDBY, STEP_COMPONENTS, flow_latency, median
from catalog.build import build_all
from conflux.keys import load_key_ring, new_key_line
from conflux.payload_codec import EncryptionCodec
from deploy.temporal_server import dev_server
from steps.runner import RunnerKind

ROUNDS = 2
LARGE_BODY = 256 * 1024  # past the 128 KiB blob threshold


async def alternating(settings: ApiSettings, runner: RunnerKind, repeat: int,
                      padding: int = 0) -> dict[bool, list[float]]:
    samples: dict[bool, list[float]] = {True: [], False: []}
    for number in range(ROUNDS):
        for encrypted in (True, False) if number % 2 == 0 else (False, True):
            queue = f"{settings.task_queue}-{number}-{padding}"
            samples[encrypted] += await flow_latency(settings.model_copy(update={"task_queue": queue}), runner,
                                                     repeat, STANDBY, encrypted=encrypted, padding=padding)
    return samples


async def codec_alone(size: int, repeat: int) -> tuple[list[float], list[float]]:
    """Microseconds to encrypt, and to decrypt, one payload of ``size`` bytes."""
    codec = EncryptionCodec(load_key_ring(new_key_line().replace(" ", ":", 1), Path("/nonexistent")))
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b"x" * size)
    sealing, opening = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        [sealed] = await codec.encode([payload])
        sealing.append((time.perf_counter() - started) * 1e6)
        started = time.perf_counter()
        await codec.decode([sealed])
        opening.append((time.perf_counter() - started) * 1e6)
    return sealing, opening


async def main(repeat: int, runner: RunnerKind) -> None:
    if runner == "docker":
        build_all(only=["webhook", *STEP_COMPONENTS], report=None)
    with tempfile.TemporaryDirectory() as state, dev_server(db_file=Path(state) / "temporal.db") as address:
        settings = ApiSettings(temporal_address=address, task_queue=f"bench-codec-{uuid.uuid4().hex[:6]}",
                               db_path=Path(state) / "conflux.db", blob_dir=Path(state) / "blobs",
                               keys=new_key_line().replace(" ", ":", 1),
                               api_auth=False)  # benchmarks measure flows, not tokens
        small = await alternating(settings, runner, repeat)
        large = await alternating(settings, runner, repeat, LARGE_BODY)
    print(f"'{FLOW['name']}', {runner} runner with {STANDBY} standby per image, webhook accepted -> last step done "
          f"({ROUNDS} alternating rounds)")
    for label, samples in (("small body", small), (f"{LARGE_BODY // 1024} KiB body (to the blob folder)", large)):
        print("  " + row(f"{label}, payloads encrypted", samples[True]))
        print("  " + row(f"{label}, no codec (floor)", samples[False]))
        print(f"    codec overhead: {median(samples[True]) - median(samples[False]):+.1f} ms, "
              f"{median(samples[True]) / median(samples[False]):.3f}x")
    print("the codec alone, one payload")
    for size in (3 * 1024, 1024 * 1024):
        sealing, opening = await codec_alone(size, 200)
        print("  " + row(f"encrypt {size // 1024} KiB", sealing, "us"))
        print("  " + row(f"decrypt {size // 1024} KiB", opening, "us"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runner", choices=["process", "docker"], default="process")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.repeat, arguments.runner))
