"""Progress bars for `metrics import` on a terminal (rich); nothing is drawn when output is not a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bingbridge.metrics.importer import AccountPlan


class RichProgress:
    """One bar per account: states while the report is prepared, then rows loaded against the expected days."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[int, Any] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def planned(self, plans: Sequence[AccountPlan]) -> None:
        for plan in plans:
            label = f"{plan.name[:32]:32} {plan.start}..{plan.end}"
            # The total is in days until the file arrives; then it becomes the rows of the report.
            self._tasks[plan.account_id] = self._progress.add_task(label, total=plan.days, state="planned")

    def update(self, plan: AccountPlan, state: str, rows: int = 0) -> None:
        task = self._tasks.get(plan.account_id)
        if task is None:
            return
        if state in ("loading", "loaded") and rows:
            self._progress.update(task, completed=rows, total=max(rows, plan.days), state=state)
        elif state in ("loaded", "no data", "failed") or state.startswith("resumed ("):
            total = self._progress.tasks[task].total or 1
            self._progress.update(task, completed=total, state=state)
        else:
            self._progress.update(task, state=state)
