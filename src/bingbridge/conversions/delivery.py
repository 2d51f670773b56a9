"""The one batch sender of conversions: a call per batch of items, an outcome per item, and which failures stop
the next batches. `conversions upload` streams rows through a `Batcher`; the dispatch worker sends each claimed
batch with `send_batch`. Both read the same outcomes.

An item ends `accepted` (the call was answered and named no error for it), `refused` (the answer named its errors:
sending it again cannot succeed) or `not_sent` (the whole call failed; the call's error says whether trying later
can help).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

from bingbridge.api.campaign_management import ItemResult
from bingbridge.errors import (
    ApiError,
    AuthenticationError,
    ConfigurationError,
    ErrorDetail,
    OAuthError,
    PermissionDeniedError,
)

Item = TypeVar("Item")
Key = TypeVar("Key")
Send = Callable[[list[Item]], list[ItemResult[None]]]
# Failures of the credentials, not of the items: every next call would fail the same way.
CREDENTIAL_ERRORS = (AuthenticationError, PermissionDeniedError, OAuthError, ConfigurationError)
CallError = ApiError | OAuthError | ConfigurationError


@dataclass(frozen=True)
class ItemOutcome:
    """What one call did to one item; `error` is the whole call's when it was `not_sent`."""

    status: Literal["accepted", "refused", "not_sent"]
    errors: list[ErrorDetail] = field(default_factory=list)
    error: CallError | None = None
    tracking_id: str | None = None

    @property
    def reason(self) -> str | None:
        if self.error is not None:
            return str(self.error)
        return "; ".join(e.message or e.error_code or str(e.code) for e in self.errors) or None


@dataclass(frozen=True)
class Delivery:
    """One call: the outcome of each item in order, and the call's error when it failed as a whole."""

    outcomes: list[ItemOutcome]
    error: CallError | None = None

    @property
    def tracking_id(self) -> str | None:
        if isinstance(self.error, ApiError):
            return self.error.tracking_id
        return next((o.tracking_id for o in self.outcomes if o.tracking_id), None)

    @property
    def answered(self) -> bool:
        return self.error is None


def stops_delivery(error: Exception | None) -> bool:
    """True when the next calls with the same credentials would fail the same way."""
    return isinstance(error, CREDENTIAL_ERRORS)


def not_sent(count: int, error: CallError) -> Delivery:
    tracking_id = error.tracking_id if isinstance(error, ApiError) else None
    return Delivery([ItemOutcome("not_sent", error=error, tracking_id=tracking_id) for _ in range(count)], error)


def send_batch(send: Send[Item], items: Sequence[Item]) -> Delivery:
    """One call carrying `items`; never raises for a failure Microsoft (or the token endpoint) reported."""
    try:
        results = send(list(items))
    except (ApiError, OAuthError, ConfigurationError) as exc:
        return not_sent(len(items), exc)
    return Delivery(
        [ItemOutcome("accepted" if r.ok else "refused", errors=r.errors, tracking_id=r.tracking_id) for r in results]
    )


class Batcher(Generic[Key, Item]):
    """Collects keyed items and sends every `limit` of them; `settle(keys, delivery, call_number)` records each
    call. After a credentials failure the later batches are not sent: they settle as not_sent with that error."""

    def __init__(self, send: Send[Item], limit: int, settle: Callable[[list[Key], Delivery, int], None]) -> None:
        self.send = send
        self.limit = limit
        self.settle = settle
        self.calls = 0
        self.pending: list[tuple[Key, Item]] = []
        self.fatal: CallError | None = None

    def add(self, key: Key, item: Item) -> None:
        self.pending.append((key, item))
        if len(self.pending) == self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        batch, self.pending = self.pending, []
        keys = [k for k, _ in batch]
        if self.fatal is not None:
            self.settle(keys, not_sent(len(batch), self.fatal), self.calls + 1)
            return
        self.calls += 1
        delivery = send_batch(self.send, [item for _, item in batch])
        if stops_delivery(delivery.error):
            self.fatal = delivery.error
        self.settle(keys, delivery, self.calls)
