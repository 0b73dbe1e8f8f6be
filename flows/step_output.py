"""What a step's output becomes on its way to the next step, and the one step the platform runs
itself: the built-in webhook trigger. Pure functions, used by activities and workflows alike."""

from typing import Any

from flows.model import Step
from steps.protocol import Message

WEBHOOK_TRIGGER = ("webhook", "receive")
REQUEST_DEFAULTS: dict[str, Any] = {"body": None, "headers": {}, "method": "POST", "query": {}, "path": "", "url": ""}


def next_messages(data: list[Message], incoming: Message, step: Step, passthrough: bool) -> list[Message]:
    """Give every output an id derived from its input (so reruns produce the same ids), carry the
    earlier outputs along as passthrough (bodies, and the headers steps emitted), and keep the
    request that started the execution (``method``, ``url``, ``query``, ``path``; ``headers``
    unless the step emitted its own) so ``$msg`` shows it at every step."""
    outputs = []
    for index, out in enumerate(data):
        carried = {**incoming.passthrough, step.id: out.body} if passthrough else {}
        outputs.append(out.model_copy(update={
            "id": incoming.id if len(data) == 1 else f"{incoming.id}-{index}",
            "passthrough": carried,
            "passthroughHeaders": carried_headers(incoming, step, out) if passthrough else None,
            "metadata": {**incoming.metadata, **out.metadata},
            "headers": out.headers or incoming.headers,
            "method": incoming.method if out.method is None else out.method,
            "url": incoming.url if out.url is None else out.url,
            "query": incoming.query if out.query is None else out.query,
            "path": incoming.path if out.path is None else out.path,
        }))
    return outputs


def carried_headers(incoming: Message, step: Step, out: Message) -> dict[str, dict[str, Any]] | None:
    """Headers for ``elasticio.<step id>.headers``: only those a step emitted itself (a webhook
    trigger's request headers, an HTTP response's), so a flow of steps that emit none carries nothing
    more (docs/flows.md has the measured size)."""
    if not out.headers:
        return incoming.passthroughHeaders
    return {**(incoming.passthroughHeaders or {}), step.id: out.headers}


def is_webhook_trigger(step: Step) -> bool:
    return (step.component, step.function) == WEBHOOK_TRIGGER


def runs_in_platform(step: Step) -> bool:
    """The built-in webhook trigger only copies the request into the body: a container per
    message (≈ 250 ms) for that is waste, so the platform does it (a user's own webhook trigger,
    one with code, still runs in its container). A trigger with a ``mapping`` runs in its container
    too: mappings are JSONata, evaluated in activities, never in workflow code."""
    return is_webhook_trigger(step) and step.mapping is None


def webhook_trigger_output(message: Message, step: Step, passthrough: bool) -> Message:
    """What ``webhook/receive`` emits for a request: the request (body, headers, method, url,
    query, extra path; a missing field empty) as the body, the request fields kept on the message."""
    request = {key: default if getattr(message, key) is None else getattr(message, key)
               for key, default in REQUEST_DEFAULTS.items()}
    emitted = Message(body=request, headers=message.headers, attachments=message.attachments)
    [output] = next_messages([emitted], message, step, passthrough)
    return output
