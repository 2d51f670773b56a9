"""Reading and validating conversion rows: every rule names the row's field, plain identities are hashed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bingbridge.api.models.campaign import OfflineConversion, OfflineConversionAdjustment
from bingbridge.conversions.hashing import hash_email, hash_phone, normalise_phone
from bingbridge.conversions.prepare import PrepareOptions, prepare_adjustment, prepare_conversion
from bingbridge.conversions.rows import InputRow, canonical_name, read_rows, rows_from_records
from bingbridge.errors import InputError

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OPTIONS = PrepareOptions(now=NOW)
CLICK = "f894f652ea334e739002f7167ab8f8e3"


def row(**values: object) -> InputRow:
    base: dict[str, object] = {
        "conversion_name": "Lead",
        "conversion_time": "2026-11-19T10:00:00Z",
        "microsoft_click_id": CLICK,
    }
    return InputRow(1, {k: v for k, v in {**base, **values}.items() if v is not None})


def problems(prepared: object) -> dict[str, str]:
    assert isinstance(prepared, list), prepared
    return {p.field: p.message for p in prepared}


def test_a_good_row_becomes_an_offline_conversion_in_utc() -> None:
    prepared = prepare_conversion(
        row(conversion_time="2026-11-19T11:00:00+01:00", conversion_value="12.5", conversion_currency_code="eur"),
        OPTIONS,
    )
    assert isinstance(prepared, OfflineConversion)
    assert prepared.conversion_time == datetime(2026, 11, 19, 10, 0, tzinfo=UTC)
    assert (prepared.conversion_value, prepared.conversion_currency_code) == (12.5, "EUR")
    assert prepared.to_wire()["ConversionTime"] == "2026-11-19T10:00:00Z"


def test_times_without_offset_use_the_default_zone() -> None:
    options = PrepareOptions(now=NOW, default_timezone=ZoneInfo("America/New_York"))
    prepared = prepare_conversion(row(conversion_time="2026-11-19 10:00:00"), options)
    assert isinstance(prepared, OfflineConversion)
    assert prepared.conversion_time == datetime(2026, 11, 19, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"conversion_name": None}, "conversion_name", "required"),
        ({"conversion_time": "yesterday"}, "conversion_time", "ISO 8601"),
        ({"conversion_time": "2026-11-21T00:00:00Z"}, "conversion_time", "in the future"),
        ({"conversion_time": (NOW - timedelta(days=91)).isoformat()}, "conversion_time", "more than 90 days"),
        ({"microsoft_click_id": "abc"}, "microsoft_click_id", "32 hexadecimal"),
        ({"microsoft_click_id": "f894f652-ea33-4e73-9002-f7167ab8f8e3"}, "microsoft_click_id", "remove the dashes"),
        ({"microsoft_click_id": None}, "microsoft_click_id", "give an MSCLKID, or an e-mail or phone"),
        ({"conversion_value": "-1"}, "conversion_value", "between 0"),
        ({"conversion_value": "ten"}, "conversion_value", "must be a number"),
        ({"conversion_currency_code": "XYZ"}, "conversion_currency_code", "ISO 4217"),
        ({"external_attribution_model": "Linear"}, "external_attribution_model", "together"),
        (
            {"external_attribution_model": "Linear", "external_attribution_credit": "1.5"},
            "external_attribution_credit",
            "between 0",
        ),
        ({"hashed_email_address": "ada@example.com"}, "hashed_email_address", "SHA-256"),
        ({"phone": "12", "microsoft_click_id": None}, "phone", "not a possible phone number"),
        ({"email": "a@b.co", "hashed_email_address": "0" * 64}, "email", "not both"),
    ],
)
def test_each_rule_names_the_field(values: dict[str, object], field: str, words: str) -> None:
    found = problems(prepare_conversion(row(**values), OPTIONS))
    assert field in found and words in found[field], found


def test_plain_email_and_phone_are_hashed_and_never_kept() -> None:
    prepared = prepare_conversion(
        row(microsoft_click_id=None, email=" Ada@Example.com ", phone="(415) 555-2671"), OPTIONS
    )
    assert isinstance(prepared, OfflineConversion)
    assert prepared.hashed_email_address == hashlib.sha256(b"ada@example.com").hexdigest()
    assert prepared.hashed_phone_number == hashlib.sha256(b"+14155552671").hexdigest()
    assert "Ada" not in prepared.model_dump_json() and "555" not in prepared.model_dump_json()


def test_problem_messages_never_repeat_plain_identities() -> None:
    found = problems(prepare_conversion(row(microsoft_click_id=None, phone="555-ABCD-not-a-phone"), OPTIONS))
    assert "555-ABCD" not in json.dumps(found)


def test_hashes_pass_through_lower_cased() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    assert hash_email(digest.upper()) == digest and hash_phone(digest, "US") == digest


def test_phone_normalisation_uses_the_default_country() -> None:
    assert normalise_phone("020 7946 0958", "GB") == "+442079460958"
    assert normalise_phone("+1 415 555 2671", "GB") == "+14155552671"


@pytest.mark.parametrize("column", ["ConversionName", "conversion_name", "Conversion Name", "CONVERSION_NAME"])
def test_column_names_in_any_spelling(column: str) -> None:
    assert canonical_name(column) == "conversion_name"


def test_short_column_names() -> None:
    assert [canonical_name(c) for c in ("msclkid", "email", "phone", "MicrosoftClickId")] == [
        "microsoft_click_id",
        "email",
        "phone",
        "microsoft_click_id",
    ]


def test_csv_rows_are_numbered_from_one_and_ragged_rows_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        f"\ufeffConversionName,ConversionTime,msclkid,Extra\nLead,2026-11-19T10:00:00Z,{CLICK},x\nLead,2026-11-19T10:00:00Z,{CLICK},x,oops\n"
    )
    source = read_rows(path)
    rows = list(source.rows)
    assert [r.number for r in rows] == [1, 2]
    assert rows[0].values["microsoft_click_id"] == CLICK and rows[1].read_error
    assert source.warnings == ["ignored unknown columns: Extra"]


def test_jsonl_bad_lines_become_rejected_rows(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text('{"ConversionName": "Lead"}\n{oops\n\n[1]\n')
    rows = list(read_rows(path).rows)
    assert [(r.number, bool(r.read_error)) for r in rows] == [(1, False), (2, True), (3, True)]


def test_microsofts_body_is_read_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({"OfflineConversions": [{"ConversionName": "Lead", "MicrosoftClickId": CLICK}]}))
    assert next(iter(read_rows(path).rows)).values == {"conversion_name": "Lead", "microsoft_click_id": CLICK}


def test_unknown_file_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"x.xlsx is not \.csv, \.jsonl or \.json"):
        read_rows(tmp_path / "x.xlsx")


def test_python_records_work_too() -> None:
    rows = list(rows_from_records([{"conversion_name": "Lead"}, "nope"]).rows)
    assert rows[0].values == {"conversion_name": "Lead"} and rows[1].read_error


def adjustment(**values: object) -> InputRow:
    base: dict[str, object] = {
        "adjustment_type": "Restate",
        "adjustment_time": "2026-11-20T10:00:00Z",
        "adjustment_value": "5",
        "conversion_name": "Lead",
        "conversion_time": "2026-11-19T10:00:00Z",
        "microsoft_click_id": CLICK,
    }
    return InputRow(1, {k: v for k, v in {**base, **values}.items() if v is not None})


def test_restate_and_retract_rules() -> None:
    assert isinstance(prepare_adjustment(adjustment(), OPTIONS), OfflineConversionAdjustment)
    assert isinstance(
        prepare_adjustment(adjustment(adjustment_type="Retract", adjustment_value=None), OPTIONS),
        OfflineConversionAdjustment,
    )
    assert "adjustment_value" in problems(prepare_adjustment(adjustment(adjustment_value=None), OPTIONS))
    assert (
        "Retract takes no value"
        in problems(prepare_adjustment(adjustment(adjustment_type="Retract"), OPTIONS))["adjustment_value"]
    )
    assert (
        "earlier"
        in problems(prepare_adjustment(adjustment(adjustment_time="2026-11-18T00:00:00Z"), OPTIONS))["adjustment_time"]
    )
    assert (
        "Restate or Retract"
        in problems(prepare_adjustment(adjustment(adjustment_type="Undo"), OPTIONS))["adjustment_type"]
    )
