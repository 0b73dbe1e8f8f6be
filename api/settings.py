"""API settings: the platform's (``CONFLUX_*``) plus what only the HTTP service needs."""


from pydantic import Field

from conflux.settings import PlatformSettings

MIB = 1024 * 1024


class ApiSettings(PlatformSettings):
    """Every field reads ``CONFLUX_<NAME>`` from the environment, e.g. ``CONFLUX_DB_PATH``."""

    max_body_bytes: int = Field(default=10 * MIB, ge=1, description="largest webhook/execution body accepted")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    api_auth: bool = Field(default=True, description=(
        "every route but /healthz, the webhooks and the docs needs a bearer token (api/tokens.py); false: none "
        "does (tests, benchmarks)"))
    access_log: bool = Field(default=False, description="log every request (costs a tenth of intake's speed)")
    realtime_gather_ms: float = Field(default=2.0, ge=0, le=1000,
                                      description="real-time flows: how long requests are gathered into one signal")
    realtime_max_batch: int = Field(default=200, ge=1, le=5000, description="real-time flows: messages per signal")
    direct_starts: int = Field(default=4, ge=0, le=1000, description=(
        "ordinary flows: runs this API process starts itself at once; beyond that, webhook messages wait in "
        "the flow's intake workflow (batched signals) and their runs start from there (0: always)"))
    realtime_max_history_events: int | None = Field(
        default=None, ge=100, description="real-time flows: continue-as-new past this many events (default: when "
                                          "Temporal suggests it)")
    component_call_timeout: float = Field(default=60.0, gt=0, le=600, description=(
        "seconds a credential check or a metadata request waits for a worker to answer it from a container "
        "(docs/security.md); then 504"))
    codec_auth: bool = Field(default=True, description=(
        "/codec/encode and /codec/decode want an API token (decode: read, encode: write); false: open to whoever "
        "reaches the API (the dev server's Temporal UI sends no token; the local stack, on loopback, sets this)"))
    codec_cors_origins: list[str] = Field(
        default=["http://127.0.0.1:8233", "http://localhost:8233"], description=(
            "browser origins allowed to call /codec/encode and /codec/decode: the Temporal UI's (a JSON list)"))
