"""``python -m api``: serve the API with uvicorn on CONFLUX_HOST:CONFLUX_PORT."""

import uvicorn

from api.app import create_app
from api.settings import ApiSettings


def main() -> None:
    settings = ApiSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=settings.access_log)


if __name__ == "__main__":
    main()
