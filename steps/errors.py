"""Why a step container failed, as a small hierarchy the activities map onto Temporal retries."""


class StepFailure(Exception):
    """A step could not be run to its end. ``retryable`` says whether trying again may help."""

    retryable = True

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class ImageNotFound(StepFailure):
    retryable = False


class ProtocolViolation(StepFailure):
    """The container wrote something on stdout that is not a protocol event."""

    retryable = False


class ComponentBroken(StepFailure):
    """The runtime could not load the component (``fatal`` at start)."""

    retryable = False


class PayloadTooLarge(StepFailure):
    retryable = False


class ContainerCrashed(StepFailure):
    """Exited non-zero, or before every request ended."""


class StepTimeout(StepFailure):
    """No end within the step's timeout; the container was killed."""


class RunnerUnavailable(StepFailure):
    """The Docker engine did not answer."""
