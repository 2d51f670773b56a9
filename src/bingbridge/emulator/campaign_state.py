"""The emulator's Campaign Management world: conversion goals, UET tags (and their Conversions API tokens and
events), account properties, ad clicks and the conversions uploaded.

Goals are kept per customer and seen per account (Scope Account: only the account that created the goal; Scope
Customer: every account of the customer). UET tags belong to a customer. Clicks are seeded per account so the
click-time rules of ApplyOfflineConversions (5616, 5617) can be exercised against known MSCLKIDs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bingbridge.api.models import campaign as m

CLICKS_PER_ACCOUNT = 300
CLICK_HISTORY = timedelta(days=100)


@dataclass
class StoredGoal:
    """A conversion goal as Microsoft keeps it: defaults filled in, Id and Type set."""

    goal: m.ConversionGoal
    customer_id: int
    # The account whose CustomerAccountId header created the goal; the only one that sees it when Scope is Account.
    account_id: int
    created_at: datetime

    @property
    def id(self) -> int:
        assert self.goal.id is not None
        return self.goal.id

    def visible_to(self, account_id: int, customer_id: int) -> bool:
        if self.customer_id != customer_id:
            return False
        return self.goal.scope == "Customer" or self.account_id == account_id


@dataclass
class StoredTag:
    tag: m.UetTag
    customer_id: int

    @property
    def id(self) -> int:
        assert self.tag.id is not None
        return self.tag.id


@dataclass(frozen=True)
class Click:
    """An ad click the emulator issued: its MSCLKID (32 lower-case hex digits), when and in which account."""

    microsoft_click_id: str
    click_time: datetime
    account_id: int

    def to_json(self) -> dict[str, str]:
        return {
            "MicrosoftClickId": self.microsoft_click_id,
            "ClickTime": _time_json(self.click_time),
            "AccountId": str(self.account_id),
        }


@dataclass(frozen=True)
class Accepted:
    """An uploaded conversion or adjustment the emulator accepted, with where and when it arrived."""

    item: m.OfflineConversion | m.OfflineConversionAdjustment
    account_id: int
    goal_id: int
    received_at: datetime

    def to_json(self) -> dict[str, Any]:
        """Microsoft's field names, plus AccountId, ConversionGoalId and ReceivedTime (the emulator's own)."""
        return {
            **self.item.to_wire(),
            "AccountId": str(self.account_id),
            "ConversionGoalId": str(self.goal_id),
            "ReceivedTime": _time_json(self.received_at),
        }


def _time_json(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def new_click_id(rng: random.Random) -> str:
    """An MSCLKID as Microsoft writes it: a GUID as 32 lower-case hex digits without dashes."""
    return f"{rng.getrandbits(128):032x}"


@dataclass
class CampaignState:
    """Goals, tags, clicks, and the conversions and adjustments accepted so far."""

    new_id: Callable[[], int]
    goals: dict[int, StoredGoal] = field(default_factory=dict)
    tags: dict[int, StoredTag] = field(default_factory=dict)
    clicks: dict[str, Click] = field(default_factory=dict)
    conversions: list[Accepted] = field(default_factory=list)
    adjustments: list[Accepted] = field(default_factory=list)
    # (goal id, click id or hashed identity, conversion time): Microsoft keeps the first such conversion only.
    conversion_keys: set[tuple[object, ...]] = field(default_factory=set)
    # The UET Conversions API: token -> UET tag id, events accepted as received, (tag, eventId, eventName) counted.
    capi_tokens: dict[str, int] = field(default_factory=dict)
    uet_events: list[dict[str, Any]] = field(default_factory=list)
    uet_event_keys: set[tuple[int, str, str]] = field(default_factory=set)
    # Account properties (GetAccountProperties / SetAccountProperties) by account id, then property name.
    account_properties: dict[int, dict[str, str]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)

    @classmethod
    def seeded(
        cls, seed: int, account_ids: Iterable[int], new_id: Callable[[], int], now: datetime | None = None
    ) -> CampaignState:
        """A state with CLICKS_PER_ACCOUNT clicks per account spread over the last 100 days.

        The click ids and their ages are a function of `seed` alone (its own generator, so the rest of the
        emulator's ids do not move); the times are relative to `now`, the emulator's start.
        """
        rng = random.Random(f"bingbridge-clicks-{seed}")
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        state = cls(new_id=new_id, rng=rng)
        span = int(CLICK_HISTORY.total_seconds())
        for account_id in account_ids:
            for _ in range(CLICKS_PER_ACCOUNT):
                click = Click(new_click_id(rng), now - timedelta(seconds=rng.randrange(span)), account_id)
                state.clicks[click.microsoft_click_id] = click
        return state

    def add_click(self, account_id: int, click_time: datetime, click_id: str | None = None) -> Click:
        click = Click((click_id or new_click_id(self.rng)).lower(), click_time, account_id)
        self.clicks[click.microsoft_click_id] = click
        return click

    def clicks_of(self, account_id: int | None) -> list[Click]:
        found = [c for c in self.clicks.values() if account_id is None or c.account_id == account_id]
        return sorted(found, key=lambda c: (c.account_id, c.click_time))

    def goals_of_customer(self, customer_id: int) -> list[StoredGoal]:
        return [g for g in self.goals.values() if g.customer_id == customer_id]

    def visible_goals(self, account_id: int, customer_id: int) -> list[StoredGoal]:
        return [g for g in self.goals.values() if g.visible_to(account_id, customer_id)]

    def tags_of(self, customer_id: int) -> list[StoredTag]:
        return [t for t in self.tags.values() if t.customer_id == customer_id]
