"""What every step activity does around the container call, whichever shape runs it: the
container spec of a step and the mapping of its input (what its output becomes: flows/step_output.py)."""

from collections.abc import Mapping

from catalog.components import ComponentInfo
from flows.mapping import apply_mapping
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


def mapped_input(step: Step, message: Message) -> Message:
    """The message with the body the step's mapping makes of it; MappingError when it fails."""
    if step.mapping is None:
        return message
    body = apply_mapping(step.mapping, message.body, message.model_dump(mode="json"))
    return message.model_copy(update={"body": body})


def step_error_text(step: Step, error: ErrorInfo) -> str:
    return f"step '{step.id}' ({step.component}/{step.function}) failed: {error.name}: {error.message}"
