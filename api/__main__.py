"""``python -m api``: serve the API with uvicorn on CONFLUX_HOST:CONFLUX_PORT."""

import uvicorn

from api.app import create_app
from api.settings import ApiSettings
from conflux.logs import configure_logging
from conflux.tracing import configure_tracing


def main() -> None:
    """Logging is ours (CONFLUX_LOG_FORMAT), uvicorn's lines included: its own config is not used.
    Traces only when configured (OTEL_*, docs/observability.md)."""
    settings = ApiSettings()
    configure_logging(settings.log_format)
    configure_tracing("conflux-api")
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=settings.access_log,
                log_config=None)


if __name__ == "__main__":
    main()
