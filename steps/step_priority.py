"""Steps yield the CPU to the platform.

On one machine, the API, Temporal and the worker share the cores with the step processes and
containers. Under a flood the steps want all of it (a fresh one costs ≈ 75–100 ms of CPU to
start), and Linux weighed each of them like the API: every process-runner step had a session of
its own (autogroup scheduling gives each session an equal share), every container a cgroup of its
own with the default weight. Ten starting steps left the API a twelfth of the CPU, and it accepted
300 webhooks/s where it accepts 1,270/s alone. With the steps a few nice levels down, accepting a
message durably comes first and the steps drain the backlog with the rest; on an idle machine
nothing changes.

``niceness`` (``CONFLUX_STEP_NICENESS``, 10 by default; 0 turns it off): a process-runner step
starts under ``nice -n`` (relative to the worker, every thread, before its code runs) in the
worker's session; a container gets the cpu shares of a task that many levels down (Docker's
default is a nice-0 task's 1024; on cgroup v2 the engine converts shares to a weight, lower too).
"""

DEFAULT_NICENESS = 10
NICE_0_SHARES = 1024  # the kernel's weight of a nice-0 task, and Docker's default cpu shares
WEIGHT_STEP = 1.25    # each nice level weighs ≈ 1.25x less (the kernel's table)


def step_niceness(value: str | None) -> int:
    """``CONFLUX_STEP_NICENESS`` checked: a whole number from 0 (off) to 19."""
    if value is None or value.strip() == "":
        return DEFAULT_NICENESS
    try:
        niceness = int(value)
    except ValueError:
        niceness = -1
    if not 0 <= niceness <= 19:
        raise ValueError(f"CONFLUX_STEP_NICENESS={value!r}: expected a whole number from 0 (steps at the "
                         f"platform's priority) to 19 (the lowest); the default is {DEFAULT_NICENESS}")
    return niceness


def niced(command: list[str], niceness: int) -> list[str]:
    """``command`` started ``niceness`` levels below its parent (coreutils' ``nice``)."""
    return ["nice", "-n", str(niceness), *command] if niceness > 0 else command


def docker_cpu_shares(niceness: int) -> int | None:
    """The cpu shares of a container ``niceness`` levels below a platform process (None: Docker's default)."""
    if niceness <= 0:
        return None
    return max(2, round(NICE_0_SHARES / WEIGHT_STEP ** niceness))
