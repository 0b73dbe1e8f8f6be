"""What a runner needs to know to start one step container."""

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field


class ContainerSpec(BaseModel):
    image: str
    component_dir: Path | None = Field(default=None, description="used by the process runner instead of the image")
    network: Literal["none", "host"] = "none"
    memory_mb: int = 256
    cpus: float = 1.0
    pids_limit: int = 256
    labels: dict[str, str] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    name_hint: str = "step"
    command: list[str] | None = Field(default=None, description="replaces the runtime's entry point (debugging, tests)")

    def describe(self) -> str:
        return f"{self.name_hint} ({self.image})"
