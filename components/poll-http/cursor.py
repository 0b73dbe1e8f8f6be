"""The poll position: which records are new, and where the next poll starts.

The snapshot is ``{"since": T, "ids_at_since": [...]}``: the greatest timestamp delivered, as
the source wrote it, and the ids of the records already delivered with exactly that timestamp.
A record is new if its timestamp is later than ``since``, or equal to it with an id not seen;
so a record sharing the boundary timestamp is neither skipped nor delivered twice, provided the
source answers ``since`` inclusively (timestamp >= since).
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from timestamps import Key, check_same_kind, key_of


@dataclass
class Cursor:
    since: Any = None
    ids_at_since: list[Any] = field(default_factory=list)

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> "Cursor":
        return cls(snapshot.get("since"), list(snapshot.get("ids_at_since") or []))

    def to_snapshot(self) -> dict[str, Any]:
        return {"since": self.since, "ids_at_since": self.ids_at_since}


@dataclass
class Selection:
    records: list[dict[str, Any]]
    cursor: Cursor
    skipped: int  # records without a usable timestamp


def select_new(records: list[Any], cursor: Cursor, timestamp_field: str, id_field: str) -> Selection:
    """The records after the cursor in timestamp order (stable), and the cursor after them."""
    since_key = key_of(cursor.since, "snapshot 'since'") if cursor.since is not None else None
    seen = {_hashable(i) for i in cursor.ids_at_since}
    fresh: list[tuple[Key, Any, dict[str, Any]]] = []
    skipped = 0
    for record in records:
        if not isinstance(record, dict) or record.get(timestamp_field) is None:
            skipped += 1
            continue
        key = key_of(record[timestamp_field], f"record field '{timestamp_field}'")
        if since_key is not None:
            check_same_kind(key, since_key, timestamp_field)
        identity = record_id(record, id_field)
        if since_key is not None and (key < since_key or (key == since_key and _hashable(identity) in seen)):
            continue
        if fresh:
            check_same_kind(key, fresh[0][0], timestamp_field)
        fresh.append((key, identity, record))
    fresh = _without_repeats(sorted(fresh, key=lambda entry: entry[0]))
    return Selection([record for _, _, record in fresh], _advanced(cursor, since_key, fresh, timestamp_field), skipped)


def record_id(record: dict[str, Any], id_field: str) -> Any:
    """The record's id; without one, a fingerprint of its content stands in."""
    if record.get(id_field) is not None:
        return record[id_field]
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _advanced(cursor: Cursor, since_key: Key | None, fresh: list[tuple[Key, Any, dict[str, Any]]],
              timestamp_field: str) -> Cursor:
    if not fresh:
        return cursor
    last_key = fresh[-1][0]
    at_last = [identity for key, identity, _ in fresh if key == last_key]
    if last_key == since_key:
        return Cursor(cursor.since, cursor.ids_at_since + at_last)
    return Cursor(fresh[-1][2][timestamp_field], at_last)


def _without_repeats(entries: list[tuple[Key, Any, dict[str, Any]]]) -> list[tuple[Key, Any, dict[str, Any]]]:
    """A source that lists one record twice in one answer delivers it once."""
    seen: set[tuple[Key, Any]] = set()
    unique = []
    for key, identity, record in entries:
        if (key, _hashable(identity)) not in seen:
            seen.add((key, _hashable(identity)))
            unique.append((key, identity, record))
    return unique


def _hashable(identity: Any) -> Any:
    """Ids are JSON values; a list or object id is compared by its JSON text."""
    if isinstance(identity, (dict, list)):
        return json.dumps(identity, sort_keys=True)
    return identity
