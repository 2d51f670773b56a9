"""The terminal progress display follows every state an account goes through."""

from __future__ import annotations

import datetime as dt

from bingbridge.metrics.importer import AccountPlan
from bingbridge.metrics.progress import RichProgress


def test_progress_accepts_every_state() -> None:
    plan = AccountPlan(
        111, 9, "Contoso", "PacificTimeUSCanadaTijuana", dt.date(2026, 3, 10), dt.date(2026, 3, 1), dt.date(2026, 3, 9)
    )
    with RichProgress() as progress:
        progress.planned([plan])
        for state in ("submitted", "pending", "resumed", "downloading"):
            progress.update(plan, state)
        progress.update(plan, "loading", 40)
        progress.update(plan, "loaded", 81)
        task = progress._progress.tasks[0]
        assert (task.completed, task.total, task.fields["state"]) == (81, 81, "loaded")


def test_many_accounts_share_one_bar_of_accounts_done() -> None:
    plans = [
        AccountPlan(i, 9, f"A{i}", "PacificTimeUSCanadaTijuana", dt.date(2026, 3, 10), dt.date(2026, 3, 1),
                    dt.date(2026, 3, 9))
        for i in range(1, 101)
    ]  # fmt: skip
    with RichProgress() as progress:
        progress.planned(plans)
        for plan in plans[:60]:
            progress.update(plan, "submitted")
            progress.update(plan, "loaded", 10)
        (task,) = progress._progress.tasks
        assert (task.completed, task.total) == (60, 100)
