"""The daily schedule: when the next run is, and a loop that survives a failing run."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from bingbridge.metrics.schedule import next_run, run_daily

UTC = dt.UTC


def test_next_run_is_later_today_before_the_time() -> None:
    assert next_run(dt.datetime(2026, 3, 1, 5, 0, tzinfo=UTC)) == dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def test_next_run_is_tomorrow_after_the_time() -> None:
    assert next_run(dt.datetime(2026, 3, 1, 6, 0, 1, tzinfo=UTC)) == dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_next_run_at_the_exact_time_is_now() -> None:
    now = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    assert next_run(now) == now


def test_next_run_in_a_local_zone_across_daylight_saving() -> None:
    paris = ZoneInfo("Europe/Paris")
    # The night clocks go forward (29 March 2026): 06:00 Paris is 04:00 UTC, the day before it was 05:00 UTC.
    got = next_run(dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC), dt.time(6, 0), paris)
    assert got.astimezone(UTC) == dt.datetime(2026, 3, 29, 4, 0, tzinfo=UTC)


def test_run_daily_runs_each_day_and_survives_a_failure() -> None:
    moments = [dt.datetime(2026, 3, 1, 23, 0, tzinfo=UTC)]
    waits: list[float] = []
    calls: list[dt.datetime] = []

    def clock() -> dt.datetime:
        return moments[-1]

    def sleep(seconds: float) -> bool:
        waits.append(seconds)
        moments.append(moments[-1] + dt.timedelta(seconds=seconds))
        return False

    def job() -> None:
        calls.append(clock())
        if len(calls) == 1:
            raise RuntimeError("Microsoft is down")

    assert run_daily(job, clock=clock, sleep=sleep, max_runs=2) == 2
    assert calls == [dt.datetime(2026, 3, 2, 6, 0, tzinfo=UTC), dt.datetime(2026, 3, 3, 6, 0, tzinfo=UTC)]
    assert waits[0] == 7 * 3600
