"""An error's id says where its failure is kept, so a retry can find it again without a table of
its own: a flow run's failure is (workflow id, run id, place in the run's failures); a real-time
flow's is (message id, step id, time) among its workflow's recent failures. Opaque to callers
(api/opaque_ids.py)."""

from dataclasses import dataclass

from api.opaque_ids import decode_opaque, encode_opaque


@dataclass(frozen=True)
class RunFailure:
    """The ``index``-th of the failures a failed FlowRun carries in its ``FlowRunFailed`` details."""

    workflow_id: str
    run_id: str
    index: int


@dataclass(frozen=True)
class RealtimeFailure:
    """One of a real-time flow's recent failures (its workflow's ``failures`` query)."""

    message_id: str
    step_id: str
    at: str


ErrorRef = RunFailure | RealtimeFailure


class BadErrorId(ValueError):
    """Not an id this API gave out."""


def encode_error_id(ref: ErrorRef) -> str:
    parts: list[str | int] = (["run", ref.workflow_id, ref.run_id, ref.index] if isinstance(ref, RunFailure)
                              else ["rt", ref.message_id, ref.step_id, ref.at])
    return encode_opaque(parts)


def decode_error_id(error_id: str) -> ErrorRef:
    try:
        parts = decode_opaque(error_id)
    except ValueError:
        raise BadErrorId("it is not an error id (GET /flows/{id}/errors lists them)") from None
    match parts:
        case ["run", str(workflow_id), str(run_id), int(index)] if index >= 0:
            return RunFailure(workflow_id, run_id, index)
        case ["rt", str(message_id), str(step_id), str(at)]:
            return RealtimeFailure(message_id, step_id, at)
    raise BadErrorId("it is not an error id (GET /flows/{id}/errors lists them)")
