"""Delivery channels of a destination: Offline Conversions (ApplyOfflineConversions) and the UET Conversions API.

Each channel is one class behind one interface: `decide` (at ingestion, once: send / skipped / blocked / failed,
never re-decided by the worker), `item` (the wire item of a decided event), `sender` (one call per batch of at most
`limit` items, answered per item) and the window and identities it needs. The order of a decision is the same for
every channel:

1. the destination's routing does not send this event name to the channel → `skipped`;
2. `consent.ad_storage` is `denied` → `blocked` (never sent, whatever else is wrong with it);
3. older than the channel's window (90 days offline, 7 days CAPI) → `failed`;
4. missing what the channel matches by (offline: MSCLKID, hashed e-mail or phone; CAPI: those or an anonymous or
   external id; a CAPI page load also needs its URL) → `failed`;
5. otherwise `send`.

Routing (`Routing`): an event name listed in `event_channels` goes to exactly the channels listed there; any other
name goes to Offline Conversions when it has a goal in `conversion_names`, and to the Conversions API (when the
destination has it) when it has none: page views as `pageLoad`, other events as `custom` with their name. So by
default no event reaches Microsoft through both channels; a mapping that sends a conversion through both is
allowed, and `Routing.double_counted` names it so faces can warn.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from bingbridge.api.campaign_management import MAX_CONVERSIONS_PER_CALL
from bingbridge.api.conversions_api import MAX_EVENTS_PER_REQUEST
from bingbridge.api.models.campaign import OfflineConversion
from bingbridge.api.models.uet import CapiEvent, CustomData, UserData
from bingbridge.conversions import contract
from bingbridge.conversions.contract import Refusal
from bingbridge.conversions.delivery import Send

if TYPE_CHECKING:
    from bingbridge.api.client import BingAdsClient
    from bingbridge.api.conversions_api import ConversionsApi

OFFLINE = "offline"
CAPI = "capi"
# The event name of a page load (the browser snippet's `page()`); it goes to CAPI as eventType pageLoad.
PAGE_VIEW = "page_view"
CONSENT_DENIED = "ad_storage_consent_denied"
NOT_A_CONVERSION = "Event {name} skipped — not a conversion event for Bing Ads"
NOT_FOR_CAPI = "Event {name} skipped — not routed to the UET Conversions API"

Verdict = Literal["send", "skipped", "blocked", "failed"]


@dataclass(slots=True)  # not frozen: built for every event ingested, where a frozen one costs 2 µs more
class Tracked:
    """An event as a channel sees it: naive UTC time, identities hashed, its MSCLKID already looked up."""

    event_id: str
    event_name: str
    occurred_at: datetime
    value: float | None = None
    currency: str | None = None
    ad_storage: str | None = None
    msclkid: str | None = None
    hashed_email: str | None = None
    hashed_phone: str | None = None
    anonymous_id: str | None = None
    external_id: str | None = None
    page: Mapping[str, Any] | None = None


@dataclass(slots=True)  # built per event and channel: not frozen, as `Tracked`
class ChannelDecision:
    """What a channel will do with an event; `refusal` says why when it is `failed`."""

    channel: str
    verdict: Verdict
    reason: str | None = None
    conversion_name: str | None = None
    refusal: Refusal | None = None


@dataclass(frozen=True)
class Routing:
    """Which channels a destination has and which event names go to each (module docstring)."""

    channels: tuple[str, ...] = (OFFLINE,)
    conversion_names: Mapping[str, str] = field(default_factory=dict)
    event_channels: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def routed(self, event_name: str, channel: str) -> bool:
        if channel not in self.channels:
            return False
        listed = self.event_channels.get(event_name)
        if listed is not None:
            return channel in listed
        has_goal = event_name in self.conversion_names
        return has_goal if channel == OFFLINE else not has_goal

    def double_counted(self) -> list[str]:
        """Warnings for event names the mapping sends through both channels (Microsoft may count them twice)."""
        if CAPI not in self.channels:
            return []
        return [
            f"event {name!r} goes to both Offline Conversions (goal {self.conversion_names.get(name)!r}) and the "
            f"UET Conversions API: if a UET goal counts the custom event {name!r}, Microsoft counts each one twice"
            for name, listed in sorted(self.event_channels.items())
            if OFFLINE in listed and CAPI in listed
        ]


class ChannelAccess(Protocol):
    """How a channel reaches Microsoft with one destination's credentials (opened on first use)."""

    def ads_client(self) -> BingAdsClient: ...
    def conversions_api(self) -> ConversionsApi: ...


class Channel(ABC):
    """One way of delivering events to Microsoft."""

    name: ClassVar[str]
    label: ClassVar[str]
    limit: ClassVar[int]  # items per call
    window: ClassVar[timedelta]
    too_old: ClassVar[Refusal]

    def decide(self, event: Tracked, routing: Routing, now: datetime) -> ChannelDecision:
        """The decision, in the module docstring's order; `now` is naive UTC."""
        if not routing.routed(event.event_name, self.name):
            return ChannelDecision(self.name, "skipped", self.skip_reason(event.event_name))
        goal = self.conversion_name(event, routing)
        if event.ad_storage == "denied":
            return ChannelDecision(self.name, "blocked", CONSENT_DENIED, goal)
        refusal = contract.too_old(event.occurred_at, now, self.window, self.too_old) or self.unmatched(event)
        if refusal is not None:
            return ChannelDecision(self.name, "failed", refusal.code, goal, refusal)
        return ChannelDecision(self.name, "send", None, goal)

    def conversion_name(self, event: Tracked, routing: Routing) -> str | None:
        """The goal an event is sent as (offline conversions name one; other channels none)."""
        return None

    @abstractmethod
    def skip_reason(self, event_name: str) -> str: ...

    @abstractmethod
    def unmatched(self, event: Tracked) -> Refusal | None:
        """Why Microsoft could not attribute the event through this channel, or None."""

    @abstractmethod
    def item(self, event: Tracked, conversion_name: str | None) -> Any:
        """The wire item of an event this channel decided to send."""

    @abstractmethod
    def sender(self, access: ChannelAccess) -> Send[Any]:
        """The call that sends one batch of items and answers per item."""


class OfflineChannel(Channel):
    name = OFFLINE
    label = "Offline Conversions"
    limit = MAX_CONVERSIONS_PER_CALL
    window = contract.OFFLINE_WINDOW
    too_old = contract.OFFLINE_TOO_OLD

    def conversion_name(self, event: Tracked, routing: Routing) -> str | None:
        return routing.conversion_names.get(event.event_name)

    def skip_reason(self, event_name: str) -> str:
        return NOT_A_CONVERSION.format(name=event_name)

    def unmatched(self, event: Tracked) -> Refusal | None:
        if event.msclkid or event.hashed_email or event.hashed_phone:
            return None
        return contract.OFFLINE_NO_IDENTITY

    def item(self, event: Tracked, conversion_name: str | None) -> OfflineConversion:
        """With a click id the hashes are left out: the click is the deterministic match, and sending less personal
        data is the better default. Without one, hashed e-mail and phone go out (enhanced conversions)."""
        return OfflineConversion(
            conversion_name=conversion_name,
            conversion_time=event.occurred_at.replace(tzinfo=UTC),
            conversion_value=event.value,
            conversion_currency_code=event.currency if event.value is not None else None,
            microsoft_click_id=event.msclkid,
            hashed_email_address=None if event.msclkid else event.hashed_email,
            hashed_phone_number=None if event.msclkid else event.hashed_phone,
        )

    def sender(self, access: ChannelAccess) -> Send[Any]:
        return access.ads_client().campaign_management.apply_offline_conversions


class CapiChannel(Channel):
    name = CAPI
    label = "UET Conversions API"
    limit = MAX_EVENTS_PER_REQUEST
    window = contract.CAPI_WINDOW
    too_old = contract.CAPI_TOO_OLD

    def skip_reason(self, event_name: str) -> str:
        return NOT_FOR_CAPI.format(name=event_name)

    def unmatched(self, event: Tracked) -> Refusal | None:
        if event.event_name == PAGE_VIEW and not (event.page or {}).get("url"):
            return contract.PAGE_URL_MISSING
        ids = (event.msclkid, event.hashed_email, event.hashed_phone, event.anonymous_id, event.external_id)
        return None if any(ids) else contract.CAPI_NO_IDENTITY

    def item(self, event: Tracked, conversion_name: str | None) -> CapiEvent:
        page = event.page or {}
        load = event.event_name == PAGE_VIEW
        return CapiEvent(
            event_type="pageLoad" if load else "custom",
            event_id=event.event_id,  # the browser tag's eventId too: Microsoft counts the pair once
            event_name=None if load else event.event_name,
            event_time=int(event.occurred_at.replace(tzinfo=UTC).timestamp()),
            event_source_url=page.get("url"),
            page_load_id=page.get("load_id"),
            referrer_url=page.get("referrer"),
            page_title=page.get("title"),
            ad_storage_consent="G" if event.ad_storage == "granted" else None,
            user_data=UserData(
                em=event.hashed_email,
                ph=event.hashed_phone,
                msclkid=event.msclkid,
                anonymous_id=event.anonymous_id,
                external_id=event.external_id,
            ),
            custom_data=CustomData(value=event.value, currency=event.currency) if event.value is not None else None,
        )

    def sender(self, access: ChannelAccess) -> Send[Any]:
        return access.conversions_api().send_events


CHANNELS: dict[str, Channel] = {c.name: c for c in (OfflineChannel(), CapiChannel())}
