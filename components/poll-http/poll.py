"""Polling trigger: each poll emits the source's records added or changed since the last one.

Records are emitted in timestamp order, then exactly one snapshot with the advanced position
(see cursor.py), so a poll that fails midway is repeated from where the last one ended.
"""

from typing import Any

from cursor import Cursor, select_new
from fetch import SourceError, get_json, url_with
from http_helpers import header_config

DEFAULT_TIMEOUT = 30.0


def process(msg: dict[str, Any], cfg: dict[str, Any], snapshot: dict[str, Any], emit: Any) -> None:
    url = _required(cfg, "url")
    since_param = cfg.get("since_param") or "since"
    timestamp_field = cfg.get("timestamp_field") or "updated_at"
    id_field = cfg.get("id_field") or "id"
    cursor = Cursor.from_snapshot(snapshot)
    if cursor.since is not None:
        url = url_with(url, since_param, cursor.since)
    answer = get_json(url, header_config(cfg.get("headers")), float(cfg.get("timeout") or DEFAULT_TIMEOUT))
    selection = select_new(records_in(answer, cfg.get("records_path")), cursor, timestamp_field, id_field)
    if selection.skipped:
        emit.log.warning(f"{selection.skipped} record(s) without a '{timestamp_field}' were skipped")
    for record in selection.records:
        emit.data(record)
    if selection.records:
        emit.snapshot(selection.cursor.to_snapshot())
    emit.log.info(f"poll delivered {len(selection.records)} record(s)", since=selection.cursor.since)


def records_in(answer: Any, records_path: str | None) -> list[Any]:
    """The array of records: at ``records_path`` (dotted keys), else the answer or its 'records'."""
    if records_path:
        value = answer
        for key in records_path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        where = f"the response's '{records_path}'"
    elif isinstance(answer, dict):
        value, where = answer.get("records"), "the response's 'records'"
    else:
        value, where = answer, "the response"
    if not isinstance(value, list):
        raise SourceError(
            f"{where} is not an array of records (found {type(value).__name__}); "
            "set 'records_path' to the key that holds the array"
        )
    return value


def _required(cfg: dict[str, Any], key: str) -> str:
    value = cfg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"cfg '{key}' is required: the URL of the source, e.g. https://api.example.com/orders")
    return value.strip()
