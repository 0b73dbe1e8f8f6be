"""The runtime as a local subprocess: same protocol, no container. For machines without Docker.

A Node.js component runs on the host's ``node`` with conflux_runtime_node; its npm dependencies
must be installed in its folder (``npm install`` there), as the image build does in the image.
"""

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from catalog.components import LIB_DIR, NODE_RUNTIME_DIR, component_runtime
from steps.channel import Channel
from steps.errors import ImageNotFound
from steps.spec import ContainerSpec
from steps.step_priority import niced

RUNTIME_PARENT = Path(__file__).resolve().parent.parent  # the directory holding conflux_runtime/


class ProcessChannel(Channel):
    def __init__(self, process: asyncio.subprocess.Process, description: str) -> None:
        assert process.stdout is not None and process.stderr is not None
        super().__init__(process.stdout, description)
        self.process = process
        self._stderr_task = asyncio.create_task(self.pump_stderr(process.stderr))

    @classmethod
    async def start(cls, spec: ContainerSpec, max_line_bytes: int, niceness: int = 0) -> "ProcessChannel":
        has_descriptor = spec.component_dir is not None and (spec.component_dir / "component.json").is_file()
        if spec.command is None and not has_descriptor:
            raise ImageNotFound(f"the process runner needs the component's directory for {spec.image}; "
                                f"{spec.component_dir} holds no component.json")
        # as in the image: the runtime, then the shared component library (components/lib)
        python_path = [str(RUNTIME_PARENT), str(LIB_DIR), os.environ.get("PYTHONPATH")]
        env = {**os.environ, **spec.env, "PYTHONUNBUFFERED": "1",
               "PYTHONPATH": os.pathsep.join(filter(None, python_path))}
        # a process group of its own (a terminal's Ctrl-C is the worker's to handle), in the worker's
        # session: autogroup scheduling then weighs it by its nice value (steps/step_priority.py)
        process = await asyncio.create_subprocess_exec(
            *niced(spec.command or runtime_command(spec.component_dir), niceness),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env, limit=max_line_bytes, process_group=0,
        )
        return cls(process, spec.describe())

    async def write(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        await self.process.stdin.drain()

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        if not self.process.stdin.is_closing():
            self.process.stdin.close()

    async def wait(self) -> int:
        code = await self.process.wait()
        await asyncio.wait([self._stderr_task], timeout=2)
        return code

    def has_exited(self) -> bool:
        return self.process.returncode is not None or self.process.stdout is None or self.process.stdout.at_eof()

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


def runtime_command(component_dir: Path | None) -> list[str]:
    """The command that serves the component in ``component_dir`` with the runtime it was written for."""
    assert component_dir is not None
    try:
        descriptor = json.loads((component_dir / "component.json").read_text(encoding="utf-8"))
    except ValueError:  # the runtime reports it with a `fatal` naming the file
        descriptor = {}
    if component_runtime(component_dir, descriptor if isinstance(descriptor, dict) else {}) == "python":
        return [sys.executable, "-m", "conflux_runtime", str(component_dir)]
    node = shutil.which("node")
    if node is None:
        raise ImageNotFound(f"{component_dir} is a Node.js component and this host has no `node` "
                            "for the process runner: install Node.js (18 or later), or use the Docker runner")
    return node_runtime_command(node, str(NODE_RUNTIME_DIR / "main.js"), str(component_dir))


# Node.js cannot dup2, so a shell does it before it execs node (same pid, nothing stays behind): the
# events pipe becomes fd 3, which only the runtime writes, and fd 1 becomes stderr, so nothing that
# writes to fd 1 (fs.writeSync(1), pino's default destination, a child inheriting stdio, an addon)
# can corrupt an event. A self re-exec (main.js spawning itself with stdio [0, 2, 2, 1]) would do the
# same at the cost of a second Node.js process per container. components/Dockerfile.node's
# ENTRYPOINT is this command (tests/test_node_runtime.py holds them equal).
NODE_LAUNCH_SCRIPT = 'exec "$@" 3>&1 1>&2'


def node_runtime_command(node: str, main_js: str, component_dir: str) -> list[str]:
    """``node main.js COMPONENT_DIR`` with events on fd 3 and fd 1 pointed at stderr."""
    return ["/bin/sh", "-c", NODE_LAUNCH_SCRIPT, "conflux-node-runtime", node, main_js, component_dir]
