"""The flow model. Flows cross every boundary (API, workflow input, files), so they are pydantic.

A flow is one trigger and ordered actions. Each step names a component and one of its functions;
``image`` pins the exact image (set from the component catalog when the flow is validated).
"""

import hashlib
import json
from typing import Any, Literal

from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
DEFAULT_BRANCH = "default"  # the id of a router's default branch unless it names its own
ID_RULE = "lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters"


def backoff_delay(initial: float, backoff: float, attempt: int, maximum: float) -> float:
    """Seconds before the retry that follows ``attempt`` (1-based): ``initial`` × ``backoff``^(attempt − 1),
    at most ``maximum``. Both step policies use it; Temporal's own retry interval is the same formula,
    given the crash-retry policy's numbers by ``workflows.step_activity.retry_policy``."""
    return min(initial * backoff ** (attempt - 1), maximum)


MAX_VERSION = 2**63 - 1  # the largest integer SQLite stores: a version asked for beyond it names none


class RateLimit(BaseModel):
    """Messages a flow accepts per second, across every API process; past it a sender gets 429."""

    model_config = ConfigDict(extra="forbid")
    per_second: float = Field(gt=0, le=100_000, description="messages per second, sustained")
    burst: int | None = Field(default=None, ge=1, le=1_000_000, description=(
        "messages accepted at once after a quiet spell; unset: one second's worth (at least 1)"))

    @property
    def burst_size(self) -> int:
        return self.burst if self.burst is not None else max(1, int(self.per_second))


class ReplySettings(BaseModel):
    """Request-reply: webhook and API callers wait for the flow's answer instead of a 202."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["first", "last"] = Field(default="first", description=(
        "first: the first httpReply a step emits (a run that ends without one answers with its last output); "
        "last: the last step's output"))
    timeout: float = Field(default=30.0, gt=0, le=300, description=(
        "seconds a caller waits; then 504 with the execution id, and the run goes on"))


class WebhookAuth(BaseModel):
    """Who may call a webhook flow's URL. The definition names a stored secret (``PUT /secrets/{name}``),
    never the secret itself: definitions travel into Temporal's history."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["none", "basic", "api_key", "hmac"] = "none"
    secret: str | None = Field(default=None, pattern=ID_PATTERN, description=(
        "the stored secret's name: basic: the password; api_key: the key; hmac: the signing key"))
    username: str | None = Field(default=None, description="basic: the user name the caller must send")
    header: str | None = Field(default=None, description=(
        "api_key: the header carrying the key (default X-API-Key); hmac: the signature header (default "
        "X-Signature)"))
    query: str | None = Field(default=None, description="api_key: a query parameter carrying the key instead")
    algorithm: Literal["sha1", "sha256", "sha512"] = Field(default="sha256", description="hmac: the digest")
    signature_prefix: str = Field(default="", description="hmac: text before the hex digest, e.g. 'sha256='")
    timestamp_header: str | None = Field(default=None, description=(
        "hmac: a header with the request's Unix time; then '<timestamp>.<body>' is signed, and requests older "
        "or newer than tolerance_seconds are refused (replays)"))
    tolerance_seconds: int = Field(default=300, ge=1, le=86_400)

    @model_validator(mode="after")
    def _fields_match_type(self) -> "WebhookAuth":
        if self.type != "none" and self.secret is None:
            raise ValueError(f"webhook_auth type '{self.type}' needs 'secret': the name of a secret stored with "
                             "PUT /secrets/{name}")
        if self.type == "basic" and not self.username:
            raise ValueError("webhook_auth type 'basic' needs 'username'")
        if self.query is not None and self.type != "api_key":
            raise ValueError("'query' is for webhook_auth type 'api_key' only")
        if self.timestamp_header is not None and self.type != "hmac":
            raise ValueError("'timestamp_header' is for webhook_auth type 'hmac' only")
        return self


class RetryPolicy(BaseModel):
    """Retries of a step whose container crashed or hung (durable: Temporal keeps the message)."""

    model_config = ConfigDict(extra="forbid")
    max_attempts: int = Field(default=3, ge=1, le=100)
    initial_interval: float = Field(default=1.0, gt=0, description="seconds")
    backoff: float = Field(default=2.0, ge=1.0)
    max_interval: float = Field(default=60.0, gt=0, description="seconds")

    def delay(self, attempt: int) -> float:
        """Delay before the retry that follows ``attempt`` (1-based)."""
        return backoff_delay(self.initial_interval, self.backoff, attempt, self.max_interval)


class ReboundPolicy(BaseModel):
    """Retries of a step that emitted ``rebound`` (a temporary failure of the target)."""

    model_config = ConfigDict(extra="forbid")
    initial_delay: float = Field(default=15.0, gt=0, description="seconds")
    backoff: float = Field(default=2.0, ge=1.0)
    max_attempts: int = Field(default=20, ge=1, le=1000)
    max_delay: float = Field(default=3600.0, gt=0, description="seconds")

    def delay(self, attempt: int) -> float:
        """Delay before the retry that follows ``attempt`` (1-based)."""
        return backoff_delay(self.initial_delay, self.backoff, attempt, self.max_delay)


Mapping = str | dict[str, str]


def checked_variables(variables: dict[str, Any]) -> dict[str, Any]:
    """Flow variables as given, or ValueError for a name no expression could use."""
    for name in variables:
        if not name.strip():
            raise ValueError("a flow variable needs a name (an empty or blank key was given)")
    return variables


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    component: str = Field(description="component name in the catalog, e.g. http-request")
    function: str = Field(description="the component's trigger or action to run")
    image: str | None = Field(default=None, description="exact image; filled in from the catalog when omitted")
    config: dict[str, Any] = Field(default_factory=dict)
    credential: str | None = Field(default=None, pattern=ID_PATTERN, description=(
        "id of a stored credential of this step's component (POST /credentials); its fields are laid over "
        "'config' inside the step's activity, so they never enter Temporal's history (docs/security.md)"))
    mapping: Mapping | None = Field(
        default=None,
        description="JSONata applied to this step's input: one expression for the whole body, "
        "or target field -> expression. $steps.<id> reaches earlier steps' outputs, $msg the message.",
    )
    network: bool = Field(default=False, description="run with host networking instead of none")
    timeout: float = Field(default=60.0, gt=0, le=24 * 3600, description="seconds for one run of the step")
    memory_mb: int = Field(default=256, ge=16, le=16384)
    cpus: float = Field(default=1.0, gt=0, le=16)
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    rebound: ReboundPolicy = Field(default_factory=ReboundPolicy)
    replicas: int = Field(default=1, ge=1, le=20,
                          description="real-time flows: warm containers sharing this step's messages")
    standby: int | None = Field(default=None, ge=0, le=20, description=(
        "ordinary flows: fresh containers kept started for this step, each used for one message or batch "
        "(0: none); unset: the flow's 'standby', else the worker's CONFLUX_STANDBY_CONTAINERS"))

    branches: "list[Branch] | None" = Field(default=None, description=(
        "router steps (component 'router'): the branches a message may go down, each with a JSONata 'when'"))
    default: "DefaultBranch | None" = Field(default=None, description=(
        "router steps: where a message goes when no branch's condition holds (unset: on past the router)"))

    def label(self) -> str:
        return f"{self.id} · {self.component}/{self.function}"

    @model_validator(mode="after")
    def _branch_ids_unique(self) -> "Step":
        ids = [branch.id for branch in self.branches or []]
        if self.default is not None:
            ids.append(self.default.id)
        for branch_id in ids:
            if ids.count(branch_id) > 1:
                raise ValueError(f"branch id '{branch_id}' is used twice in router '{self.id}'; branch ids of a "
                                 "router must be unique (the default branch's id is 'default' unless it sets one)")
        return self

    def ways(self) -> "list[Branch | DefaultBranch]":
        """A router's branches, then its default if it has one: every way the router may send a message
        (empty for other steps)."""
        return [*(self.branches or []), *([self.default] if self.default is not None else [])]

    def nested_steps(self) -> "list[Step]":
        """The steps of this step's branches, and of theirs, in definition order."""
        found: list[Step] = []
        for way in self.ways():
            for step in way.steps:
                found += [step, *step.nested_steps()]
        return found


class BranchSteps(BaseModel):
    """A router's way for a message: its own steps, then the end of the flow or the step after the router."""

    model_config = ConfigDict(extra="forbid")
    steps: list[Step] = Field(default_factory=list)
    then: Literal["rejoin", "end"] = Field(default="rejoin", description=(
        "rejoin: go on at the step after the router; end: the message's path ends with the branch"))


class Branch(BranchSteps):
    id: str = Field(pattern=ID_PATTERN)
    when: str = Field(min_length=1, description="JSONata condition on the message (JavaScript truthiness)")

    @field_validator("id")
    @classmethod
    def _not_default(cls, branch_id: str) -> str:
        if branch_id == DEFAULT_BRANCH:
            raise ValueError(f"'{DEFAULT_BRANCH}' names a router's default branch; give this branch another id, or "
                             "put its steps under the router's 'default'")
        return branch_id


class DefaultBranch(BranchSteps):
    id: str = Field(default=DEFAULT_BRANCH, pattern=ID_PATTERN)


Step.model_rebuild()


class Trigger(Step):
    type: Literal["webhook", "polling"] = "webhook"

    @model_validator(mode="after")
    def _no_branches(self) -> "Trigger":
        if self.branches is not None or self.default is not None:
            raise ValueError("a trigger takes no 'branches' or 'default': put a router step after it")
        return self

    interval: float | None = Field(default=None, ge=1, description="polling: seconds between polls")
    cron: str | None = Field(default=None, description="polling: a cron expression instead of an interval")

    @model_validator(mode="after")
    def _schedule_matches_type(self) -> "Trigger":
        if self.type == "polling" and (self.interval is None) == (self.cron is None):
            raise ValueError("a polling trigger needs exactly one of 'interval' (seconds, >= 1) or 'cron'")
        if self.type == "webhook" and (self.interval is not None or self.cron is not None):
            raise ValueError("a webhook trigger takes no 'interval' or 'cron' (those are for polling triggers)")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"'{self.cron}' is not a cron expression (five fields: minute hour day month weekday, "
                             "e.g. '*/5 * * * *')")
        return self


def every_step(steps: list[Step]) -> list[Step]:
    """The steps and, after each router, its branches' steps."""
    return [found for step in steps for found in (step, *step.nested_steps())]


class Flow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    version: int = Field(default=1, ge=1)
    type: Literal["ordinary", "realtime"] = "ordinary"
    trigger: Trigger
    steps: list[Step] = Field(default_factory=list)
    concurrency: int = Field(default=10, ge=1, le=1000, description="messages of one execution in flight at once")
    passthrough: bool = Field(default=True, description="carry earlier steps' outputs to later steps")
    rate_limit: RateLimit | None = Field(default=None, description=(
        "webhook and API messages per second (and a burst); past it the sender gets 429 with Retry-After"))
    standby: int | None = Field(default=None, ge=0, le=20, description=(
        "ordinary flows: standby containers per step unless a step sets its own; unset: the worker's setting"))
    max_in_flight: int | None = Field(default=None, ge=1, le=1_000_000, description=(
        "messages accepted and not yet done (running, or waiting to run) past which a sender gets 429; counted "
        "from Temporal, so every API process sees the same figure (unset: no cap)"))
    webhook_auth: WebhookAuth | None = Field(default=None, description=(
        "webhook flows: none, HTTP basic, an API key, or an HMAC signature of the body (docs/security.md)"))
    variables: dict[str, Any] | None = Field(default=None, description=(
        "flow variables: key -> any JSON, read by mappings and JSONata components as $getFlowVariables() and by "
        "components from the step request; PUT /flows/{id}/variables changes them (a new version)"))
    reply: ReplySettings | None = Field(default=None, description=(
        "answer every webhook and API message with the flow's reply (unset: 202 at once; a request may still "
        "ask with ?reply=first|last)"))

    @field_validator("steps")
    @classmethod
    def _unique_step_ids(cls, steps: list[Step]) -> list[Step]:
        seen: set[str] = set()
        for step in every_step(steps):
            if step.id in seen:
                raise ValueError(f"step id '{step.id}' is used twice; step ids must be unique (across branches too)")
            seen.add(step.id)
        return steps

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, variables: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if variables is None else checked_variables(variables)

    @model_validator(mode="after")
    def _webhook_auth_for_webhooks(self) -> "Flow":
        if self.webhook_auth is not None and self.webhook_auth.type != "none" and self.trigger.type != "webhook":
            raise ValueError(f"webhook_auth is for webhook triggers; this flow's trigger is {self.trigger.type}")
        return self

    @model_validator(mode="after")
    def _trigger_id_unique(self) -> "Flow":
        if any(step.id == self.trigger.id for step in every_step(self.steps)):
            raise ValueError(f"step id '{self.trigger.id}' is used by the trigger and an action; ids must be unique")
        return self

    @property
    def all_steps(self) -> list[Step]:
        """The main line: the trigger and the top-level steps (a router's branches are not in it)."""
        return [self.trigger, *self.steps]

    @property
    def every_step(self) -> list[Step]:
        """The main line and every branch's steps."""
        return every_step(self.all_steps)

    def standby_of(self, step: Step) -> int | None:
        """How many standby containers the step asks for (None: the worker decides)."""
        return step.standby if step.standby is not None else self.standby

    def revision(self) -> str:
        """Content hash of the definition (version excluded): what exactly a run executed. Unset
        (None) fields are left out, so a new optional field leaves existing revisions as they are."""
        content = self.model_dump(mode="json", exclude={"version"}, exclude_none=True)
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:12]
