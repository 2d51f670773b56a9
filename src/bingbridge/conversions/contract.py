"""The contract of a conversion: the rules every face (file uploads, tracked events) and every channel applies.

One home for each rule (protocol reference 3.3 for offline conversions, 9 for the Conversions API):
- time: ISO 8601; without an offset it is in the face's default zone (UTC for events, `--timezone` for files); up to
  `FUTURE_TOLERANCE` ahead of our clock is clock drift and taken as now, further ahead is refused (Microsoft: 5614);
- value: a number from 0 to `MAX_VALUE` (Microsoft refuses values that "exceed the maximum allowed value" without
  publishing it; ours is documented in the README); true/false are not numbers;
- currency: an ISO 4217 code; MSCLKID: 32 hexadecimal characters;
- e-mail and phone: normalised and hashed (`conversions.hashing`), never kept plain;
- the age window and the identities each channel needs (`Refusal`s decided per channel, before any call).

Rule functions raise `Broken` with a message that never repeats the input (an e-mail must not reach a log); the
face names the field in its own spelling (`FACE_FIELDS`), so the same input gets the same message on every face.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Literal

from bingbridge.conversions.hashing import NotHashable, hash_email, hash_phone

MSCLKID = re.compile(r"^[0-9a-fA-F]{32}$")
# Microsoft rejects conversion times older than 90 days (5609); the Conversions API takes the last 7 days.
OFFLINE_WINDOW = timedelta(days=90)
CAPI_WINDOW = timedelta(days=7)
# Clocks of browsers and exporting systems drift: a time up to this far ahead of ours is taken as now.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Our bound on a conversion value (Microsoft publishes none): far above any real order, far below float overflow.
MAX_VALUE = 1e12
MAX_GOAL_NAME = 100

# ISO 4217 active codes (the standard's list; Microsoft's own CurrencyCode enum is an older subset).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
    HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG""".split()
)

Face = Literal["file", "event"]
# A logical field and its spelling on each face (the file's canonical column, the event's JSON path).
FACE_FIELDS: dict[str, dict[Face, str]] = {
    "time": {"file": "conversion_time", "event": "timestamp"},
    "value": {"file": "conversion_value", "event": "value"},
    "currency": {"file": "conversion_currency_code", "event": "currency"},
    "msclkid": {"file": "microsoft_click_id", "event": "click_ids.msclkid"},
    "email": {"file": "email", "event": "user.email"},
    "phone": {"file": "phone", "event": "user.phone"},
}
TIME_HINT = "an ISO 8601 date-time such as 2026-11-20T14:30:00Z"


class Broken(ValueError):
    """An input breaks a rule of the contract; the message says what to send instead."""


def parse_time(value: Any, *, default_timezone: tzinfo = UTC) -> datetime:
    """An aware UTC datetime from ISO 8601 text (date and time separated by T or a space)."""
    if not isinstance(value, str):
        raise Broken(f"must be {TIME_HINT}")  # numbers would be read as Unix times, which no face promises
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=default_timezone)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 shifted out of range by the offset
        raise Broken(f"must be {TIME_HINT}") from None


def not_future(when: datetime, now: datetime) -> datetime:
    """`when` (aware), or `now` when it is ahead by clock drift only; refused further ahead (Microsoft: 5614)."""
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    if when > now + FUTURE_TOLERANCE:
        shown = when.replace(tzinfo=None).isoformat()
        raise Broken(
            f"{shown}Z is in the future (server time {now.replace(tzinfo=None).isoformat(timespec='seconds')}Z); "
            "Microsoft rejects future conversion times (5614): check the sender's clock"
        )
    return min(when, now)


def parse_value(value: Any) -> float | None:
    """A conversion value from 0 to MAX_VALUE; numeric text ("12.50") is read as JavaScript and CSV send it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise Broken("must be a number (e.g. 49.90), not true or false")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Broken("must be a number (e.g. 49.90)") from None
    if not math.isfinite(number) or not 0 <= number <= MAX_VALUE:
        raise Broken(f"must be between 0 and {MAX_VALUE:,.0f}")
    return number


def parse_currency(value: Any) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or value.strip().upper() not in ISO_4217:
        raise Broken("must be an ISO 4217 currency code (e.g. USD, EUR)")
    return value.strip().upper()


def check_msclkid(value: str) -> str:
    if not MSCLKID.match(value):
        hint = " (remove the dashes)" if len(value.replace("-", "")) == 32 else ""
        raise Broken(f"must be the 32 hexadecimal characters of an MSCLKID{hint}")
    return value


def hashed_email(value: str) -> str:
    try:
        return hash_email(value)
    except NotHashable as exc:
        raise Broken(str(exc)) from None


def hashed_phone(value: str, default_country: str) -> str:
    try:
        return hash_phone(value, default_country)
    except NotHashable as exc:
        raise Broken(str(exc)) from None


# ---- refusals decided per channel, before any call ----


@dataclass(frozen=True)
class Refusal:
    """Why a channel will not send a valid conversion: a stable code (the dispatch log's reason), the logical field
    it is about, and the message a face shows."""

    code: str
    field: str
    message: str


OFFLINE_TOO_OLD = Refusal(
    "conversion_time_older_than_90_days", "time", "is more than 90 days ago; Microsoft rejects it (5609)"
)
OFFLINE_NO_IDENTITY = Refusal(
    "no_match_key", "msclkid", "give an MSCLKID, or an e-mail or phone for enhanced conversions"
)
CAPI_TOO_OLD = Refusal(
    "event_time_older_than_7_days", "time", "is more than 7 days ago; the Conversions API takes the last 7 days only"
)
CAPI_NO_IDENTITY = Refusal(
    "no_user_data", "msclkid", "give an MSCLKID, an e-mail, a phone, an anonymous id or an external id"
)
PAGE_URL_MISSING = Refusal("page_url_missing", "page.url", "a page load needs the page's URL (page.url)")


def too_old(when: datetime, now: datetime, window: timedelta, refusal: Refusal) -> Refusal | None:
    """`refusal` when `when` lies more than `window` before `now` (both naive UTC or both aware)."""
    return refusal if when < now - window else None


# ---- personal data inside free properties ----

# Keys (compared lower-case, without "_", "-" and spaces) that hold an e-mail or phone: their values are hashed.
_HASHED_KEYS: dict[str, Callable[[str, str], str]] = {
    **dict.fromkeys(("email", "emailaddress", "mail"), lambda v, _c: hashed_email(v)),
    **dict.fromkeys(("phone", "phonenumber", "telephone", "mobile", "tel"), hashed_phone),
}
# Keys whose values identify a person and that no channel takes hashed: they are dropped.
DROPPED_KEYS = frozenset(
    """firstname lastname fullname surname address street streetaddress postalcode zip zipcode birthday birthdate
    dateofbirth dob ip ipaddress ssn passport""".split()
)


def _key(name: Any) -> str:
    return str(name).lower().replace("_", "").replace("-", "").replace(" ", "")


def scrub_properties(value: Any, default_country: str) -> Any:
    """`value` with well-known personal keys hashed (e-mail, phone) or dropped (names, addresses, ...), at any
    depth; a value under an e-mail or phone key that cannot be hashed is dropped too."""
    if isinstance(value, list):
        return [scrub_properties(item, default_country) for item in value]
    if not isinstance(value, Mapping):
        return value
    kept: dict[str, Any] = {}
    for name, item in value.items():
        key = _key(name)
        if key in DROPPED_KEYS:
            continue
        hasher = _HASHED_KEYS.get(key)
        if hasher is not None:
            if isinstance(item, str) and item.strip():
                with suppress(Broken):  # a value that cannot be hashed is not kept plain either
                    kept[name] = hasher(item, default_country)
            continue
        kept[name] = scrub_properties(item, default_country)
    return kept
