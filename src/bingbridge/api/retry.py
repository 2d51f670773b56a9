"""The one place that decides whether a failed call is tried again, and after how long."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bingbridge.errors import ApiError, AuthenticationError, RetriableError, ThrottledError
from bingbridge.settings import Settings

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0


@dataclass(frozen=True)
class Retry:
    """Try again after `delay` seconds; first get a new access token if `refresh_token`."""

    delay: float
    refresh_token: bool = False


def next_step(
    error: ApiError,
    *,
    attempt: int,
    token_refreshed: bool,
    settings: Settings,
    rng: random.Random | None = None,
    backoff_cap: float = BACKOFF_CAP_SECONDS,
) -> Retry | None:
    """Decide what to do after `error` on try number `attempt` (0-based); None means give up.

    `backoff_cap` bounds the exponential backoff: a call waits at most a minute; the dispatch worker, riding out
    outages of hours, waits longer between tries.

    - 109 AuthenticationTokenExpired: refresh the token once, then retry at once.
    - 117 CallRateExceeded: wait out the throttle window (60 s by default).
    - 4204 bulk limit: wait (up to 15 minutes by default).
    - HTTP 429: honour Retry-After, else back off.
    - 5xx, 0 InternalError, connection errors: exponential backoff with full jitter, capped.
    - everything else surfaces at once.
    """
    if isinstance(error, AuthenticationError):
        if 109 in error.codes and not token_refreshed:
            return Retry(delay=0.0, refresh_token=True)
        return None
    if not isinstance(error, RetriableError) or attempt >= settings.max_retries:
        return None
    if isinstance(error, ThrottledError):
        if 4204 in error.codes:
            return Retry(delay=settings.bulk_throttle_wait_seconds)
        if 117 in error.codes:
            return Retry(delay=settings.throttle_wait_seconds)
        if error.retry_after is not None:
            return Retry(delay=error.retry_after)
    return Retry(delay=backoff(attempt, rng, cap=backoff_cap))


def backoff(attempt: int, rng: random.Random | None = None, *, cap: float = BACKOFF_CAP_SECONDS) -> float:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""
    ceiling = min(cap, BACKOFF_BASE_SECONDS * 2 ** min(attempt, 64))
    return (rng or random).uniform(0, ceiling)
