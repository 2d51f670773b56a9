"""The event contract: each field's rule, hashing on arrival, and the MSCLKID lookup order of `match_keys`."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest

from bingbridge.store import utcnow
from bingbridge.tracking.events import (
    BatchTooLarge,
    Event,
    columns,
    match_keys,
    parse_event,
    parse_events,
)
from tests.tracking.ingest_support import MSCLKID, OTHER_MSCLKID, THIRD_MSCLKID, make_event

NOW = utcnow()
IN_AN_HOUR = (NOW + timedelta(hours=1)).isoformat() + "Z"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def valid(raw: dict[str, Any], *, country: str = "US") -> Event:
    parsed = parse_event(raw, now=NOW, default_country=country)
    assert isinstance(parsed, Event), parsed
    return parsed


def problems(raw: Any) -> list[tuple[str, str]]:
    parsed = parse_event(raw, now=NOW)
    assert not isinstance(parsed, Event), "the event was accepted"
    return parsed


def test_timestamp_with_offset_is_stored_as_naive_utc() -> None:
    event = valid(make_event(timestamp="2026-02-28T10:00:00+02:00"))
    assert event.timestamp == datetime(2026, 2, 28, 8, 0, 0)


def test_timestamp_without_offset_is_utc() -> None:
    assert valid(make_event(timestamp="2026-02-28T10:00:00")).timestamp == datetime(2026, 2, 28, 10, 0, 0)
    assert valid(make_event(timestamp="2026-02-28T10:00:00Z")).timestamp == datetime(2026, 2, 28, 10, 0, 0)


def test_email_and_phone_are_hashed_on_arrival() -> None:
    event = valid(make_event(user={"email": "  Jane.Doe@Example.COM ", "phone": "(415) 555-2671"}))
    assert event.user is not None
    assert event.user.hashed_email == sha256("jane.doe@example.com")
    assert event.user.hashed_phone == sha256("+14155552671")
    assert "Jane" not in event.model_dump_json() and "(415) 555" not in event.model_dump_json()


def test_national_phone_numbers_follow_the_default_country() -> None:
    event = valid(make_event(user={"phone": "020 7946 0958"}), country="GB")
    assert event.user is not None and event.user.hashed_phone == sha256("+442079460958")


def test_hashes_pass_through_and_blank_identities_are_absent() -> None:
    hashed = "AB" * 32
    event = valid(make_event(user={"email": hashed, "phone": "  "}))
    assert event.user is not None
    assert (event.user.hashed_email, event.user.hashed_phone) == (hashed.lower(), None)


def test_currency_and_consent_are_normalised() -> None:
    event = valid(make_event(currency="usd", consent={"ad_storage": " DENIED ", "analytics_storage": "granted"}))
    assert event.currency == "USD"
    assert event.consent is not None and event.consent.ad_storage == "denied"


def test_value_may_be_a_numeric_string_or_absent() -> None:
    assert valid(make_event(value="12.50")).value == 12.5
    assert valid(make_event(value=None)).value is None


def test_unknown_fields_are_ignored() -> None:
    assert valid(make_event(channel="web")).event_id == "e-1"


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"event_id": None}, "event_id", "valid string"),
        ({"event_id": "   "}, "event_id", "at least 1"),
        ({"event_id": "x" * 201}, "event_id", "at most 200"),
        ({"event_id": 42}, "event_id", "valid string"),
        ({"event_id": "a\x00b"}, "event_id", "NUL"),
        ({"event_name": ""}, "event_name", "at least 1"),
        ({"event_name": "n" * 101}, "event_name", "at most 100"),
        ({"event_name": "bad\ud800"}, "event_name", "valid string"),
        ({"timestamp": "yesterday"}, "timestamp", "ISO 8601"),
        ({"timestamp": 1767225600}, "timestamp", "ISO 8601"),
        ({"timestamp": "0001-01-01T00:00:00+05:00"}, "timestamp", "ISO 8601"),
        ({"timestamp": "9999-12-31T23:59:59-05:00"}, "timestamp", "ISO 8601"),
        ({"timestamp": IN_AN_HOUR}, "timestamp", "in the future"),
        ({"value": -1}, "value", "between 0 and"),
        ({"value": 1e308}, "value", "between 0 and 1,000,000,000,000"),
        ({"value": True}, "value", "number"),
        ({"value": "ten"}, "value", "number"),
        ({"value": float("inf")}, "value", "between 0 and"),
        ({"currency": "EURO"}, "currency", "ISO 4217"),
        ({"currency": 978}, "currency", "ISO 4217"),
        ({"consent": {"ad_storage": "maybe"}}, "consent.ad_storage", "'granted' or 'denied'"),
        ({"consent": {"ad_storage": True}}, "consent.ad_storage", "'granted' or 'denied'"),
        ({"consent": "denied"}, "consent", "object"),
        ({"user": {"email": "jane.doe at example.com"}}, "user.email", "not an e-mail"),
        ({"user": {"phone": "12"}}, "user.phone", "phone number"),
        ({"user": {"email": ["x"]}}, "user.email", "valid string"),
        ({"click_ids": {"msclkid": "not-a-click-id"}}, "click_ids.msclkid", "32 hexadecimal"),
        ({"click_ids": {"msclkid": "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"}}, "click_ids.msclkid", "remove the dashes"),
        ({"click_ids": {"gclid": 5}}, "click_ids.gclid", "valid string"),
        ({"click_ids": {"wbraid": "w" * 501}}, "click_ids.wbraid", "at most 500"),
        ({"click_ids": {"bad name!": "x"}}, "click_ids", "letters, digits"),
        ({"click_ids": ["x"]}, "click_ids", "object"),
        ({"msclkid": "xyz"}, "msclkid", "32 hexadecimal"),
        ({"properties": {"MSCLKID": "xyz"}}, "properties.MSCLKID", "32 hexadecimal"),
        ({"properties": {"msclkid": 12}}, "properties.msclkid", "valid string"),
        (
            {"properties": {"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}},
            "properties",
            "deeper",
        ),
        ({"properties": {"note": "a\x00"}}, "properties", "NUL"),
        ({"properties": {"x": float("nan")}}, "properties", "finite"),
        ({"properties": "free text"}, "properties", "object"),
    ],
)
def test_each_rule_names_its_field(fields: dict[str, Any], field: str, fragment: str) -> None:
    found = problems(make_event(**fields))
    assert any(f == field and fragment in message for f, message in found), found


def test_a_missing_field_is_named() -> None:
    raw = make_event()
    del raw["timestamp"]
    assert ("timestamp", "Field required") in problems(raw)


def test_an_event_must_be_an_object() -> None:
    assert problems(["not", "an", "event"]) == [("(event)", "an event must be a JSON object")]


def test_problems_never_repeat_the_plain_value() -> None:
    found = problems(make_event(user={"email": "secret.person at example.com", "phone": "555"}))
    assert len(found) == 2
    assert not any("secret" in message or "555" in message for _, message in found)


def test_a_timestamp_slightly_ahead_is_taken_as_now() -> None:
    assert valid(make_event(timestamp=(NOW + timedelta(minutes=4)).isoformat())).timestamp == NOW


# ---- batches ----


def test_one_event_or_a_batch() -> None:
    single, _ = parse_events(make_event(), now=NOW)
    batch, bad = parse_events({"events": [make_event("a"), {"event_id": "b"}, make_event("c")]}, now=NOW)
    assert [i for i, _ in single] == [0]
    assert [(i, e.event_id) for i, e in batch] == [(0, "a"), (2, "c")]
    assert {(p.index, p.event_id, p.field) for p in bad} == {(1, "b", "event_name"), (1, "b", "timestamp")}


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"events": "x"}, "must be a list"),
        ({"events": []}, "empty"),
        ([make_event()], "one event object or a batch"),
        ("purchase", "one event object or a batch"),
    ],
)
def test_a_body_that_is_neither_is_refused(payload: Any, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_events(payload, now=NOW)


def test_a_batch_over_the_limit_is_refused() -> None:
    with pytest.raises(BatchTooLarge, match="3 events; send at most 2"):
        parse_events({"events": [make_event(str(i)) for i in range(3)]}, now=NOW, max_events=2)


# ---- the MSCLKID lookup order ----


def keys_of(raw: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    return match_keys(columns(valid(raw)))


def test_click_ids_object_comes_first() -> None:
    raw = make_event(click_ids={"msclkid": MSCLKID}, msclkid=OTHER_MSCLKID, properties={"msclkid": THIRD_MSCLKID})
    assert keys_of(raw)[0] == MSCLKID


def test_legacy_top_level_field_comes_second() -> None:
    raw = make_event(click_ids={"gclid": "g-1"}, msclkid=OTHER_MSCLKID, properties={"msclkid": THIRD_MSCLKID})
    assert keys_of(raw)[0] == OTHER_MSCLKID


def test_properties_come_last_in_either_spelling() -> None:
    assert keys_of(make_event(click_ids=None, properties={"msclkid": THIRD_MSCLKID}))[0] == THIRD_MSCLKID
    assert keys_of(make_event(click_ids=None, properties={"MSCLKID": THIRD_MSCLKID}))[0] == THIRD_MSCLKID


def test_without_a_click_id_the_hashes_are_the_keys() -> None:
    raw = make_event(click_ids={}, properties={}, user={"email": "a@example.com"})
    assert keys_of(raw) == (None, sha256("a@example.com"), None)


def test_nothing_to_match_with() -> None:
    assert keys_of(make_event(click_ids={"gclid": "g-1"}, properties={})) == (None, None, None)


def test_stored_click_ids_keep_every_platform_and_the_object_wins() -> None:
    event = valid(make_event(click_ids={"msclkid": MSCLKID, "li_fat_id": "l-1"}, msclkid=OTHER_MSCLKID, gclid="g-0"))
    assert event.stored_click_ids() == {"msclkid": MSCLKID, "gclid": "g-0", "li_fat_id": "l-1"}


def test_personal_data_in_properties_is_hashed_or_dropped() -> None:
    properties = {
        "email": " Ada@Example.com ",
        "Phone_Number": "+1 206 555 0100",
        "first_name": "Ada",
        "nested": {"Street Address": "1 Main St", "e-mail": "not an address", "items": [{"zip": "98052", "sku": "S"}]},
        "order": "A-1",
    }
    stored = valid(make_event(properties=properties)).stored_properties()
    assert stored == {
        "email": sha256("ada@example.com"),
        "Phone_Number": sha256("+12065550100"),
        "nested": {"items": [{"sku": "S"}]},
        "order": "A-1",
    }
