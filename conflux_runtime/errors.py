"""Exceptions a component author raises, and the runtime's own."""


class Rebound(Exception):
    """Raise for a temporary failure (target API down): the platform retries later with backoff."""

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class ComponentError(Exception):
    """The component itself is unusable (bad descriptor, missing module or function)."""
