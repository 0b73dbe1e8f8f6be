"""The demo endpoints the example flows talk to, served by the local stack on loopback.

- ``GET /enrich/{customer}``: a customer's tier, as a CRM would answer;
- ``POST /sink`` / ``GET /sink``: where the example flows deliver, and what arrived;
- ``GET /records?since=…`` / ``POST /records``: a record source with updated-at timestamps for the
  polling example (POST adds a record, stamped now).
"""

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query

TIERS = {"acme": "gold", "globex": "silver"}


def create_demo_app() -> FastAPI:
    app = FastAPI(title="Conflux demo endpoints")
    lock = threading.Lock()
    delivered: list[Any] = []
    records: list[dict[str, Any]] = []

    @app.get("/enrich/{customer}")
    def enrich(customer: str) -> dict[str, Any]:
        return {"customer": customer, "tier": TIERS.get(customer.lower(), "bronze")}

    @app.post("/sink")
    def sink(item: Annotated[Any, Body()] = None) -> dict[str, Any]:
        with lock:
            delivered.append(item)
            return {"received": len(delivered)}

    @app.get("/sink")
    def sink_contents() -> dict[str, Any]:
        with lock:
            return {"count": len(delivered), "items": delivered[-100:]}

    @app.post("/records")
    def add_record(record: dict[str, Any]) -> dict[str, Any]:
        with lock:
            stamped = {"id": len(records) + 1, **record, "updated_at": _now()}
            records.append(stamped)
            return stamped

    @app.get("/records")
    def list_records(since: Annotated[str | None, Query()] = None) -> list[dict[str, Any]]:
        with lock:
            return [r for r in records if since is None or r["updated_at"] >= since]

    return app


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
