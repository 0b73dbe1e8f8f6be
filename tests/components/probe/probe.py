"""One function per behaviour a runner has to carry over the wire."""

import os
import socket
import time

from conflux_runtime import Rebound


def echo(msg):
    print("echo writes to stdout; the runtime must route this to stderr")
    return msg["body"]


def multi(msg, cfg, snapshot, emit):
    for index in range(int(msg["body"].get("count", 3))):
        emit.data({"index": index})


def fail(msg):
    raise ValueError(f"cannot handle {msg['body']!r}")


def rebound(msg):
    raise Rebound("target is down")


def count(msg, cfg, snapshot, emit):
    emit.update_snapshot({"seen": snapshot.get("seen", 0) + 1})
    return {"seen_before": snapshot.get("seen", 0)}


_calls = 0


def calls(msg):
    """State kept between calls: a container or process used twice would answer 2."""
    global _calls
    _calls += 1
    return {"calls": _calls, "host": socket.gethostname(), "pid": os.getpid()}


def reply(msg, cfg, snapshot, emit):
    emit.http_reply(201, {"created": msg["body"]}, {"x-probe": "yes"})


def hang(msg):
    time.sleep(3600)


def crash(msg):
    import sys
    sys.stderr.write("probe: about to crash\n")
    sys.stderr.flush()
    os._exit(3)


def exits(msg, cfg, snapshot, emit):
    """Step code that ends its own process: what it emitted before still reaches the platform."""
    import sys
    emit.data({"before": "exit"})
    sys.exit(4)


def emits_then_works(msg, cfg, snapshot, emit):
    """An event emitted before a long piece of work goes out while the work runs."""
    emit.data({"first": True})
    time.sleep(float(msg["body"].get("seconds", 2)))
    return {"second": True}
