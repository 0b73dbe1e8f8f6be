"""The ``hand_to_window`` activity: a FlowRun's message goes to the collector of its key.

Workflows cannot signal-with-start; an activity with the worker's client can. The key is JSONata, so
it is evaluated here too (never in workflow code). A repeated handover (this activity retried after
its signal went through) is taken once by the collector (by message id).
"""

from temporalio import activity
from temporalio.exceptions import ApplicationError

from flows.aggregate_window import collector_id, window_settings
from flows.mapping import MappingError, apply_mapping
from flows.plan import plan_flow
from workflows.aggregate_window import AggregateWindowWorkflow
from workflows.search import flow_search_attributes
from workflows.window_models import WindowHandedOver, WindowHandover, WindowInput

KEY_FAILED = "WindowKeyFailed"


@activity.defn(name="hand_to_window")
async def hand_to_window(call: WindowHandover) -> WindowHandedOver:
    flow, step = call.flow, plan_flow(call.flow).steps[call.step_index]
    try:
        key = apply_mapping(window_settings(step).key, call.message.model_dump(mode="json"), flow.variables)
    except MappingError as error:
        raise ApplicationError(f"step '{step.id}': the window key could not be computed ({error})",
                               {"step": step.id, "input": call.message.body}, type=KEY_FAILED,
                               non_retryable=True) from None
    window_id = collector_id(flow.id, step.id, key)
    await activity.client().start_workflow(
        AggregateWindowWorkflow.run, WindowInput(flow=flow, step_index=call.step_index, key=key),
        id=window_id, task_queue=activity.info().task_queue, start_signal="add", start_signal_args=[call.message],
        search_attributes=flow_search_attributes(flow),
        static_summary=f"{flow.name}: window of '{step.id}' for key {key!r}",
    )
    return WindowHandedOver(window_id=window_id, key=key)
