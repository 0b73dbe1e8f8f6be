"""GET /healthz: 200 when Temporal answers and the database reads, 503 saying which does not."""

import asyncio
from datetime import timedelta

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.errors import TemporalUnavailable
from api.services import Services, services

router = APIRouter(tags=["health"])
PROBE_TIMEOUT = timedelta(seconds=3)


@router.get("/healthz")
async def healthz(app: Services = Depends(services)) -> JSONResponse:
    checks = {"temporal": await _temporal(app), "db": await _db(app)}
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ok" if healthy else "unhealthy", **checks}, status_code=200 if healthy else 503)


async def _temporal(app: Services) -> str:
    try:
        client = await app.client()
        serving = await client.service_client.check_health(timeout=PROBE_TIMEOUT)
    except TemporalUnavailable as exc:
        return f"Temporal at {app.settings.temporal_address} is not reachable: {exc.reason}"
    except Exception as exc:  # any transport failure means "not reachable"; say which
        return f"Temporal at {app.settings.temporal_address} does not answer: {exc}"
    return "ok" if serving else f"Temporal at {app.settings.temporal_address} answers but is not serving"


async def _db(app: Services) -> str:
    try:
        await asyncio.to_thread(app.store.ping)
    except Exception as exc:  # sqlite3.Error, or the file/folder gone: report, do not crash the probe
        return f"database {app.settings.db_path} cannot be read: {exc}"
    return "ok"
