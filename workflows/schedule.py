"""When the next poll is due: an interval or a cron expression, computed from workflow time."""

from datetime import datetime, timedelta

from croniter import croniter

from flows.model import Trigger


def next_poll_at(trigger: Trigger, last_started: datetime | None, now: datetime) -> datetime:
    """The first poll runs at once; after that every ``interval`` from the last start (a slow poll
    is followed at once by the next, never overlapped), or at the cron expression's next time."""
    if trigger.cron:
        return croniter(trigger.cron, now).get_next(datetime)
    if last_started is None:
        return now
    return max(now, last_started + timedelta(seconds=trigger.interval or 60))
