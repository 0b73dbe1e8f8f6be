"""Makes record timestamps comparable: numbers as numbers, ISO-8601 strings as UTC instants.

Two spellings of one instant (``2024-05-01T12:00:00+02:00`` and ``2024-05-01T10:00:00Z``) must
compare equal, or a boundary record would be fetched twice; so strings are parsed, never
compared as text. A naive ISO string is taken as UTC.
"""

from datetime import UTC, datetime
from typing import Any

Key = float | datetime


class TimestampError(Exception):
    """A timestamp that is neither a number nor an ISO-8601 string, or kinds that do not mix."""


def key_of(value: Any, where: str) -> Key:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TimestampError(f"{where}: {value!r} is not an ISO-8601 timestamp "
                                 "(e.g. 2024-05-01T10:00:00Z)") from None
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(UTC)
    raise TimestampError(f"{where}: {value!r} is not a timestamp (expected an ISO-8601 string or a number)")


def check_same_kind(first: Key, second: Key, field: str) -> None:
    if isinstance(first, datetime) != isinstance(second, datetime):
        raise TimestampError(
            f"'{field}' mixes numbers and ISO strings ({first!r} vs {second!r}); "
            "the source must use one kind, or reset the step's snapshot after changing it"
        )
