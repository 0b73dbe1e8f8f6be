"""Entry point: ``python3 -m conflux_runtime [COMPONENT_DIR]`` (default $CONFLUX_COMPONENT_DIR or /component).

Announces itself with a ``ready`` event, serves requests from stdin in order, exits 0 at EOF.
A component that cannot be loaded is reported with a ``fatal`` event and exit code 2.
"""

import os
import sys

from conflux_runtime import PROTOCOL_VERSION, RUNTIME_VERSION
from conflux_runtime.descriptor import Component
from conflux_runtime.emitter import describe_error
from conflux_runtime.errors import ComponentError
from conflux_runtime.executor import Executor
from conflux_runtime.logs import write_log
from conflux_runtime.transport import Transport


def main(argv: list[str]) -> int:
    transport = Transport.take_over_stdio()
    directory = argv[1] if len(argv) > 1 else os.environ.get("CONFLUX_COMPONENT_DIR", "/component")
    try:
        component = Component.load(directory)
        component.import_all()
        executor = Executor(component, transport)  # before ready: what it sets up is not on a message's path
    except ComponentError as exc:
        transport.send({"type": "fatal", "error": describe_error(exc)})
        transport.flush()
        write_log("error", str(exc))
        return 2
    transport.send({
        "type": "ready",
        "protocol": PROTOCOL_VERSION,
        "runtime": RUNTIME_VERSION,
        "component": {"title": component.title, "version": component.version},
    })
    try:
        for request in transport.requests():
            if isinstance(request, ValueError):
                executor.reject(request)
            else:
                executor.handle(request)
    finally:  # step code that exits the process: what it and earlier requests emitted still goes out
        transport.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
