"""Which headers a message carries for ``elasticio.<step id>.headers`` (flows/step_output.py):
only those a step emitted itself, so steps that emit none make messages no bigger."""

from flows.model import Step
from flows.step_output import next_messages, webhook_trigger_output
from steps.protocol import Message

HOOK = Step(id="hook", component="webhook", function="receive")
SHAPE = Step(id="shape", component="transform", function="transform")
CALL = Step(id="call", component="http-request", function="request")


def test_only_headers_a_step_emitted_itself_are_carried() -> None:
    request = Message(id="m", body={"a": 1}, headers={"x-custom": "yes"})
    hooked = webhook_trigger_output(request, HOOK, passthrough=True)
    assert hooked.passthroughHeaders == {"hook": {"x-custom": "yes"}}

    [shaped] = next_messages([Message(body={"b": 2})], hooked, SHAPE, passthrough=True)
    assert shaped.headers == {"x-custom": "yes"}, "the request's headers are still the message's"
    assert shaped.passthroughHeaders == {"hook": {"x-custom": "yes"}}, "inherited headers are not carried again"

    [called] = next_messages([Message(body={}, headers={"etag": "1"})], shaped, CALL, passthrough=True)
    assert called.passthroughHeaders == {"hook": {"x-custom": "yes"}, "call": {"etag": "1"}}


def test_without_passthrough_nothing_is_carried() -> None:
    hooked = webhook_trigger_output(Message(id="m", body={}, headers={"x-custom": "yes"}), HOOK, passthrough=False)
    assert hooked.passthrough == {} and hooked.passthroughHeaders is None


def test_a_message_without_carried_headers_is_sent_without_the_field() -> None:
    [shaped] = next_messages([Message(body={})], Message(id="m"), SHAPE, passthrough=True)
    assert shaped.passthroughHeaders is None
    assert "passthroughHeaders" not in shaped.model_dump_json(exclude_none=True)
