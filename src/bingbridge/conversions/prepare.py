"""Turning one input row into an OfflineConversion (or adjustment), or into the reasons it cannot be sent.

Rules are Microsoft's (protocol reference 3.3): a goal name; a conversion time in the last 90 days and not in the
future, sent in UTC; a 32-hex-character MSCLKID or a hashed e-mail / phone; a value of 0 or more; an ISO 4217
currency; external attribution model and credit together, credit between 0 and 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bingbridge.api.models.campaign import OfflineConversion, OfflineConversionAdjustment
from bingbridge.conversions.hashing import NotHashable, hash_email, hash_phone, is_hashed
from bingbridge.conversions.rows import InputRow
from bingbridge.errors import FieldProblem

MSCLKID = re.compile(r"^[0-9a-fA-F]{32}$")
# Microsoft rejects conversion times older than 90 days (5609) and in the future (5614).
MAX_AGE = timedelta(days=90)
MAX_NAME = 100

# ISO 4217 active codes (the standard's list; Microsoft's own CurrencyCode enum is an older subset).
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG
    HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA
    MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD
    RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG""".split()
)


@dataclass(frozen=True)
class PrepareOptions:
    """How rows are read: the clock, the country for national phone numbers, the zone of times without offset."""

    now: datetime
    default_country: str = "US"
    default_timezone: tzinfo = UTC


class _Row:
    """Collects a row's problems while its fields are read."""

    def __init__(self, row: InputRow, options: PrepareOptions) -> None:
        self.values = row.values
        self.options = options
        self.problems: list[FieldProblem] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(FieldProblem(field, message))

    def text(self, field: str) -> str | None:
        value = self.values.get(field)
        return None if value is None else str(value).strip() or None

    def time(self, field: str, *, required: bool = True) -> datetime | None:
        raw = self.text(field)
        if raw is None:
            if required:
                self.problem(field, "required (ISO 8601, e.g. 2026-11-20T14:30:00Z)")
            return None
        try:
            parsed = datetime.fromisoformat(raw.replace(" ", "T", 1) if "T" not in raw else raw)
        except ValueError:
            self.problem(field, f"{raw!r} is not an ISO 8601 date-time (e.g. 2026-11-20T14:30:00+01:00)")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.options.default_timezone)
        return parsed.astimezone(UTC)

    def recent_time(self, field: str) -> datetime | None:
        """A time not in the future and not older than 90 days (Microsoft's window)."""
        value = self.time(field)
        now = self.options.now
        if value is not None and value > now:
            self.problem(field, f"{value.isoformat()} is in the future; Microsoft rejects it (5614)")
        elif value is not None and value < now - MAX_AGE:
            self.problem(field, f"{value.date()} is more than 90 days ago; Microsoft rejects it (5609)")
        return value

    def number(self, field: str, *, low: float | None = None, high: float | None = None) -> float | None:
        raw = self.values.get(field)
        if raw is None:
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            self.problem(field, f"{raw!r} is not a number")
            return None
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            bounds = f"between {low} and {high}" if high is not None else f"{low} or more"
            self.problem(field, f"must be {bounds}, got {raw}")
            return None
        return value

    def currency(self, field: str) -> str | None:
        code = self.text(field)
        if code is not None and code.upper() not in ISO_4217:
            self.problem(field, f"{code!r} is not an ISO 4217 currency code (e.g. USD, EUR)")
            return None
        return code.upper() if code else None

    def identity(self) -> dict[str, str | None]:
        """Click id and hashed identifiers; plain e-mail/phone are hashed here and never kept."""
        click = self.text("microsoft_click_id")
        if click is not None and not MSCLKID.match(click):
            hint = " (remove the dashes)" if len(click.replace("-", "")) == 32 else ""
            self.problem("microsoft_click_id", f"must be the 32 hexadecimal characters of an MSCLKID{hint}")
        hashed_email = self._hashed("hashed_email_address", "email", hash_email)
        hashed_phone = self._hashed(
            "hashed_phone_number", "phone", lambda v: hash_phone(v, self.options.default_country)
        )
        if click is None and hashed_email is None and hashed_phone is None and not self.problems:
            self.problem("microsoft_click_id", "give an MSCLKID, or an e-mail or phone for enhanced conversions")
        return {"microsoft_click_id": click, "hashed_email_address": hashed_email, "hashed_phone_number": hashed_phone}

    def _hashed(self, hashed_field: str, plain_field: str, hasher: Any) -> str | None:
        hashed, plain = self.text(hashed_field), self.text(plain_field)
        if hashed is not None and plain is not None:
            self.problem(plain_field, f"give either {plain_field} or {hashed_field}, not both")
            return None
        if hashed is not None:
            if not is_hashed(hashed):
                self.problem(
                    hashed_field, f"must be a SHA-256 hash (64 hex characters); put plain values in {plain_field}"
                )
                return None
            return hashed.lower()
        if plain is None:
            return None
        try:
            return str(hasher(plain))
        except NotHashable as exc:
            self.problem(plain_field, str(exc))  # the message never repeats the plain value
            return None


def prepare_conversion(row: InputRow, options: PrepareOptions) -> OfflineConversion | list[FieldProblem]:
    """Validate and normalise one row into the OfflineConversion Microsoft expects."""
    if row.read_error:
        return [FieldProblem("row", row.read_error)]
    r = _Row(row, options)
    name = r.text("conversion_name")
    if name is None:
        r.problem("conversion_name", "required: the name of an offline conversion goal")
    elif len(name) > MAX_NAME:
        r.problem("conversion_name", f"at most {MAX_NAME} characters (goal names are), got {len(name)}")
    when = r.recent_time("conversion_time")
    identity = r.identity()
    value = r.number("conversion_value", low=0)
    currency = r.currency("conversion_currency_code")
    model = r.text("external_attribution_model")
    credit = r.number("external_attribution_credit", low=0, high=1)
    if (model is None) != (r.values.get("external_attribution_credit") is None):
        r.problem("external_attribution_model", "give external_attribution_model and _credit together")
    if r.problems or when is None:
        return r.problems
    return OfflineConversion(
        conversion_name=name,
        conversion_time=when,
        conversion_value=value,
        conversion_currency_code=currency,
        external_attribution_model=model,
        external_attribution_credit=credit,
        **identity,
    )


def prepare_adjustment(row: InputRow, options: PrepareOptions) -> OfflineConversionAdjustment | list[FieldProblem]:
    """Validate one Restate/Retract row (Microsoft's 5618–5627 rules) before it is sent."""
    if row.read_error:
        return [FieldProblem("row", row.read_error)]
    r = _Row(row, options)
    kind = r.text("adjustment_type")
    if kind not in ("Restate", "Retract"):
        r.problem("adjustment_type", "must be Restate or Retract")
    name = r.text("conversion_name")
    if name is None:
        r.problem("conversion_name", "required: the goal name the conversion was uploaded with")
    conversion_time = r.time("conversion_time")
    adjustment_time = r.recent_time("adjustment_time")
    if conversion_time and adjustment_time and adjustment_time < conversion_time:
        r.problem("adjustment_time", "must not be earlier than conversion_time")
    identity = r.identity()
    value = r.number("adjustment_value", low=0)
    currency = r.currency("adjustment_currency_code")
    if kind == "Restate" and value is None and not any(p.field == "adjustment_value" for p in r.problems):
        r.problem("adjustment_value", "Restate needs the new value")
    if kind == "Retract" and r.values.get("adjustment_value") is not None:
        r.problem("adjustment_value", "Retract takes no value; leave it empty")
    if r.problems or conversion_time is None or adjustment_time is None:
        return r.problems
    return OfflineConversionAdjustment(
        adjustment_type=kind,
        adjustment_time=adjustment_time,
        adjustment_value=value,
        adjustment_currency_code=currency,
        conversion_name=name,
        conversion_time=conversion_time,
        **identity,
    )
