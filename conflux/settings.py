"""Platform settings shared by the worker and the API (environment variables ``CONFLUX_*``)."""

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from conflux.logs import LogFormat

REPO_ROOT = Path(__file__).resolve().parent.parent


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONFLUX_")

    temporal_address: str = "127.0.0.1:7233"
    namespace: str = "default"
    task_queue: str = "conflux"
    temporal_ui_url: str = "http://127.0.0.1:8233"
    blob_dir: Path = REPO_ROOT / "var" / "blobs"
    db_path: Path = Field(default=REPO_ROOT / "var" / "conflux.db", description=(
        "the platform's SQLite database: the API's flows, secrets and tokens, and the credentials the worker "
        "reads and updates too (give both the same path)"))
    keys: str | None = Field(default=None, description=(
        "encryption keys, 'id:base64key' entries separated by commas, the active one first (conflux/keys.py); "
        "unset: the key file"))
    key_file: Path = Field(default=REPO_ROOT / "var" / "keys", description=(
        "encryption keys, one 'id base64key' line each, the active one first; created with one key if missing"))
    blob_threshold_bytes: int = 128 * 1024
    runner: Literal["auto", "docker", "process"] = "auto"
    component_dirs: list[Path] = []
    max_concurrent_activities: int = 20
    max_concurrent_workflow_tasks: int = 50
    graceful_shutdown_seconds: float = 30.0
    standby_containers: int = Field(default=2, ge=0, le=20, description=(
        "fresh containers each worker keeps started per step image of ordinary flows, each used for one run "
        "(0: off); a flow or step may set its own 'standby'"))
    standby_idle_seconds: float = Field(default=900.0, gt=0, description=(
        "an image no run asked for in this long gives its standby containers back"))
    log_format: LogFormat = Field(default="text", description=(
        "'json': one JSON object per log line with flow, version, step, message and execution ids "
        "(docs/observability.md)"))
    metrics_address: str | None = Field(default=None, description=(
        "worker: host:port where Conflux's own metrics are served at /metrics (unset: not served)"))
    temporal_metrics_address: str | None = Field(default=None, description=(
        "worker: host:port where the Temporal SDK's own metrics are served (unset: not served)"))
    metrics_refresh_seconds: float = Field(default=10.0, gt=0, description=(
        "worker: how often the real-time flows' waiting figures are read from their status"))
