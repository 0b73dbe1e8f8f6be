"""One function per behaviour a runner has to carry over the wire."""

import os
import socket
import subprocess
import time

from conflux_runtime import Rebound


def echo(msg):
    print("echo writes to stdout; the runtime must route this to stderr")
    return msg["body"]


def writes_to_fd1(msg):
    """What bypasses sys.stdout: a raw write to fd 1 and a child process inheriting stdio."""
    os.write(1, b"noise written to fd 1\n")
    subprocess.run(["sh", "-c", "echo noise from a child process"], check=True)
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


def traced(msg, cfg, snapshot, emit):
    """The request's trace as the component sees it: in its log line, and in what it returns."""
    emit.log.info(f"traced probe at work on {msg['body']}")
    return {"traceparent": emit.traceparent, "body": msg["body"]}


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


# --- attempts to leave the container's bounds (tests/test_isolation.py) ----------------------------

def write_outside(msg):
    """Writes a file everywhere it might; only its temporary folder should take it."""
    wrote, refused = [], []
    everywhere = ["/tmp", "/", "/etc", "/usr/local", "/var/tmp", "/dev/shm", os.path.dirname(os.path.abspath(__file__)),
                  os.getcwd(), os.path.expanduser("~")]
    for folder in dict.fromkeys(msg["body"].get("folders", everywhere)):
        path = os.path.join(folder, "probe-was-here")
        try:
            with open(path, "w") as out:
                out.write("x")
            wrote.append(folder)
        except OSError as exc:
            refused.append(f"{folder}: {exc.strerror}")
    outside = [folder for folder in wrote if folder != "/tmp"]
    if outside:
        return {"wrote_outside": outside}
    raise PermissionError(f"wrote only in {wrote or 'nothing'}; refused: {'; '.join(refused)}")


def reach(msg):
    """An HTTP request to host:port; returns its status line when a connection could be made."""
    body = msg["body"]
    with socket.create_connection((body["host"], int(body["port"])), timeout=5) as connection:
        connection.sendall(f"GET /probe HTTP/1.0\r\nHost: {body['host']}\r\n\r\n".encode())
        return {"reached": connection.recv(200).split(b"\r\n", 1)[0].decode()}


def escalate(msg):
    """Every ordinary way to become root or gain a capability; returns what worked, if anything."""
    import shutil
    import subprocess
    gained, refused = [], []
    attempts = [("setuid(0)", lambda: os.setuid(0)), ("setgid(0)", lambda: os.setgid(0)),
                ("chown to root", lambda: os.chown(_scratch_file(), 0, 0))]
    for name, attempt in attempts:
        try:
            attempt()
            gained.append(name)
        except OSError as exc:
            refused.append(f"{name}: {exc.strerror}")
    for tool in ("sudo", "su"):
        found = shutil.which(tool)
        if found:
            done = subprocess.run([found, "-n", "id", "-u"] if tool == "sudo" else [found, "-c", "id -u"],
                                  capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
            (gained if done.stdout.strip() == "0" else refused).append(f"{tool}: exit {done.returncode}")
        else:
            refused.append(f"{tool}: not installed")
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    if int(status["CapEff"], 16) or os.geteuid() == 0:
        gained.append(f"CapEff {status['CapEff']}, euid {os.geteuid()}")
    if gained:
        return {"gained": gained}
    raise PermissionError(f"no privilege gained (uid {os.getuid()}, CapEff {status['CapEff'].strip()}, "
                          f"NoNewPrivs {status['NoNewPrivs'].strip()}); refused: {'; '.join(refused)}")


def _scratch_file():
    path = "/tmp/probe-owned"
    open(path, "w").close()
    return path


def hog_memory(msg):
    """Touches memory 16 MB at a time; returns how much it held if nothing stopped it."""
    held = []
    for _ in range(int(msg["body"].get("max_mb", 4096)) // 16):
        held.append(b"\x01" * (16 << 20))
    return {"held_mb": 16 * len(held)}


def fork_bomb(msg):
    """Forks sleeping children until the system refuses (or ``max`` is reached), then ends them."""
    import signal
    children = []
    try:
        for _ in range(int(msg["body"].get("max", 100000))):
            pid = os.fork()
            if pid == 0:
                time.sleep(60)
                os._exit(0)
            children.append(pid)
    except OSError as exc:
        raise RuntimeError(f"fork refused after {len(children)} processes: {exc.strerror}") from None
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return {"forked": len(children)}


def fill_tmp(msg):
    """Writes 1 MB at a time into /tmp until it is full (or ``mb`` is written)."""
    written = 0
    with open("/tmp/probe-fill", "wb") as out:
        try:
            for _ in range(int(msg["body"].get("mb", 1024))):
                out.write(b"\x01" * (1 << 20))
                out.flush()
                written += 1
        except OSError as exc:
            raise RuntimeError(f"/tmp took {written} MB, then: {exc.strerror}") from None
    return {"written_mb": written}


# --- a container that writes garbage on the protocol stream (tests/test_garbage_lines.py) ------------

GARBAGE_LINE_BYTES = 128 * 1024  # twice the line limit those tests give the runner


def garbage(msg):
    """Writes ``body.kind`` of garbage on the protocol stream itself, behind the runtime's back (as
    a library holding the original stdout, or a runtime with a bug, would), then goes on as asked;
    a message without a ``kind`` is echoed, so the same step also works."""
    import gc
    import json
    import random
    import sys

    kind = msg["body"].get("kind")
    if kind is None:
        return msg["body"]
    [stream] = [o for o in gc.get_objects() if type(o).__name__ == "Transport"]
    out = stream._out
    noise = random.Random(7).randbytes(200).replace(b"\n", b"") + b"\n"
    lines = {"random": noise, "random-then-hang": noise, "truncated": b'{"type": "data", "id": "',
             "truncated-then-exit": b'{"type": "data", "id": "',
             "oversized": b'{"type": "data", "pad": "' + b"x" * GARBAGE_LINE_BYTES + b'"}\n',
             "wrong-id": json.dumps({"type": "end", "id": "nobody-asked"}).encode() + b"\n"}
    out.write(lines[kind])
    out.flush()
    if kind == "random-then-hang":
        time.sleep(3600)
    if kind == "truncated-then-exit":
        sys.stderr.flush()
        os._exit(0)
    return msg["body"]  # the runtime's own events follow the garbage


def priority(msg):
    """This step's nice value: how the host weighs its CPU against the platform's processes."""
    return {"nice": os.getpriority(os.PRIO_PROCESS, 0)}
