"""Reading conversions from CSV, JSON Lines or Microsoft's JSON body, one numbered row at a time.

Row numbers count records from 1 (a CSV header line is not a record), so "row 3" is the third conversion in the
file whatever its format. Column names may be Microsoft's (ConversionName), snake_case (conversion_name) or the
short forms msclkid, email and phone.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from bingbridge.errors import InputError

CANONICAL = (
    "conversion_name",
    "conversion_time",
    "conversion_value",
    "conversion_currency_code",
    "microsoft_click_id",
    "hashed_email_address",
    "hashed_phone_number",
    "external_attribution_model",
    "external_attribution_credit",
    "email",
    "phone",
    # adjustments
    "adjustment_type",
    "adjustment_time",
    "adjustment_value",
    "adjustment_currency_code",
)
_SHORT = {"msclkid": "microsoft_click_id", "email_address": "email", "phone_number": "phone"}


@cache  # files repeat the same few column names on every row
def canonical_name(column: str) -> str | None:
    """`ConversionName`, `conversion_name` and `Conversion Name` all map to `conversion_name`."""
    key = column.strip()
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).replace(" ", "_").replace("-", "_").lower()
    snake = _SHORT.get(snake, snake)
    return snake if snake in CANONICAL else None


@dataclass(frozen=True)
class InputRow:
    """One record: its number, its values by canonical name, and why it could not be read (if so)."""

    number: int
    values: dict[str, Any]
    read_error: str | None = None


@dataclass
class RowSource:
    """Rows plus what was noticed about the file as a whole (unknown columns)."""

    rows: Iterable[InputRow]
    warnings: list[str] = field(default_factory=list)


def _mapped(record: dict[str, Any], unknown: set[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in record.items():
        if key is None:
            continue
        name = canonical_name(key)
        if name is None:
            unknown.add(key)
        elif value not in (None, ""):
            values[name] = value.strip() if isinstance(value, str) else value
    return values


def _text_encoding(encoding: str) -> str:
    """UTF-8 files may start with Excel's byte order mark; reading them as utf-8-sig drops it."""
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


def _not_decodable(path: Path, encoding: str) -> InputError:
    """Name the file, the encoding tried, and the encoding it most likely has."""
    with path.open("rb") as fh:
        head = fh.read(2)
    likely = "utf-16" if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "cp1252"
    return InputError(
        f"{path.name} is not {encoding}",
        hint=f"Save it as CSV UTF-8, or pass --encoding {likely} (the encoding it was written in).",
    )


def _csv_rows(path: Path, encoding: str, unknown: set[str]) -> Iterator[InputRow]:
    try:
        with path.open(newline="", encoding=_text_encoding(encoding)) as fh:
            reader = csv.DictReader(fh)
            for number, record in enumerate(reader, start=1):
                if None in record:
                    yield InputRow(number, {}, f"has {len(record[None])} more fields than the header")
                    continue
                yield InputRow(number, _mapped(record, unknown))
    except UnicodeError:
        raise _not_decodable(path, encoding) from None


def _record_row(number: int, record: Any, unknown: set[str]) -> InputRow:
    if isinstance(record, dict):
        return InputRow(number, _mapped(record, unknown))
    return InputRow(number, {}, f"is not a JSON object: {str(record)[:60]!r}")


def _record_rows(records: Iterable[Any], unknown: set[str]) -> Iterator[InputRow]:
    for number, record in enumerate(records, start=1):
        yield _record_row(number, record, unknown)


def _jsonl_rows(path: Path, encoding: str, unknown: set[str]) -> Iterator[InputRow]:
    try:
        yield from _jsonl_lines(path, encoding, unknown)
    except UnicodeError:
        raise _not_decodable(path, encoding) from None


def _jsonl_lines(path: Path, encoding: str, unknown: set[str]) -> Iterator[InputRow]:
    number = 0
    with path.open(encoding=_text_encoding(encoding)) as fh:
        for line in fh:
            if not line.strip():
                continue
            number += 1
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield InputRow(number, {}, f"is not valid JSON ({exc.msg})")
                continue
            yield _record_row(number, record, unknown)


_BODY_SHAPE = 'Give {"OfflineConversions": [{...}, ...]} or a JSON list of conversions.'


def body_records(body: Any, label: str = "the body") -> list[Any]:
    """The conversions of Microsoft's body `{"OfflineConversions": [...]}` (or a plain list)."""
    if isinstance(body, dict):
        for key in ("OfflineConversions", "offline_conversions", "OfflineConversionAdjustments"):
            if key in body:
                records = body[key] or []
                if not isinstance(records, list):
                    raise InputError(f"{label}: {key} is {type(records).__name__}, not a list", hint=_BODY_SHAPE)
                return records
        raise InputError(f"{label} has no OfflineConversions list", hint=_BODY_SHAPE)
    if isinstance(body, list):
        return body
    raise InputError(f"{label} is a JSON {type(body).__name__}, not an object or list", hint=_BODY_SHAPE)


def _json_body(path: Path, encoding: str) -> Any:
    try:
        return json.loads(path.read_text(encoding=_text_encoding(encoding)))
    except UnicodeError:
        raise _not_decodable(path, encoding) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            hint="Fix the JSON (or use .jsonl for one conversion per line).",
        ) from None


def read_rows(path: Path, encoding: str = "utf-8") -> RowSource:
    """Stream rows from a .csv, .jsonl/.ndjson or .json file written in `encoding`."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"unknown encoding {encoding!r}", hint="Use e.g. utf-8, cp1252 or utf-16.") from None
    unknown: set[str] = set()
    suffix = path.suffix.lower()
    rows: Iterable[InputRow]
    if suffix == ".csv":
        rows = _csv_rows(path, encoding, unknown)
    elif suffix in (".jsonl", ".ndjson"):
        rows = _jsonl_rows(path, encoding, unknown)
    elif suffix == ".json":
        rows = _record_rows(body_records(_json_body(path, encoding), path.name), unknown)
    else:
        raise InputError(f"{path.name} is not .csv, .jsonl or .json", hint="Rename it to the format it is in.")
    source = RowSource(rows)
    return _with_unknown_warning(source, unknown)


def rows_from_records(records: Iterable[Any]) -> RowSource:
    """Rows from Python dicts (any of the accepted key spellings)."""
    unknown: set[str] = set()
    return _with_unknown_warning(RowSource(_record_rows(records, unknown)), unknown)


def _with_unknown_warning(source: RowSource, unknown: set[str]) -> RowSource:
    def rows() -> Iterator[InputRow]:
        yield from source.rows
        if unknown:
            source.warnings.append(f"ignored unknown columns: {', '.join(sorted(unknown))}")

    return RowSource(rows(), source.warnings)
