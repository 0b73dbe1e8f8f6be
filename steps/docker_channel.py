"""A step container started with the docker SDK, its stdin/stdout/stderr attached over one socket.

Docker multiplexes stdout and stderr on the attach socket (8-byte frame headers when no TTY);
the channel splits them into two streams. Closing our write side closes the container's stdin.
"""

import asyncio
import socket
import struct
import threading
from typing import Any, cast

import docker
import docker.errors
from docker.models.containers import Container

from steps.channel import Channel
from steps.errors import ImageNotFound, RunnerUnavailable
from steps.spec import ContainerSpec
from steps.step_priority import docker_cpu_shares

FRAME_HEADER = struct.Struct(">BxxxL")
MANAGED_LABEL = "conflux.managed"


class DockerChannel(Channel):
    def __init__(self, container: Container, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 description: str, max_line_bytes: int) -> None:
        super().__init__(asyncio.StreamReader(limit=max_line_bytes), description)
        self.container = container
        self._writer = writer
        self._stderr = asyncio.StreamReader(limit=max_line_bytes)
        self._demux_task = asyncio.create_task(self._demux(reader))
        self._stderr_task = asyncio.create_task(self.pump_stderr(self._stderr))
        self._exit: asyncio.Future[int] | None = None
        self._disposed = False
        self.memory_mb: int | None = None

    @classmethod
    async def start(cls, client: docker.DockerClient, spec: ContainerSpec, max_line_bytes: int,
                    niceness: int = 0) -> "DockerChannel":
        """Create, attach and start. Cancelling the caller does not stop Docker mid-way: the
        start goes on, and what it started is removed when it is done. ``niceness``: how far the
        container's CPU weight is below the platform's (steps/step_priority.py)."""
        starting = asyncio.ensure_future(cls._start(client, spec, max_line_bytes, niceness))
        try:
            return await asyncio.shield(starting)
        except asyncio.CancelledError:
            starting.add_done_callback(_dispose_unwanted)
            raise

    @classmethod
    async def _start(cls, client: docker.DockerClient, spec: ContainerSpec, max_line_bytes: int,
                     niceness: int) -> "DockerChannel":
        container = await asyncio.to_thread(_create, client, spec, docker_cpu_shares(niceness))
        try:
            sock = await asyncio.to_thread(
                container.attach_socket, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            raw = cast(socket.socket, getattr(sock, "_sock", sock))  # the socket a SocketIO wraps
            raw.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=raw, limit=max_line_bytes)
            await asyncio.to_thread(container.start)
        except BaseException:
            await asyncio.to_thread(_remove, container)
            raise
        channel = cls(container, reader, writer, spec.describe(), max_line_bytes)
        channel._exit = _exit_future(container)
        channel.memory_mb = spec.memory_mb
        return channel

    async def _demux(self, reader: asyncio.StreamReader) -> None:
        streams = {1: self.stdout, 2: self._stderr}
        try:
            while True:
                header = await reader.readexactly(FRAME_HEADER.size)
                stream, size = FRAME_HEADER.unpack(header)
                payload = await reader.readexactly(size)
                target = streams.get(stream)
                if target is not None:
                    target.feed_data(payload)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.stdout.feed_eof()
            self._stderr.feed_eof()

    async def write(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def close_stdin(self) -> None:
        if self._writer.can_write_eof() and not self._writer.is_closing():
            try:
                self._writer.write_eof()
            except OSError:
                pass

    async def wait(self) -> int:
        assert self._exit is not None
        code = await asyncio.shield(self._exit)
        await asyncio.wait([self._demux_task, self._stderr_task], timeout=2)
        return code

    def has_exited(self) -> bool:
        return self._disposed or self._exit is None or self._exit.done() or self._demux_task.done()

    async def kill(self) -> None:
        await asyncio.to_thread(_kill, self.container)

    async def exit_cause(self) -> str | None:
        """Docker's own word for an out-of-memory kill (State.OOMKilled), rather than guessing from 137."""
        if self._disposed or not await asyncio.to_thread(_oom_killed, self.container):
            return None
        return f"out of memory (limit {self.memory_mb} MB; a step asks for more with 'memory_mb')"

    async def dispose(self) -> None:
        if self._disposed:
            return
        self._disposed = True
        self._writer.close()
        await asyncio.to_thread(_remove, self.container)


_disposing: set["asyncio.Task[None]"] = set()


def _dispose_unwanted(starting: "asyncio.Future[DockerChannel]") -> None:
    if starting.cancelled() or starting.exception() is not None:
        return
    channel = starting.result()

    async def dispose() -> None:
        await channel.kill()
        await channel.dispose()

    task = asyncio.ensure_future(dispose())
    _disposing.add(task)
    task.add_done_callback(_disposing.discard)


def _create(client: docker.DockerClient, spec: ContainerSpec, cpu_shares: int | None) -> Container:
    """Create from a raw config: the SDK's helpers cannot set ``StdinOnce``, which lets closing our
    side of the attach socket reach the container as end of input."""
    api = client.api
    host_config = api.create_host_config(
        network_mode=spec.network,
        mem_limit=f"{spec.memory_mb}m",
        memswap_limit=f"{spec.memory_mb}m",
        nano_cpus=int(spec.cpus * 1e9),
        cpu_shares=cpu_shares,
        pids_limit=spec.pids_limit,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        read_only=True,
        tmpfs={"/tmp": "rw,size=64m"},
        ipc_mode="none",  # no /dev/shm: /tmp (64 MB) is the one place a step writes
    )
    try:
        config = api.create_container_config(
            spec.image,
            None,  # type: ignore[arg-type]  # no command: the image's CMD; docker takes None, its stubs do not
            stdin_open=True,
            user="65534:65534",
            labels={MANAGED_LABEL: "true", **spec.labels},
            environment=spec.env,
            entrypoint=spec.command,
            host_config=host_config,
        )
        config["StdinOnce"] = True
        created = api.create_container_from_config(config)
    except docker.errors.ImageNotFound:
        raise ImageNotFound(f"image {spec.image} does not exist on this Docker engine; build it with "
                            "`python -m catalog.build` (or check the step's component reference)") from None
    except docker.errors.DockerException as exc:
        raise RunnerUnavailable(f"Docker could not create a container for {spec.describe()}: {exc}") from None
    return client.containers.prepare_model({"Id": created["Id"]})


def _exit_future(container: Container) -> "asyncio.Future[int]":
    """The exit code, waited for on a thread of its own: a warm container lives for hours, and
    must not hold one of the event loop's few default executor threads all that time."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[int] = loop.create_future()

    def resolve(code: int) -> None:
        if not future.done():
            future.set_result(code)

    def wait() -> None:
        code = _wait(container)
        try:
            loop.call_soon_threadsafe(resolve, code)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    threading.Thread(target=wait, name=f"wait-{container.short_id}", daemon=True).start()
    return future


def _wait(container: Container) -> int:
    try:
        return int(container.wait().get("StatusCode", -1))
    except docker.errors.NotFound:
        return -1


def _oom_killed(container: Container) -> bool:
    try:
        container.reload()
    except docker.errors.APIError:
        return False  # already removed: nothing to tell
    return bool(container.attrs.get("State", {}).get("OOMKilled"))


def _kill(container: Container) -> None:
    try:
        container.kill()
    except docker.errors.APIError:
        pass  # already gone


def _remove(container: Container) -> None:
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise


def docker_client(**kwargs: Any) -> docker.DockerClient | None:
    """A client when a Docker engine answers, else None."""
    try:
        client = docker.from_env(**kwargs)
        # requests would read the proxy variables for every call (a third of the client's CPU,
        # measured); the engine is a local socket that no proxy serves
        client.api.trust_env = False
        client.ping()
        return client
    except docker.errors.DockerException:
        return None
