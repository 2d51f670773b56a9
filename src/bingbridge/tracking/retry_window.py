"""How long the worker keeps retrying a conversion whose calls fail, before the dead-letter queue.

A row is retried, with the destination's capped backoff between calls, until the earlier of
- its retry window after it was queued (`window`, 72 hours by default: a weekend's outage), and
- its conversion time plus the channel's age limit (`max_age`): Microsoft refuses offline conversions older than
  90 days (5609) and UET Conversions API events older than 7 days, so retrying past that only spends calls.
The caller passes the channel's `max_age`; nothing here is specific to one channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bingbridge.conversions.contract import OFFLINE_WINDOW

DEFAULT_RETRY_WINDOW = timedelta(hours=72)
# The longest wait between two calls of a destination whose calls fail (5xx, connection errors): short enough to
# resume within minutes of Microsoft's return, long enough to spend few calls of the hourly budget on an outage.
RETRY_BACKOFF_CAP_SECONDS = 300.0


@dataclass(frozen=True)
class RetryWindow:
    """When a failing row stops being retried: `window` after it was queued, or when it grows older than `max_age`."""

    window: timedelta = DEFAULT_RETRY_WINDOW
    max_age: timedelta = OFFLINE_WINDOW

    def __post_init__(self) -> None:
        if self.window < timedelta(0) or self.max_age <= timedelta(0):
            raise ValueError(f"the retry window must be 0 or more and max_age positive, got {self}")

    def deadline(self, queued_at: datetime, occurred_at: datetime) -> datetime:
        return min(queued_at + self.window, occurred_at + self.max_age)

    def gives_up(self, queued_at: datetime, occurred_at: datetime, retry_at: datetime) -> bool:
        """Whether a row failing now would only be retried after its deadline: then it is dead-lettered."""
        return retry_at >= self.deadline(queued_at, occurred_at)
