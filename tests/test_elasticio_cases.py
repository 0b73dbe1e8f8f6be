"""elastic.io's published test cases for its transform, splitter and filter components, ported and
run on Conflux's built-ins through both runners (the ``runner`` fixture: a process and a Docker
container), all cases of a component as one batch in one container.

Sources (read through their public repositories):
- transform: elasticio/jsonata-transform-component spec/transform.spec.js (with ``dontSplitArray``)
  and elasticio/component-commons-library spec/jsonataTransform/jsonataTransform.spec.ts;
- splitter: the "Split on JSONata" cases, spec/splitOnJsonata/data/*.json of the splitter-component
  (the copy published as flowground/splitter-component; elasticio/splitter-component's stored tree
  keeps only its re-assemble specs), at the version where a single object is emitted (1.1.4);
- filter: elasticio/filter-component spec/simpleJSONataFilter.spec.js.

A case with ``differs`` asserts Conflux's answer where it deliberately differs (the reason is
given, and docs/component-guide.md lists them); every other case asserts elastic.io's expected
outcome. elastic.io's unit tests fake a step's passthrough entry as a bare value; on the platform
an entry is the step's whole message (``{"body", "headers", "stepId"}``), so the cases that read
one say ``.body`` (marked ``adapted``).
"""

from dataclasses import dataclass, field
from typing import Any

import pytest

from catalog.components import load_catalog
from steps.protocol import Message, RequestOutcome, StepRequest
from steps.runner import StepRunner
from steps.spec import ContainerSpec


@dataclass(frozen=True)
class Case:
    name: str
    function: str
    cfg: dict[str, Any]
    msg: dict[str, Any]
    bodies: list[Any] = field(default_factory=list)
    error: str | None = None
    variables: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    adapted: str = ""
    differs: str = ""


RENAT = {"first": "Renat", "last": "Zubairov"}
PHONES = {"phone": ["12345678", "87654321"]}

TRANSFORM = [
    Case("should handle simple transforms", "transform", {"expression": '{ "fullName": first & " " & last }'},
         {"body": RENAT}, [{"fullName": "Renat Zubairov"}]),
    Case("should not produce an empty message if transformation returns undefined", "transform",
         {"expression": '$[foo=2].({ "foo": boom })'}, {"body": RENAT}, []),
    Case("should return an array when the checkbox is selected", "transform",
         {"expression": "phone", "dontSplitArray": True}, {"body": PHONES}, [["12345678", "87654321"]]),
    Case("should return multiple objects when checkbox is deselected", "transform",
         {"expression": "phone", "dontSplitArray": False}, {"body": PHONES}, ["12345678", "87654321"]),
    Case("should return multiple objects when checkbox field is undefined", "transform",
         {"expression": "phone"}, {"body": PHONES}, ["12345678", "87654321"]),
    Case("should handle passthough properly", "transform",
         {"expression": '{ "fullName": first & " " & elasticio.ps.body}'},
         {"body": RENAT, "passthrough": {"ps": "psworks"}}, [{"fullName": "Renat psworks"}],
         adapted="elasticio.ps.body: a passthrough entry is the step's whole message"),
    Case("should handle getFlowVariables properly", "transform", {"expression": "$getFlowVariables()"},
         {"body": RENAT, "passthrough": {"ps": "psworks"}}, [{"var1": "value1", "var2": "value2"}],
         variables={"var1": "value1", "var2": "value2"}),
    Case("should call getPassthrough", "transform", {"expression": "$getPassthrough().ps.body"},
         {"body": RENAT, "passthrough": {"ps": "psworks"}}, ["psworks"],
         adapted="$getPassthrough().ps.body: a passthrough entry is the step's whole message"),
    Case("should handle 2 expressions on same message", "transform", {"expression": "$getPassthrough().test.body"},
         {"body": RENAT, "passthrough": {"test": "test"}}, ["test"],
         adapted="runs after the previous case in the same container: nothing of it is left over"),
]

PERSON: dict[str, Any] = {
    "FirstName": "Fred", "Surname": "Smith", "Age": 28,
    "Phone": [{"type": "home", "number": "0203 544 1234"}, {"type": "office", "number": "01962 001234"},
              {"type": "office", "number": "01962 001235"}, {"type": "mobile", "number": "077 7700 1234"}],
    "Email": [{"type": "work", "address": ["fred.smith@my-work.com", "fsmith@my-work.com"]},
              {"type": "home", "address": ["freddy@my-social.com", "frederic.smith@very-serious.com"]}],
}
FRIENDS: dict[str, Any] = {"usersCount": 2, "users": [
    {"name": "John", "friends": [{"name": "George", "friendsCount": 30}, {"name": "Logan", "friendsCount": 100}]},
    {"name": "Mike", "friends": [{"name": "Michael", "friendsCount": 35}, {"name": "Monica", "friendsCount": 220}]},
]}
FRIEND_NAMES: dict[str, Any] = {"usersCount": 2, "users": [{"name": "John", "friends": ["George", "Logan"]},
                                           {"name": "Mike", "friends": ["Michael", "Monica", "Anna"]}]}

SPLITTER = [
    Case("should split array from an array constructor expression", "splitOnJsonataExpression",
         {"expression": "Email.[address]"}, {"body": PERSON},
         [["fred.smith@my-work.com", "fsmith@my-work.com"],
          ["freddy@my-social.com", "frederic.smith@very-serious.com"]]),
    Case("should split array of arrays of objects users.friends", "splitOnJsonataExpression",
         {"expression": "users"}, {"body": FRIENDS}, FRIENDS["users"]),
    Case("should emit error for array of primitives (an array of arrays)", "splitOnJsonataExpression",
         {"expression": "usernames"}, {"body": {"usernames": [["John", "Mike"], ["Anna", "Monica"]]}},
         [["John", "Mike"], ["Anna", "Monica"]]),
    Case("should emit error for array of primitives usernames", "splitOnJsonataExpression",
         {"expression": "usernames"}, {"body": {"usernames": ["John", "Mike", "Anna", "Monica"]}},
         ["John", "Mike", "Anna", "Monica"],
         differs="elastic.io: error 'Splitting arrays of objects only!'; a Conflux body may be any JSON"),
    Case("should emit only end with empty array usernames", "splitOnJsonataExpression",
         {"expression": "usernames"}, {"body": {"usernames": []}}, []),
    Case("should split array from an object constructor expression", "splitOnJsonataExpression",
         {"expression": "Phone.{type: number}"}, {"body": PERSON},
         [{"home": "0203 544 1234"}, {"office": "01962 001234"}, {"office": "01962 001235"},
          {"mobile": "077 7700 1234"}]),
    Case("should emit a non-array object", "splitOnJsonataExpression", {"expression": "users"},
         {"body": {"users": {"name": "John"}}}, [{"name": "John"}]),
    Case("should emit error for non-array primitive", "splitOnJsonataExpression", {"expression": "users"},
         {"body": {"users": "value"}}, ["value"],
         differs="elastic.io: error \"Can't emit single primitive!\"; Conflux emits it as one message"),
    Case("should split array from a range query expression", "splitOnJsonataExpression",
         {"expression": "Phone[[0..1]]"}, {"body": PERSON}, PERSON["Phone"][:2]),
    Case("should split root array", "splitOnJsonataExpression", {"expression": "$"},
         {"body": [{"one": 1}, {"two": 2}]}, [{"one": 1}, {"two": 2}]),
    Case("should split array of arrays", "splitOnJsonataExpression", {"expression": "users"},
         {"body": FRIEND_NAMES}, FRIEND_NAMES["users"]),
    Case("should split array of objects users", "splitOnJsonataExpression", {"expression": "users"},
         {"body": {"usersCount": 2, "users": [{"name": "John"}, {"name": "Mike"}]}},
         [{"name": "John"}, {"name": "Mike"}]),
]

HELLO = {"hello": "world"}
SAMPLES: dict[str, Any] = {"passthrough": {"step_2": {"two": "sample"}, "step_1": {"one": "sample"}},
           "body": {"step_2": {"body": {"two": "sample"}}}}
MISMATCH = {"passthrough": {"step_2": {"two": "sample2"}, "step_1": {"one": "sample1"}},
            "body": {"step_2": {"body": {"two": "sample2"}}}}
SAME_STEPS = "elasticio.step_1.body.one = elasticio.step_2.body.two"
HELLO_WORLD: dict[str, Any] = {
    "passthrough": {"step_2": {"result": "Hello world!"},
                    "step_1": {"lastPoll": "4750-04-19T10:05:52.098Z", "fireTime": "2701-02-20T02:58:30.890Z"}},
    "passthroughHeaders": {"step_1": {"x-poll": "1"}},
    "body": {"result": "Hello world!"}}


def _filter(name: str, expression: str, passes: bool, msg: dict[str, Any] | None = None, **extra: Any) -> Case:
    message = msg or {"body": HELLO}
    return Case(name, "SimpleJSONataFilter", {"expression": expression}, message,
                [message["body"]] if passes else [], **extra)


FILTER = [
    _filter("should emit message: true", "true", True),
    _filter("should emit message: $not(false)", "$not(false)", True),
    _filter("should emit message: 20 > 5", "20 > 5", True),
    _filter("should emit message: 20.4 > 2", "20.4 > 2", True),
    _filter("should emit message: 20.4 > 20", "20.4 > 20", True),
    _filter("should emit message: passthrough condition", SAME_STEPS, True, SAMPLES),
    Case("addMetadataToResponse enabled", "SimpleJSONataFilter", {"expression": "0!=1", "addMetadataToResponse": True},
         HELLO_WORLD, [{"result": "Hello world!", "elasticioMeta": {
             "step_1": {"body": HELLO_WORLD["passthrough"]["step_1"], "headers": {"x-poll": "1"}, "stepId": "step_1"},
             "step_2": {"body": {"result": "Hello world!"}, "headers": {}, "stepId": "step_2"}}}],
         adapted="every entry has body, headers and stepId (elastic.io's fake step_1 entry has a body only)"),
    Case("addMetadataToResponse disabled", "SimpleJSONataFilter",
         {"expression": "0!=1", "addMetadataToResponse": False},
         HELLO_WORLD, [{"result": "Hello world!"}]),
    _filter("should not emit: false", "false", False),
    _filter("should not emit: $not(true)", "$not(true)", False),
    _filter("should not emit: 20 > 20", "20 > 20", False),
    _filter("should not emit: 20.4 > 20.4", "20.4 > 20.4", False),
    _filter("should not emit: null", "null", False),
    _filter("should not emit: undefined", "undefined", False),
    _filter("should throw error: $number(hello) > 5", "$number(hello) > 5", False, error="$number(hello) > 5",
            adapted="the error's wording is jsonata-python's, not 'Unable to cast value to a number'"),
    _filter("should throw error: elasticio property is reserved", SAME_STEPS, False,
            {**SAMPLES, "body": {"elasticio": {}, **SAMPLES["body"]}},
            differs="elastic.io fails a body with its own 'elasticio' field; in Conflux the body's field wins "
                    "(here: {}, so the condition is false and the message is dropped)"),
    Case("should throw error: assertion", "SimpleJSONataFilter", {"expression": SAME_STEPS, "assertion": True},
         MISMATCH, error=f"Condition not met on JSONata expression: {SAME_STEPS}"),
]

# Conflux's own: the semantics elastic.io's cases do not cover, asserted the same way.
CONFLUX_TRANSFORM = [
    Case("null emits no message", "transform", {"expression": "null"}, {"body": {}}, []),
    Case("an empty object emits no message", "transform", {"expression": "{}"}, {"body": {}}, []),
    Case("an empty array emits no message, kept or not", "transform", {"expression": "[]", "dontSplitArray": True},
         {"body": {}}, []),
    Case("a number is one message", "transform", {"expression": "n * 2"}, {"body": {"n": 21}}, [42]),
    Case("flow variables and $steps together", "transform",
         {"expression": "{'region': $getFlowVariables().region, 'name': $steps.lookup.name, "
                        "'auth': elasticio.hook.headers.authorization}"},
         {"body": {}, "passthrough": {"hook": {}, "lookup": {"name": "Ada"}},
          "passthroughHeaders": {"hook": {"authorization": "Bearer x"}}},
         [{"region": "eu", "name": "Ada", "auth": "Bearer x"}], variables={"region": "eu"}),
]
CONFLUX_SPLITTER = [
    Case("split's path selecting one object", "split", {"path": "order"}, {"body": {"order": {"id": 1}}}, [{"id": 1}]),
    Case("split's path selecting nothing is an error", "split", {"path": "orders"}, {"body": {}},
         error="selected nothing"),
    Case("a flow variable in the path", "split", {"path": "$lookup(items, $getFlowVariables().key)"},
         {"body": {"items": {"a": [1, 2]}}}, [1, 2], variables={"key": "a"}),
]
CONFLUX_FILTER = [
    Case("the result goes into the metadata", "filter", {"expression": "total > 10", "addResultToMetadata": True},
         {"body": {"total": 12}}, [{"total": 12}], metadata={"filterResult": True}),
    Case("a truthy result under a key of one's own", "filter",
         {"expression": "lines[qty > 1]", "addResultToMetadata": True, "metadataKey": "bigLines"},
         {"body": {"lines": [{"qty": 2}]}}, [{"lines": [{"qty": 2}]}], metadata={"bigLines": {"qty": 2}}),
    Case("an empty array is true, as in JavaScript", "filter", {"expression": "[]"}, {"body": {"a": 1}}, [{"a": 1}]),
    Case("0 and an empty string are false", "filter", {"expression": "n or s"}, {"body": {"n": 0, "s": ""}}, []),
    Case("a flow variable in the condition", "filter", {"expression": "region = $getFlowVariables().region"},
         {"body": {"region": "eu"}}, [{"region": "eu"}], variables={"region": "eu"}),
    Case("a dropped message's result stays out of the metadata", "filter",
         {"expression": "false", "addResultToMetadata": True}, {"body": {}}, []),
]

COMPONENTS = {
    "transform": TRANSFORM + CONFLUX_TRANSFORM,
    "splitter": SPLITTER + CONFLUX_SPLITTER,
    "filter": FILTER + CONFLUX_FILTER,
}
PORTED = {"transform": TRANSFORM, "splitter": SPLITTER, "filter": FILTER}


async def run_cases(runner: StepRunner, component: str, cases: list[Case]) -> list[RequestOutcome]:
    """Every case as one request of one batch: one container for them all, as a batch step runs."""
    info = load_catalog()[component]
    spec = ContainerSpec(image=info.image, component_dir=info.directory)
    requests = [StepRequest(id=f"case-{number}", function=case.function, cfg=case.cfg, variables=case.variables,
                            msg=Message(id=f"m{number}", **case.msg)) for number, case in enumerate(cases)]
    return await runner.run_once(spec, requests, 60)


def mismatch(case: Case, outcome: RequestOutcome) -> str | None:
    """What is wrong with the outcome for this case (None: as expected)."""
    if case.error is not None:
        if outcome.error is None or case.error not in outcome.error.message:
            return f"expected an error with {case.error!r}, got {outcome.error} and {len(outcome.data)} message(s)"
        return None
    if outcome.error is not None:
        return f"unexpected error {outcome.error.name}: {outcome.error.message}"
    if [message.body for message in outcome.data] != case.bodies:
        return f"bodies {[message.body for message in outcome.data]} != {case.bodies}"
    if case.metadata is not None and [message.metadata for message in outcome.data] != [case.metadata]:
        return f"metadata {[message.metadata for message in outcome.data]} != {[case.metadata]}"
    return None


@pytest.mark.parametrize("component", sorted(COMPONENTS))
async def test_elasticio_cases_and_conflux_semantics(runner: StepRunner, component: str) -> None:
    cases = COMPONENTS[component]
    outcomes = await run_cases(runner, component, cases)
    problems = {case.name: problem for case, outcome in zip(cases, outcomes, strict=True)
                if (problem := mismatch(case, outcome)) is not None}
    assert problems == {}


def test_the_ported_case_counts_stay_as_documented() -> None:
    """docs/component-guide.md gives these numbers: a case added or changed here changes them there."""
    counts = {name: (len(cases), sum(1 for c in cases if c.differs), sum(1 for c in cases if c.adapted))
              for name, cases in PORTED.items()}
    assert counts == {"transform": (9, 0, 3), "splitter": (12, 2, 0), "filter": (17, 1, 2)}
