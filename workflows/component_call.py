"""One service call to a component's container (``verifyCredentials``, ``getMetaModel``,
``selectModel``), asked by the API, which has no runner: a workflow with one activity on the
workers' task queue, started and awaited by the route that needs the answer.

The input names a stored credential by id, or carries fields not stored yet sealed under the key
ring (a credential being verified before it is saved): no credential is ever plaintext here.
"""

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from conflux.credential_store import SealedFields

COMPONENT_CALL_TYPE = "ComponentCall"
CONTAINER_OVERHEAD = timedelta(seconds=60)  # a container start, on top of the request's own timeout
ServiceCall = Literal["verifyCredentials", "getMetaModel", "selectModel"]


class ComponentCall(BaseModel):
    """Input of the ``ComponentCall`` workflow and of its ``component_call`` activity."""

    component: str
    type: ServiceCall
    function: str | None = Field(default=None, description="getMetaModel, selectModel: the trigger or action")
    method: str | None = Field(default=None, description="selectModel: the function named by the field's model")
    config: dict[str, Any] = Field(default_factory=dict, description="the step's config (no credential fields)")
    credential: str | None = Field(default=None, description="a stored credential's id, laid over config")
    sealed: SealedFields | None = Field(default=None, description="fields not stored yet, sealed (verification)")
    network: bool = Field(default=False, description="run the container with host networking, as a step may")
    timeout: float = Field(default=30.0, gt=0, description="seconds the container has to answer")


class ComponentAnswer(BaseModel):
    """The component's answer (``result``), or why there is none."""

    result: Any = None
    error: str | None = None
    error_kind: Literal["component", "container", "credential"] | None = Field(default=None, description=(
        "component: it raised; container: it could not be run; credential: the credential could not be read"))


@workflow.defn(name=COMPONENT_CALL_TYPE)
class ComponentCallWorkflow:
    @workflow.run
    async def run(self, call: ComponentCall) -> ComponentAnswer:
        return await workflow.execute_activity(
            "component_call", call, result_type=ComponentAnswer, summary=f"{call.component}: {call.type}",
            start_to_close_timeout=timedelta(seconds=call.timeout) + CONTAINER_OVERHEAD,
            retry_policy=RetryPolicy(maximum_attempts=1),  # someone waits for the answer: it says what failed
        )
