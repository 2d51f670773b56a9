"""One table of inputs through both faces of the conversion contract: `bingbridge conversions upload` (a file row)
and `POST /v1/events` (an event). Both accept the same inputs and refuse the same ones, naming the same field (each
in its own spelling, `contract.FACE_FIELDS`) with the same message."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bingbridge.cli import cli
from bingbridge.conversions.contract import FACE_FIELDS, MAX_VALUE
from bingbridge.store import utcnow
from tests.tracking.ingest_support import TestClient

MSCLKID = "f894f652ea334e739002f7167ab8f8e3"
NOW = utcnow()


def at(delta: timedelta) -> str:
    return (NOW + delta).isoformat(timespec="seconds") + "Z"


HOUR_AGO = at(timedelta(hours=-1))
VALUE_RANGE = f"must be between 0 and {MAX_VALUE:,.0f}"

# (logical inputs, expected): None = accepted; else (logical field, message) of the first problem.
CASES: list[tuple[dict[str, Any], tuple[str, str] | None]] = [
    ({}, None),
    ({"value": "12.50"}, None),
    ({"value": -1}, ("value", VALUE_RANGE)),
    ({"value": 1e308}, ("value", VALUE_RANGE)),
    ({"value": "ten"}, ("value", "must be a number (e.g. 49.90)")),
    ({"value": True}, ("value", "must be a number (e.g. 49.90), not true or false")),
    ({"currency": "eur", "value": 3}, None),
    ({"currency": "EURO"}, ("currency", "must be an ISO 4217 currency code (e.g. USD, EUR)")),
    ({"time": "yesterday"}, ("time", "must be an ISO 8601 date-time such as 2026-11-20T14:30:00Z")),
    ({"time": 1767225600}, ("time", "must be an ISO 8601 date-time such as 2026-11-20T14:30:00Z")),
    ({"time": (NOW - timedelta(hours=1)).isoformat(sep=" ", timespec="minutes")}, None),
    ({"time": at(timedelta(minutes=2))}, None),
    ({"time": at(timedelta(hours=1))}, ("time", "in the future")),
    ({"time": at(timedelta(days=-100))}, ("time", "is more than 90 days ago; Microsoft rejects it (5609)")),
    ({"msclkid": "f894f652-ea33-4e73-9002-f7167ab8f8e3"}, ("msclkid", "remove the dashes")),
    ({"msclkid": None}, ("msclkid", "give an MSCLKID, or an e-mail or phone for enhanced conversions")),
    ({"msclkid": None, "email": "Buyer@Example.com"}, None),
    ({"msclkid": None, "email": "buyer at example.com"}, ("email", "is not an e-mail address")),
    ({"msclkid": None, "phone": "+1 206 555 0100"}, None),
    ({"msclkid": None, "phone": "12"}, ("phone", "phone number")),
]


def _normalised(message: str) -> str:
    return re.sub(r"\(server time [^)]*\)", "(server time …)", message)


def as_row(inputs: dict[str, Any]) -> dict[str, Any]:
    values = {"time": HOUR_AGO, "msclkid": MSCLKID, **inputs}
    row = {"conversion_name": "Purchase"}
    row.update({FACE_FIELDS[k]["file"]: v for k, v in values.items() if v is not None})
    return row


def as_event(inputs: dict[str, Any]) -> dict[str, Any]:
    values = {"time": HOUR_AGO, "msclkid": MSCLKID, **inputs}
    event: dict[str, Any] = {"event_id": "case", "event_name": "purchase", "consent": {"ad_storage": "granted"}}
    for key, value in values.items():
        if value is None:
            continue
        *parents, leaf = FACE_FIELDS[key]["event"].split(".")
        target = event
        for parent in parents:
            target = target.setdefault(parent, {})
        target[leaf] = value
    return event


def file_face(tmp_path: Path, inputs: dict[str, Any]) -> tuple[str, str] | None:
    """The first problem `conversions upload --dry-run` reports for the row, or None when it is valid."""
    source, report = tmp_path / "rows.jsonl", tmp_path / "report.json"
    source.write_text(json.dumps(as_row(inputs)) + "\n")
    result = CliRunner().invoke(cli, ["conversions", "upload", str(source), "--dry-run", "--report", str(report)])
    assert result.exit_code in (0, 1), result.output  # 1: some rows were refused
    (row,) = json.loads(report.read_text())["rows"]
    if row["status"] == "accepted":
        return None
    assert row["status"] == "rejected_local", row
    assert row["reason"].startswith(row["field"] + ": ")  # each case breaks one rule: the reason is its message
    return row["field"], row["reason"].removeprefix(row["field"] + ": ")


def event_face(client: TestClient, auth: dict[str, str], inputs: dict[str, Any]) -> tuple[str, str] | None:
    """The first problem `POST /v1/events` names (a refused event, or a failed offline dispatch), or None."""
    response = client.post("/v1/events", json=as_event(inputs), headers=auth)
    answer = response.json()
    if response.status_code == 422:
        first = answer["rejected"][0]
        return first["field"], first["message"]
    assert response.status_code == 200, answer
    (decision,) = [d for d in answer["results"][0]["dispatches"] if d["channel"] == "offline"]
    if decision["status"] == "pending":
        return None
    assert decision["status"] == "failed", decision
    return decision["field"], decision["message"]


def logical(found: tuple[str, str] | None, face: str) -> tuple[str, str] | None:
    if found is None:
        return None
    names = {spelling[face]: name for name, spelling in FACE_FIELDS.items()}  # type: ignore[index]
    return names.get(found[0], found[0]), _normalised(found[1])


@pytest.mark.parametrize(("inputs", "expected"), CASES)
def test_both_faces_accept_and_refuse_the_same_inputs_alike(
    inputs: dict[str, Any],
    expected: tuple[str, str] | None,
    tmp_path: Path,
    client: TestClient,
    auth: dict[str, str],
) -> None:
    by_file = logical(file_face(tmp_path, inputs), "file")
    by_event = logical(event_face(client, auth, inputs), "event")
    assert by_file == by_event
    if expected is None:
        assert by_file is None
    else:
        assert by_file is not None and by_file[0] == expected[0] and expected[1] in by_file[1], by_file
