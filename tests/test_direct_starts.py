"""The API's choice between starting an ordinary run itself and the flow's intake (api/direct_starts.py)."""

from api.direct_starts import DirectStarts


def test_past_the_limit_a_flow_goes_to_its_intake_and_stays_there_a_while() -> None:
    starts = DirectStarts(limit=1)
    assert not starts.to_intake("orders")
    with starts.starting():
        assert starts.to_intake("orders"), "one start under way: the limit"
    assert starts.to_intake("orders"), "flooded a moment ago: the intake still takes its messages"
    assert not starts.to_intake("other"), "another flow starts its own"


def test_zero_sends_every_message_to_the_intake() -> None:
    assert DirectStarts(limit=0).to_intake("orders")
