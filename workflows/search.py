"""Custom search attributes: what operators filter runs by in the Temporal UI."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

from flows.model import Flow

FLOW_ID = SearchAttributeKey.for_keyword("FlowId")
FLOW_NAME = SearchAttributeKey.for_keyword("FlowName")
FLOW_VERSION = SearchAttributeKey.for_keyword("FlowVersion")
TRIGGER_TYPE = SearchAttributeKey.for_keyword("TriggerType")
FAILED_STEP = SearchAttributeKey.for_keyword_list("FailedStep")

ALL_KEYS = (FLOW_ID, FLOW_NAME, FLOW_VERSION, TRIGGER_TYPE, FAILED_STEP)


def flow_search_attributes(flow: Flow) -> TypedSearchAttributes:
    return TypedSearchAttributes([
        SearchAttributePair(FLOW_ID, flow.id),
        SearchAttributePair(FLOW_NAME, flow.name),
        SearchAttributePair(FLOW_VERSION, str(flow.version)),
        SearchAttributePair(TRIGGER_TYPE, flow.trigger.type),
    ])


def dev_server_flags() -> list[str]:
    """``--search-attribute`` flags that register every key on ``temporal server start-dev``."""
    return [flag for key in ALL_KEYS for flag in ("--search-attribute", f"{key.name}={_type_name(key)}")]


def _type_name(key: SearchAttributeKey) -> str:
    return "KeywordList" if key is FAILED_STEP else "Keyword"
