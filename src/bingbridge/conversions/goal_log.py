"""A local record of the goals bingbridge created, so an upload can warn about goals still settling.

Microsoft does not report when a goal was created, yet data sent in the first 2 hours may not be applied (5615).
Keeping ids and creation times locally is also what Microsoft's services protocol recommends ("maintain a local
store of your account and campaign entities").
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path


class GoalLog:
    """A small JSON file: account id -> goal name (lower case) -> id and creation time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, dict[str, dict[str, str | int | None]]]:
        try:
            return dict(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return {}

    def remember(self, account_id: int, goal_id: int | None, name: str, created_at: datetime) -> None:
        data = self._read()
        data.setdefault(str(account_id), {})[name.lower()] = {"id": goal_id, "created_at": created_at.isoformat()}
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.path)

    def created_at(self, account_id: int, name: str) -> datetime | None:
        entry = self._read().get(str(account_id), {}).get(name.lower())
        return datetime.fromisoformat(str(entry["created_at"])) if entry else None


def goal_log_for(token_file: Path) -> GoalLog:
    """The goal log kept next to the token file."""
    return GoalLog(token_file.parent / "goals.json")
