"""Progress bars for `metrics import` on a terminal (rich); nothing is drawn when output is not a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bingbridge.metrics.importer import AccountPlan

# Above this many accounts one bar counts the accounts done (a thousand bars would not fit a terminal).
MAX_BARS = 20
_DONE = ("loaded", "no data", "failed")


class RichProgress:
    """One bar per account: states while the report is prepared, then rows loaded against the expected days.
    For more than MAX_BARS accounts, one bar of accounts done."""

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
        self._overall: Any = None
        self._done: set[int] = set()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def planned(self, plans: Sequence[AccountPlan]) -> None:
        if len(plans) > MAX_BARS:
            self._overall = self._progress.add_task(f"{len(plans)} accounts", total=len(plans), state="planned")
            return
        for plan in plans:
            label = f"{plan.name[:32]:32} {plan.start}..{plan.end}"
            # The total is in days until the file arrives; then it becomes the rows of the report.
            self._tasks[plan.account_id] = self._progress.add_task(label, total=plan.days, state="planned")

    def update(self, plan: AccountPlan, state: str, rows: int = 0) -> None:
        if self._overall is not None:
            if state in _DONE or state.startswith("resumed ("):
                self._done.add(plan.account_id)
            self._progress.update(self._overall, completed=len(self._done), state=state)
            return
        task = self._tasks.get(plan.account_id)
        if task is None:
            return
        if state in ("loading", "loaded") and rows:
            self._progress.update(task, completed=rows, total=max(rows, plan.days), state=state)
        elif state in _DONE or state.startswith("resumed ("):
            total = self._progress.tasks[task].total or 1
            self._progress.update(task, completed=total, state=state)
        else:
            self._progress.update(task, state=state)
