"""The event contract of the ingestion API, the rules each field follows, and the match keys of a stored event.

An event is `{"event_id", "event_name", "timestamp", "value", "currency", "consent": {"ad_storage"}, "user":
{"email", "phone", "anonymous_id", "external_id"}, "click_ids": {"msclkid", "gclid", "fbclid", "ttclid", ...},
"page": {"url", "referrer", "title", "load_id"}, "properties": {...}}`, plus the legacy top-level click-id fields
(`msclkid`, `gclid`, `fbclid`, `ttclid`); a batch is `{"events": [...]}`. The rules a conversion follows (time,
value, currency, MSCLKID, hashing) are `conversions.contract`'s, the same a file row follows.

E-mail and phone are normalised and hashed while the event is validated (`conversions.hashing`): the models never
hold a plain value, and every model hides its input in error messages, so nothing plain reaches a log or the
database; well-known personal keys inside `properties` are hashed or dropped (`contract.scrub_properties`).
`parse_events` turns a decoded JSON body into valid events and one `EventProblem` per broken rule.

MSCLKID lookup (the seed's "triple fallback") happens in two steps. At ingestion the legacy top-level fields are
overlaid by the `click_ids` object into the stored `click_ids` column, so the object wins; then `match_keys` reads
that column, then `properties` (`msclkid`, then `MSCLKID`), then the hashed e-mail and phone.
The order is the issue's: the `click_ids` object, then the legacy fields, then `properties`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic.functional_validators import AfterValidator, BeforeValidator

from bingbridge.conversions import contract
from bingbridge.conversions.channels import Tracked
from bingbridge.conversions.contract import MSCLKID

# The click ids the browser snippet collects; also accepted as legacy top-level fields of an event.
CLICK_ID_NAMES = ("msclkid", "gclid", "fbclid", "ttclid")
# A click id longer than this is not a click id (gclids, the longest in use, stay under 200 characters).
MAX_CLICK_ID = 500
# Properties are free, but JSON nested deeper than this is refused: the JSON column's encoder recurses.
MAX_PROPERTIES_DEPTH = 32
# A page's URL, referrer and title are cut by no one else: refuse what no browser sends.
MAX_URL = 4096
# Where `properties` may carry an MSCLKID (SDK-originated events), in lookup order.
PROPERTY_MSCLKID_KEYS = ("msclkid", "MSCLKID")
_CLICK_ID_NAME = re.compile(r"^[A-Za-z0-9_]{1,50}$")


class InvalidJson(ValueError):
    """A value cannot be stored as JSON text in every supported database (NUL, lone surrogates, depth)."""


def _check_text(value: str) -> str:
    """Refuse what PostgreSQL text cannot hold (NUL) and what UTF-8 cannot encode (lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (it contains a lone surrogate)") from None
    return value


def _empty_to_none(value: Any) -> Any:
    """Browsers and forms send "" for "not known": treat it as absent."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _check_msclkid(value: str | None) -> str | None:
    return None if value is None else contract.check_msclkid(value)


def check_json(value: Any, *, depth: int = 0) -> None:
    """Raise InvalidJson if `value` (decoded JSON) nests too deep or holds text a database cannot store."""
    stack: list[tuple[Any, int]] = [(value, depth)]
    while stack:
        item, level = stack.pop()
        if level > MAX_PROPERTIES_DEPTH:
            raise InvalidJson(f"nests deeper than {MAX_PROPERTIES_DEPTH} levels")
        if isinstance(item, float) and not math.isfinite(item):
            raise InvalidJson("must hold finite numbers only (no NaN or Infinity)")
        if isinstance(item, str):
            try:
                _check_text(item)
            except ValueError as exc:
                raise InvalidJson(str(exc)) from None
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, level))
                stack.append((child, level + 1))
        elif isinstance(item, list):
            stack.extend((child, level + 1) for child in item)


Text = Annotated[str, AfterValidator(_check_text)]
# The length rule sits on the text alone: a blank value has become None before it (pydantic would apply a
# constraint on the whole union to None, and fail with a TypeError, i.e. a 500).
ClickId = Annotated[
    Annotated[Text, StringConstraints(min_length=1, max_length=MAX_CLICK_ID)] | None, BeforeValidator(_empty_to_none)
]
MsClickId = Annotated[ClickId, AfterValidator(_check_msclkid)]
UserId = Annotated[
    Annotated[Text, StringConstraints(min_length=1, max_length=200)] | None, BeforeValidator(_empty_to_none)
]
PageText = Annotated[
    Annotated[Text, StringConstraints(min_length=1, max_length=MAX_URL)] | None, BeforeValidator(_empty_to_none)
]


def _country(info: ValidationInfo) -> str:
    return str((info.context or {}).get("default_country", "US"))


def _config(extra: Literal["ignore", "allow"]) -> ConfigDict:
    """Every model strips surrounding blanks and never echoes input in an error (an e-mail must not reach a log)."""
    return ConfigDict(hide_input_in_errors=True, str_strip_whitespace=True, extra=extra)


class Consent(BaseModel):
    """Consent flags. Only `ad_storage` decides anything here; other flags (analytics_storage, ...) are ignored."""

    model_config = _config("ignore")

    # Absent means the site runs no consent banner for this visitor: the event is dispatched. Values are Google
    # Consent Mode's, matched without regard to case.
    ad_storage: Literal["granted", "denied"] | None = None

    @field_validator("ad_storage", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        value = _empty_to_none(value)
        return value.strip().lower() if isinstance(value, str) else value


class User(BaseModel):
    """Identity for enhanced conversions. Plain `email` and `phone` become SHA-256 hashes during validation.

    The JSON names are `email` and `phone` (`hashed_email` / `hashed_phone` also work, and 64-hex values pass
    through as hashes); the attributes hold only hashes.
    """

    model_config = _config("ignore")

    hashed_email: str | None = Field(default=None, validation_alias=AliasChoices("email", "hashed_email"))
    hashed_phone: str | None = Field(default=None, validation_alias=AliasChoices("phone", "hashed_phone"))
    # The Conversions API also matches by these (a first-party cookie id, the site's own user id); sent as given.
    anonymous_id: UserId = None
    external_id: UserId = None

    @field_validator("hashed_email", mode="before")
    @classmethod
    def _hash_email(cls, value: Any) -> Any:
        value = _empty_to_none(value)
        if not isinstance(value, str):
            return value  # None, or a wrong type the str check names
        return contract.hashed_email(_check_text(value))  # the message never repeats the value

    @field_validator("hashed_phone", mode="before")
    @classmethod
    def _hash_phone(cls, value: Any, info: ValidationInfo) -> Any:
        value = _empty_to_none(value)
        if not isinstance(value, str):
            return value
        return contract.hashed_phone(_check_text(value), _country(info))


class ClickIds(BaseModel):
    """Click identifiers of ad platforms; other names than the four known ones are kept too (strings only)."""

    model_config = _config("allow")
    __pydantic_extra__: dict[str, ClickId]

    msclkid: MsClickId = None
    gclid: ClickId = None
    fbclid: ClickId = None
    ttclid: ClickId = None

    @model_validator(mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # Names end up in error messages and the dispatch log: keep them to plain identifiers.
        if isinstance(value, dict):
            for name in value:
                if not isinstance(name, str) or not _CLICK_ID_NAME.match(name):
                    raise ValueError("click id names are 1 to 50 letters, digits or _ (e.g. msclkid, gclid)")
        return value

    def present(self) -> dict[str, str]:
        """The click ids that were given, known names and others alike."""
        found = {name: value for name in CLICK_ID_NAMES if (value := getattr(self, name)) is not None}
        found.update((name, value) for name, value in (self.__pydantic_extra__ or {}).items() if value is not None)
        return found


class Page(BaseModel):
    """The page a page load (or any event) happened on, as the browser snippet sends it."""

    model_config = _config("ignore")

    url: PageText = None
    referrer: PageText = None
    title: PageText = None
    load_id: UserId = None  # one id per page load, shared by the events of that page

    def stored(self) -> dict[str, str] | None:
        """The `page` column: the parts that were given."""
        found = {name: value for name in type(self).model_fields if (value := getattr(self, name)) is not None}
        return found or None


class Properties(BaseModel):
    """Free properties of an event, kept as sent but for personal data: well-known e-mail and phone keys are hashed,
    names, addresses and the like dropped (`contract.scrub_properties`); `msclkid` / `MSCLKID` follow the MSCLKID's
    rule."""

    model_config = _config("allow")

    msclkid: MsClickId = None
    MSCLKID: MsClickId = None

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            try:
                check_json(value)
            except InvalidJson as exc:
                raise ValueError(str(exc)) from None
            return contract.scrub_properties(value, _country(info))
        return value

    def stored(self) -> dict[str, Any]:
        """The `properties` column: what was sent (a blank MSCLKID comes back as null)."""
        found = {name: getattr(self, name) for name in PROPERTY_MSCLKID_KEYS if name in self.model_fields_set}
        found.update(self.__pydantic_extra__ or {})
        return found


class Event(BaseModel):
    """One event as the API receives it; after validation the timestamp is naive UTC and identities are hashes."""

    model_config = _config("ignore")  # unknown fields are ignored: senders may be newer than us

    event_id: Text = Field(min_length=1, max_length=200, description="Unique per workspace; a repeat is ignored.")
    event_name: Text = Field(min_length=1, max_length=100, description="purchase, lead, sign_up, ...")
    timestamp: datetime = Field(description="ISO 8601; without an offset it is UTC.")
    value: float | None = Field(default=None, description=f"0 to {contract.MAX_VALUE:,.0f}.")
    currency: str | None = Field(default=None, description="ISO 4217, e.g. USD.")
    consent: Consent | None = None
    user: User | None = None
    click_ids: ClickIds | None = None
    properties: Properties | None = None
    page: Page | None = None
    # Legacy top-level click ids (events from before the `click_ids` object); the object wins where both are set.
    msclkid: MsClickId = None
    gclid: ClickId = None
    fbclid: ClickId = None
    ttclid: ClickId = None

    @field_validator("consent", "user", "click_ids", "properties", "page", mode="before")
    @classmethod
    def _object(cls, value: Any) -> Any:
        # pydantic would say "a valid dictionary or instance of Consent": name the JSON type instead.
        if value is not None and not isinstance(value, dict):
            raise ValueError("must be a JSON object")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> datetime:
        """Naive UTC, a time up to the drift tolerance ahead of the server taken as now (`contract`)."""
        parsed = contract.parse_time(value)
        now = (info.context or {}).get("now")
        if isinstance(now, datetime):
            parsed = contract.not_future(parsed, now)
        return parsed.replace(tzinfo=None)

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        return contract.parse_value(value)

    @field_validator("currency", mode="before")
    @classmethod
    def _currency(cls, value: Any) -> Any:
        return contract.parse_currency(value)

    def stored_properties(self) -> dict[str, Any] | None:
        return self.properties.stored() if self.properties is not None else None

    def stored_click_ids(self) -> dict[str, str] | None:
        """The `click_ids` column: legacy top-level fields overlaid by the `click_ids` object (the object wins)."""
        merged = {name: value for name in CLICK_ID_NAMES if (value := getattr(self, name))}
        if self.click_ids is not None:
            merged.update(self.click_ids.present())
        return merged or None


class EventBatch(BaseModel):
    """A batch: `{"events": [...]}` (described for OpenAPI; `parse_events` validates each event on its own)."""

    model_config = _config("ignore")

    events: list[Event]


@dataclass(frozen=True)
class EventProblem:
    """One broken rule of one event: where in the request, which event, which field, and what to do."""

    index: int
    event_id: str | None
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "event_id": self.event_id, "field": self.field, "message": self.message}


def _field_name(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(event)"


def _message(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    # Our own rules raise ValueError; pydantic prefixes those with "Value error, ".
    return message.removeprefix("Value error, ")


def _event_id_of(raw: Any) -> str | None:
    """The event id to quote in a problem: only a sane string (a problem report must not echo anything else)."""
    if isinstance(raw, Mapping):
        value = raw.get("event_id")
        if isinstance(value, str) and 0 < len(value) <= 200:
            try:
                return _check_text(value)
            except ValueError:
                return None
    return None


def parse_event(raw: Any, *, now: datetime, default_country: str = "US") -> Event | list[tuple[str, str]]:
    """Validate one decoded JSON event: the Event, or (field, message) pairs naming every broken rule."""
    if not isinstance(raw, Mapping):
        return [("(event)", "an event must be a JSON object")]
    try:
        return Event.model_validate(raw, context={"now": now, "default_country": default_country})
    except PydanticValidationError as exc:
        return [(_field_name(e["loc"]), _message(e)) for e in exc.errors(include_url=False, include_input=False)]


class BatchTooLarge(ValueError):
    """A batch holds more events than one request may carry."""


def parse_events(
    payload: Any, *, now: datetime, default_country: str = "US", max_events: int | None = None
) -> tuple[list[tuple[int, Event]], list[EventProblem]]:
    """One event or a batch (`{"events": [...]}`) → (index, event) pairs that are valid, and the problems.

    Raises ValueError (a message for the whole request) when the body is neither, or holds more than `max_events`.
    """
    if isinstance(payload, Mapping) and "events" in payload:
        items = payload["events"]
        if not isinstance(items, list):
            raise ValueError('"events" must be a list of event objects')
        if not items:
            raise ValueError('"events" is empty: send 1 or more events')
    elif isinstance(payload, Mapping):
        items = [payload]
    else:
        raise ValueError('the body must be one event object or a batch {"events": [...]}')
    if max_events is not None and len(items) > max_events:
        raise BatchTooLarge(f"the batch holds {len(items)} events; send at most {max_events} per request")
    valid: list[tuple[int, Event]] = []
    problems: list[EventProblem] = []
    for index, raw in enumerate(items):
        parsed = parse_event(raw, now=now, default_country=default_country)
        if isinstance(parsed, Event):
            valid.append((index, parsed))
        else:
            event_id = _event_id_of(raw)
            problems.extend(EventProblem(index, event_id, f, m) for f, m in parsed)
    return valid, problems


@dataclass(slots=True)  # not frozen: ingestion builds one per event, and a frozen one costs 2 µs more to build
class Columns:
    """An event as the `events` table stores it; the worker's claimed rows carry the same columns
    (`dispatch_log.Claimed`), so `match_keys` and `tracked` read either."""

    event_id: str
    event_name: str
    occurred_at: datetime
    value: float | None
    currency: str | None
    ad_storage: str | None
    hashed_email: str | None
    hashed_phone: str | None
    click_ids: dict[str, Any] | None
    properties: dict[str, Any] | None
    page: dict[str, Any] | None
    anonymous_id: str | None
    external_id: str | None


def columns(event: Event) -> Columns:
    user = event.user
    return Columns(
        event_id=event.event_id,
        event_name=event.event_name,
        occurred_at=event.timestamp,
        value=event.value,
        currency=event.currency,
        ad_storage=event.consent.ad_storage if event.consent else None,
        hashed_email=user.hashed_email if user else None,
        hashed_phone=user.hashed_phone if user else None,
        click_ids=event.stored_click_ids(),
        properties=event.stored_properties(),
        page=event.page.stored() if event.page else None,
        anonymous_id=user.anonymous_id if user else None,
        external_id=user.external_id if user else None,
    )


def _msclkid_in(mapping: Mapping[str, Any] | None, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = (mapping or {}).get(key)
        if isinstance(value, str) and MSCLKID.match(value.strip()):
            return value.strip()
    return None


def match_keys(event: Columns) -> tuple[str | None, str | None, str | None]:
    """(msclkid, hashed_email, hashed_phone) of a stored event.

    MSCLKID: the `click_ids` column (the event's `click_ids` object, else its legacy top-level fields), then
    `properties["msclkid"]`, then `properties["MSCLKID"]`. The hashes are returned alongside: Microsoft takes them
    with or without a click id.
    """
    msclkid = _msclkid_in(event.click_ids, ("msclkid",)) or _msclkid_in(event.properties, PROPERTY_MSCLKID_KEYS)
    return msclkid, event.hashed_email or None, event.hashed_phone or None


def tracked(event: Columns) -> Tracked:
    """The stored event as the delivery channels see it (`conversions.channels`): its match keys looked up."""
    msclkid, email, phone = match_keys(event)
    return Tracked(
        event_id=event.event_id,
        event_name=event.event_name,
        occurred_at=event.occurred_at,
        value=event.value,
        currency=event.currency,
        ad_storage=event.ad_storage,
        msclkid=msclkid,
        hashed_email=email,
        hashed_phone=phone,
        anonymous_id=event.anonymous_id,
        external_id=event.external_id,
        page=event.page,
    )
