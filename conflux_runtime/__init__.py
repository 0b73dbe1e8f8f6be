"""Conflux in-container component runtime (standard library only).

Copy this package into any image that has python3 and run ``python3 -m conflux_runtime DIR``
where DIR holds the component's ``component.json``. The wire contract is docs/step-protocol.md.
Component authors import only :class:`Rebound` (and, for type hints, :class:`Emitter`).
"""

from conflux_runtime.emitter import Emitter
from conflux_runtime.errors import ComponentError, Rebound

PROTOCOL_VERSION = 1
RUNTIME_VERSION = "0.2.2"

__all__ = ["PROTOCOL_VERSION", "RUNTIME_VERSION", "ComponentError", "Emitter", "Rebound"]
