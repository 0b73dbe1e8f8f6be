"""Paging errors that come from two places (failed flow runs in Temporal's visibility store, a
real-time flow's recent failures in its workflow) as one list, newest first.

The page token is a position in time, not Temporal's own token: ``before`` (nothing newer is
left to show) and ``skip`` (how many errors at exactly ``before`` were shown already). Both
sources can be asked for "at or before a time", so a page merges them correctly, and errors
that arrive meanwhile do not shift the pages still to come.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from api.opaque_ids import decode_opaque, encode_opaque

Item = TypeVar("Item")


@dataclass(frozen=True)
class Cursor:
    before: datetime
    skip: int = 0


@dataclass(frozen=True)
class Dated(Generic[Item]):
    """An error with its time and a tie-break that orders errors of the same time the same way
    on every request (a run's failures in their order)."""

    at: datetime
    order: tuple[str, str, int]
    item: Item


class BadPageToken(ValueError):
    pass


def encode_cursor(cursor: Cursor) -> str:
    return encode_opaque([cursor.before.isoformat(), cursor.skip])


def decode_cursor(token: str) -> Cursor:
    try:
        before, skip = decode_opaque(token)
        cursor = Cursor(datetime.fromisoformat(before), int(skip))
    except (ValueError, TypeError):
        raise BadPageToken("the pageToken is not one this API gave out; start again without it") from None
    if cursor.before.tzinfo is None or cursor.skip < 0:
        raise BadPageToken("the pageToken is not one this API gave out; start again without it")
    return cursor


def newest_first(found: list[Dated[Item]]) -> list[Dated[Item]]:
    return sorted(sorted(found, key=lambda dated: dated.order), key=lambda dated: dated.at, reverse=True)


def take_page(found: list[Dated[Item]], cursor: Cursor | None, limit: int) -> tuple[list[Item], Cursor | None]:
    """One page of ``found`` (every error at or before the cursor, or enough of the newest of them:
    at least skip + limit + 1 when more exist) and the cursor of the next page (None: no more)."""
    ordered = newest_first([dated for dated in found if cursor is None or dated.at <= cursor.before])
    skip = 0
    if cursor is not None:
        at_before = sum(1 for dated in ordered if dated.at == cursor.before)
        skip = min(cursor.skip, at_before)
    rest = ordered[skip:]
    page = rest[:limit]
    if len(rest) <= limit or not page:
        return [dated.item for dated in page], None
    last = page[-1].at
    shown = sum(1 for dated in page if dated.at == last)
    if cursor is not None and last == cursor.before:
        shown += skip
    return [dated.item for dated in page], Cursor(before=last, skip=shown)
