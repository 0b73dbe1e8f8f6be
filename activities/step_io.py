"""What every step activity does around the container call, whichever shape runs it: the
container spec of a step and the mapping of its input (what its output becomes: flows/step_output.py)."""

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry.trace import Link

from catalog.components import ComponentInfo
from conflux.trace_context import current_traceparent
from conflux.tracing import span
from flows.mapping import apply_mapping
from flows.message_ids import idempotency_key
from flows.model import Step
from steps.protocol import ErrorInfo, Message, StepRequest
from steps.spec import ContainerSpec


def container_spec(step: Step, catalog: Mapping[str, ComponentInfo], labels: dict[str, str],
                   name_hint: str) -> ContainerSpec:
    component = catalog.get(step.component)
    return ContainerSpec(
        image=step.image or (component.image if component else step.component),
        component_dir=component.directory if component else None,
        network="host" if step.network else "none",
        memory_mb=step.memory_mb,
        cpus=step.cpus,
        labels=labels,
        name_hint=name_hint,
    )


@contextmanager
def container_span(flow_id: str, flow_version: int, step: Step, requests: list[StepRequest], *,
                   execution_id: str | None = None, links: Sequence[Link] = ()) -> Iterator[None]:
    """The span of one call to a container (tracing on). A request that brought no trace of its
    own carries this span's to the component, whose log lines then show it."""
    attributes: dict[str, str | int] = {
        "conflux.flow": flow_id, "conflux.flow_version": flow_version, "conflux.step": step.id,
        "conflux.component": step.component, "conflux.requests": len(requests)}
    if execution_id is not None:
        attributes["conflux.execution_id"] = execution_id
    with span(f"container {step.component}/{step.function}", attributes, links=links):
        here = current_traceparent()
        for request in requests:
            request.traceparent = request.traceparent or here
        yield


def step_input(flow_id: str, step: Step, message: Message, variables: dict[str, Any] | None = None) -> Message:
    """What the step's container gets: the body its mapping makes of the message and the flow's
    variables (MappingError when it fails), and the idempotency key of this message at this step."""
    update: dict[str, object] = {"idempotencyKey": idempotency_key(flow_id, message.id, step.id)}
    if step.mapping is not None:
        update["body"] = apply_mapping(step.mapping, message.model_dump(mode="json"), variables)
    return message.model_copy(update=update)


def step_error_text(step: Step, error: ErrorInfo) -> str:
    return f"step '{step.id}' ({step.component}/{step.function}) failed: {error.name}: {error.message}"
