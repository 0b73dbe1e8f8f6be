"""The API answers in camelCase: a base for its response models, and camelCase views of the
workflow models it passes on (a run's result, a poller's status).

The workflow models (workflows/models.py) keep their snake_case names and get no aliases: the
pydantic data converter writes payloads with ``pydantic_core.to_json``, which uses aliases, so
aliases on them would change what running workflows exchange. Each view below is a subclass of
a workflow model that only adds the camelCase aliases (FastAPI answers by alias); ``of`` turns a
workflow model into its view.
"""

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from steps.protocol import Message
from workflows.models import FlowRunResult, PollingStatus, PollRunResult, RunTotals, StepRecord

ExecutionId = Annotated[str, Field(
    description="the execution of one message, what GET /executions/{executionId} takes: '<flow id>:<message id>'")]
WorkflowId = Annotated[str, Field(
    description="the Temporal workflow that runs the execution (the id to look up in the Temporal UI); for "
    "ordinary flows it equals executionId; for real-time flows it is the flow's long-lived workflow "
    "'realtime:<flow id>', which runs many executions")]


class CamelModel(BaseModel):
    """Field names in snake_case in Python, camelCase on the wire (either is accepted as input)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    @classmethod
    def of(cls, model: BaseModel) -> Self:
        """The view of a workflow model with the same fields."""
        return cls.model_validate(model.model_dump())


class Totals(RunTotals, CamelModel):
    pass


class StepRun(StepRecord, CamelModel):
    pass


class ExecutionResult(FlowRunResult, CamelModel):
    # lists are invariant, so mypy calls these overrides incompatible; validation makes each item a StepRun
    totals: Totals = Field(default_factory=Totals)
    records: list[StepRun] = Field(  # type: ignore[assignment]  # lists are invariant (see above)
        default_factory=list, description="the first records (capped); totals count all")
    failures: list[StepRun] = Field(  # type: ignore[assignment]  # lists are invariant (see above)
        default_factory=list, description="failed step runs (capped)")
    # a child run's hand-over of a split's parts to its parent run: not part of the API's answer
    gathered: SkipJsonSchema[list[Message]] = Field(default_factory=list, exclude=True)


class PollResult(PollRunResult, CamelModel):
    totals: Totals = Field(default_factory=Totals)


class PollerStatus(PollingStatus, CamelModel):
    last_poll: PollResult | None = None


class Reencrypted(CamelModel):
    """What a key rotation's re-encryption did (secrets, or credentials)."""

    reencrypted: int = Field(description="values sealed again under the active key")
    key_id: str
