"""The per-flow rate limit (api/rate_limits.py) on a clock the test moves: a burst, then the
sustained rate, shared by two instances on one database as two API processes would share it."""

from pathlib import Path

from api.rate_limits import RateLimits
from flows.model import RateLimit

T0 = 1_800_000_000.0


def test_a_burst_then_the_sustained_rate(tmp_path: Path) -> None:
    limits = RateLimits(tmp_path / "conflux.db")
    limit = RateLimit(per_second=2, burst=4)
    assert [limits.admit("f", limit, T0) for _ in range(4)] == [0.0] * 4
    assert limits.admit("f", limit, T0) == 0.5, "the next one in half a second (2 per second)"
    assert limits.admit("f", limit, T0 + 0.5) == 0.0
    assert limits.admit("f", limit, T0 + 0.5) == 0.5
    assert [limits.admit("f", limit, T0 + 10) for _ in range(5)] == [0.0] * 4 + [0.5], "a quiet spell refills the burst"


def test_two_api_processes_share_one_limit_and_flows_do_not(tmp_path: Path) -> None:
    first, second = RateLimits(tmp_path / "conflux.db"), RateLimits(tmp_path / "conflux.db")
    limit = RateLimit(per_second=1)  # burst: one second's worth
    assert limit.burst_size == 1
    assert first.admit("f", limit, T0) == 0.0
    assert second.admit("f", limit, T0) == 1.0
    assert second.admit("other", limit, T0) == 0.0
    assert first.admit("f", limit, T0 + 1) == 0.0
