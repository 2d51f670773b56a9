"""Turning one input row into an OfflineConversion (or adjustment), or into the reasons it cannot be sent.

The rules shared with tracked events (time, value, currency, identities, hashing, the 90-day window) are
`conversions.contract`'s; the file-only rules live here: a goal name, external attribution model and credit
together (credit between 0 and 1), and the adjustment rules.

Where a file differs from an event, on purpose: a file row older than 90 days is refused here (the whole file is
for the offline channel), while an event is stored and only its offline dispatch is `failed` (it may still go to
the Conversions API, and the event log keeps it); a file's time without offset is in `default_timezone`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

from bingbridge.api.models.campaign import OfflineConversion, OfflineConversionAdjustment
from bingbridge.conversions import contract
from bingbridge.conversions.contract import FACE_FIELDS, MAX_GOAL_NAME, OFFLINE_NO_IDENTITY, OFFLINE_TOO_OLD, Broken
from bingbridge.conversions.hashing import is_hashed
from bingbridge.conversions.rows import InputRow
from bingbridge.errors import FieldProblem

R = TypeVar("R")


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

    def rule(self, field: str, check: Callable[[Any], R], raw: Any) -> R | None:
        """`check(raw)`, or None with the rule's message recorded against `field`."""
        try:
            return check(raw)
        except Broken as exc:
            self.problem(field, str(exc))
            return None

    def time(self, field: str, *, required: bool = True) -> datetime | None:
        raw = self.text(field)
        if raw is None:
            if required:
                self.problem(field, f"required ({contract.TIME_HINT})")
            return None
        zone = self.options.default_timezone
        return self.rule(field, lambda v: contract.parse_time(v, default_timezone=zone), raw)

    def recent_time(self, field: str) -> datetime | None:
        """A time not in the future (beyond clock drift) and not older than 90 days (Microsoft's window)."""
        value = self.time(field)
        if value is None:
            return None
        value = self.rule(field, lambda v: contract.not_future(v, self.options.now), value)
        if value is not None and contract.too_old(value, self.options.now, contract.OFFLINE_WINDOW, OFFLINE_TOO_OLD):
            self.problem(field, OFFLINE_TOO_OLD.message)
        return value

    def number(self, field: str, *, low: float, high: float) -> float | None:
        """A number of a file-only field (attribution credit) within [low, high]."""
        raw = self.values.get(field)
        if raw is None:
            return None
        try:
            value = float(raw)
        except (TypeError, ValueError):
            self.problem(field, "must be a number")
            return None
        if not low <= value <= high:
            self.problem(field, f"must be between {low} and {high}")
            return None
        return value

    def identity(self) -> dict[str, str | None]:
        """Click id and hashed identifiers; plain e-mail/phone are hashed here and never kept."""
        click = self.text("microsoft_click_id")
        if click is not None:
            click = self.rule("microsoft_click_id", contract.check_msclkid, click)
        hashed_email = self._hashed("hashed_email_address", "email", contract.hashed_email)
        hashed_phone = self._hashed(
            "hashed_phone_number", "phone", lambda v: contract.hashed_phone(v, self.options.default_country)
        )
        if click is None and hashed_email is None and hashed_phone is None and not self.problems:
            self.problem(FACE_FIELDS[OFFLINE_NO_IDENTITY.field]["file"], OFFLINE_NO_IDENTITY.message)
        return {"microsoft_click_id": click, "hashed_email_address": hashed_email, "hashed_phone_number": hashed_phone}

    def _hashed(self, hashed_field: str, plain_field: str, hasher: Callable[[str], str]) -> str | None:
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
        return self.rule(plain_field, hasher, plain)  # the message never repeats the value


def prepare_conversion(row: InputRow, options: PrepareOptions) -> OfflineConversion | list[FieldProblem]:
    """Validate and normalise one row into the OfflineConversion Microsoft expects."""
    if row.read_error:
        return [FieldProblem("row", row.read_error)]
    r = _Row(row, options)
    name = r.text("conversion_name")
    if name is None:
        r.problem("conversion_name", "required: the name of an offline conversion goal")
    elif len(name) > MAX_GOAL_NAME:
        r.problem("conversion_name", f"at most {MAX_GOAL_NAME} characters (goal names are), got {len(name)}")
    when = r.recent_time("conversion_time")
    identity = r.identity()
    value = r.rule("conversion_value", contract.parse_value, r.values.get("conversion_value"))
    currency = r.rule("conversion_currency_code", contract.parse_currency, r.text("conversion_currency_code"))
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
    value = r.rule("adjustment_value", contract.parse_value, r.values.get("adjustment_value"))
    currency = r.rule("adjustment_currency_code", contract.parse_currency, r.text("adjustment_currency_code"))
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
