"""Steps yield the CPU to the platform.

On one machine, the API, Temporal and the worker share the cores with the step processes and
containers. Under a flood the steps want all of it (each fresh one costs ≈ 75–100 ms of CPU to
start), and Linux gives every session (process runner: each step is one; autogroup scheduling)
and every container's cgroup an equal share: ten starting steps left the API a twelfth of the
CPU, and it accepted 300 webhooks/s where it accepts 1,270/s alone. With the steps a few nice
levels down, accepting a message durably comes first and the steps drain the backlog with the rest;
on an idle machine nothing changes.

``niceness`` 0 turns it off; 10 (the default, ``CONFLUX_STEP_NICENESS``) weighs a step ≈ 1/9 of
a platform process when both want the CPU.
"""

import contextlib
import os

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


def lower_process(pid: int, niceness: int) -> None:
    """A step process ``niceness`` levels down, and its session's autogroup with it (the
    process runner starts each in a session of its own, which autogroup scheduling weighs like
    any other session, whatever its processes' nice values)."""
    if niceness <= 0:
        return
    with contextlib.suppress(OSError):  # gone already, or a kernel without autogroups: it ran at normal priority
        with open(f"/proc/{pid}/autogroup", "w", encoding="ascii") as autogroup:
            autogroup.write(str(niceness))
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, niceness)


def docker_cpu_shares(niceness: int) -> int | None:
    """The cgroup weight of a container ``niceness`` levels below a platform process (None: Docker's default)."""
    if niceness <= 0:
        return None
    return max(2, round(NICE_0_SHARES / WEIGHT_STEP ** niceness))
