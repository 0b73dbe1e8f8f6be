"""What every step activity does around the container call, whichever shape runs it: the
container spec of a step and the mapping of its input (what its output becomes: flows/step_output.py)."""

from collections.abc import Mapping
from typing import Any

from catalog.components import ComponentInfo
from flows.mapping import apply_mapping
from flows.message_ids import idempotency_key
from flows.model import Step
from steps.protocol import ErrorInfo, Message
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


def step_input(flow_id: str, step: Step, message: Message, variables: dict[str, Any] | None = None) -> Message:
    """What the step's container gets: the body its mapping makes of the message and the flow's
    variables (MappingError when it fails), and the idempotency key of this message at this step."""
    update: dict[str, object] = {"idempotencyKey": idempotency_key(flow_id, message.id, step.id)}
    if step.mapping is not None:
        update["body"] = apply_mapping(step.mapping, message.model_dump(mode="json"), variables)
    return message.model_copy(update=update)


def step_error_text(step: Step, error: ErrorInfo) -> str:
    return f"step '{step.id}' ({step.component}/{step.function}) failed: {error.name}: {error.message}"
