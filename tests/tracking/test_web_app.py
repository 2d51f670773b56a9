"""The HTTP API: authentication, 4xx for every kind of bad input (never a 500), limits, partial batches,
durability, the dispatch log and health endpoints, OpenAPI, the snippet, CORS and the worker thread."""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import Engine, select, update
from sqlalchemy.pool import NullPool

from bingbridge.settings import Settings
from bingbridge.store import create_engine_for, migrate, utcnow
from bingbridge.store.schema import dispatches
from bingbridge.tracking.destinations import Destination
from bingbridge.tracking.workspaces import (
    create_key,
    create_workspace,
    list_keys,
    revoke_key,
    rotate_key,
)
from bingbridge.web import create_app
from bingbridge.web.app import KeyCache
from tests.tracking.ingest_support import TestClient, make_event, stored_dispatches, stored_events

# ---- authentication ----


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        (None, "missing Authorization header"),
        ("Basic dXNlcjpwYXNz", "must be `Bearer <key>`"),
        ("Bearer ", "must be `Bearer <key>`"),
        ("Bearer bbk_not-a-key", "unknown or revoked key"),
    ],
)
def test_a_request_without_a_valid_key_is_401(client: TestClient, header: str | None, fragment: str) -> None:
    headers = {"Authorization": header} if header is not None else {}
    for response in (
        client.post("/v1/events", json=make_event(), headers=headers),
        client.get("/v1/dispatch-log", headers=headers),
        client.get("/v1/health", headers=headers),
    ):
        assert response.status_code == 401
        assert fragment in response.json()["detail"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_the_key_is_checked_before_the_body_is_read(client: TestClient) -> None:
    response = client.post("/v1/events", content=b"x" * (2 << 20))
    assert response.status_code == 401


# ---- bad input: always a 4xx naming the problem ----

NESTED = b'{"a":' * 200_000 + b"1" + b"}" * 200_000


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"", 400, "the body is empty"),
        (b"{", 400, "not valid JSON"),
        (b"\xff\xfe{}", 400, "not UTF-8"),
        (b'{"event_id": NaN}', 400, "NaN is not JSON"),
        (b'{"value": Infinity}', 400, "Infinity is not JSON"),
        (b'{"value": ' + b"9" * 5000 + b"}", 400, "not acceptable JSON"),
        (b"[" * 200_000 + b"]" * 200_000, 400, "nests too deeply"),
        (NESTED, 413, "larger than"),
        (b"[]", 422, "one event object or a batch"),
        (b'"purchase"', 422, "one event object or a batch"),
        (b"null", 422, "one event object or a batch"),
        (b'{"events": {}}', 422, "must be a list"),
        (b'{"events": []}', 422, "is empty"),
        (b'{"events": [1, "x", null]}', 422, "an event must be a JSON object"),
        (b"{}", 422, "Field required"),
        (json.dumps(make_event(consent={"ad_storage": "yes"})).encode(), 422, "'granted' or 'denied'"),
        (json.dumps(make_event(value="1e400")).encode(), 422, "between 0 and"),
        (json.dumps(make_event(event_id="a\x00b")).encode(), 422, "NUL"),
        (b'{"event_id": "\\ud800", "event_name": "x", "timestamp": "2026-01-01"}', 422, "valid string"),
        (json.dumps(make_event(properties={"p": "\ud800"})).encode(), 422, "lone surrogate"),
        (json.dumps(make_event(click_ids={"\ud800": "x"})).encode(), 422, "click id names"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_problem(
    client: TestClient, auth: dict[str, str], body: bytes, status: int, fragment: str
) -> None:
    response = client.post("/v1/events", content=body, headers=auth)
    assert response.status_code == status, response.text
    answer = response.json()
    text = answer["detail"] + " ".join(p["message"] for p in answer.get("rejected", []))
    assert fragment in text


def test_a_key_given_twice_is_refused_and_nothing_is_stored(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    event = json.dumps(make_event(consent={"ad_storage": "denied"}))
    body = event.replace('"ad_storage": "denied"', '"ad_storage": "denied", "ad_storage": "granted"')
    response = client.post("/v1/events", content=f'{{"events": [{body}]}}'.encode(), headers=auth)
    assert response.status_code == 400
    assert "'ad_storage' appears twice" in response.json()["detail"]
    assert stored_events(engine) == []


def test_an_invalid_event_is_described_field_by_field(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/v1/events", json=make_event("bad", currency="EURO", value=-2), headers=auth)
    assert response.status_code == 422
    assert response.json()["rejected"] == [
        {"index": 0, "event_id": "bad", "field": "value", "message": "must be between 0 and 1,000,000,000,000"},
        {
            "index": 0,
            "event_id": "bad",
            "field": "currency",
            "message": "must be an ISO 4217 currency code (e.g. USD, EUR)",
        },
    ]


WRONG_VALUES: list[Any] = [None, 0, -1, 1.5, True, "", " ", "x" * 300, [], {}, [1, {"a": None}], "\x00", "\ud800"]
WRONG_VALUES += [10**30, -(10**30), 1e308, "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1" * 300]
FIELDS = ["event_id", "event_name", "timestamp", "value", "currency", "consent", "user", "click_ids", "properties"]
FIELDS += ["msclkid", "gclid"]


def test_no_wrong_value_in_any_field_makes_a_500(client: TestClient, auth: dict[str, str]) -> None:
    statuses = set()
    for field in FIELDS:
        for value in WRONG_VALUES:
            for where in ("top", "consent.ad_storage", "user.email", "user.phone", "click_ids.msclkid"):
                event = make_event(f"{field}-{len(statuses)}")
                if where == "top":
                    event[field] = value
                else:
                    outer, inner = where.split(".")
                    event[outer] = {inner: value}
                body = json.dumps(event).encode("utf-8", "surrogatepass")
                response = client.post("/v1/events", content=body, headers=auth)
                assert response.status_code < 500, (field, value, where, response.text)
                statuses.add(response.status_code)
    assert statuses <= {200, 400, 422}


def test_content_type_is_not_required(client: TestClient, auth: dict[str, str]) -> None:
    # navigator.sendBeacon posts JSON as text/plain.
    headers = {**auth, "Content-Type": "text/plain;charset=UTF-8"}
    assert client.post("/v1/events", content=json.dumps(make_event()), headers=headers).status_code == 200


def test_compressed_bodies_are_refused(client: TestClient, auth: dict[str, str]) -> None:
    response = client.post("/v1/events", content=b"\x1f\x8b", headers={**auth, "Content-Encoding": "gzip"})
    assert response.status_code == 415


def test_bad_dispatch_log_queries_are_422(client: TestClient, api_auth: dict[str, str]) -> None:
    queries = ["status=lost", "since=yesterday", "limit=0", "limit=5000", "destination_id=x", "before_id=-1"]
    queries += ["destination_id=" + "9" * 30, "before_id=" + "9" * 30, "event_name=a%00b", "event_id=%00"]
    queries += ["since=0001-01-01T00:00:00%2B05:00", "until=9999-12-31T23:59:59-05:00"]
    for query in queries:
        response = client.get(f"/v1/dispatch-log?{query}", headers=api_auth)
        assert response.status_code == 422, query
        assert response.json()["errors"][0]["field"] in query


# ---- limits ----


def test_a_body_over_1_mib_is_413(client: TestClient, auth: dict[str, str]) -> None:
    big = json.dumps(make_event(properties={"padding": "x" * (1 << 20)}))
    response = client.post("/v1/events", content=big, headers=auth)
    assert response.status_code == 413
    assert "larger than 1048576 bytes" in response.json()["detail"]


def test_a_streamed_body_over_the_limit_is_413_without_content_length(client: TestClient, auth: dict[str, str]) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 65536

    response = client.post("/v1/events", content=chunks(), headers=auth)
    assert response.status_code == 413


def test_a_batch_over_1000_events_is_413(client: TestClient, auth: dict[str, str], engine: Engine) -> None:
    batch = {"events": [{"event_id": str(i), "event_name": "x", "timestamp": "2026-01-01"} for i in range(1001)]}
    response = client.post("/v1/events", json=batch, headers=auth)
    assert response.status_code == 413
    assert "1001 events; send at most 1000" in response.json()["detail"]
    assert stored_events(engine) == []


def test_limits_are_options_of_the_app(settings: Settings, engine: Engine, auth: dict[str, str]) -> None:
    with TestClient(create_app(settings, engine, max_body_bytes=100, max_batch=1)) as small:
        assert small.post("/v1/events", json=make_event(), headers=auth).status_code == 413
        response = small.post("/v1/events", json={"events": [{}, {}]}, headers=auth)
        assert response.status_code == 413


# ---- what a 2xx means ----


def test_a_batch_with_invalid_events_stores_the_valid_ones(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    client.post("/v1/events", json=make_event("seen"), headers=auth)
    batch = {
        "events": [
            make_event("ok-1"),
            make_event("broken", timestamp="soon"),
            make_event("seen"),
            make_event("ok-2", "page_view"),
        ]
    }
    response = client.post("/v1/events", json=batch, headers=auth)
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == ["ok-1", "ok-2"]
    assert answer["duplicates"] == ["seen"]
    assert [(p["index"], p["event_id"], p["field"]) for p in answer["rejected"]] == [(1, "broken", "timestamp")]
    assert answer["dispatch"] == {"pending": 1, "skipped": 1}
    assert [(r["index"], r["status"]) for r in answer["results"]] == [
        (0, "accepted"),
        (2, "duplicate"),
        (3, "accepted"),
    ]
    assert {e.event_id for e in stored_events(engine)} == {"seen", "ok-1", "ok-2"}


def test_a_batch_with_no_valid_event_is_422_and_stores_nothing(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    response = client.post(
        "/v1/events", json={"events": [{"event_id": "a"}, make_event("b", currency="XXX1")]}, headers=auth
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("no valid event in the request: ")
    assert {p["index"] for p in response.json()["rejected"]} == {0, 1}
    assert stored_events(engine) == []


def test_a_200_means_the_events_are_committed(
    client: TestClient, auth: dict[str, str], database_path: Path, destination: Destination
) -> None:
    batch = {"events": [make_event(f"d-{i}", ["purchase", "page_view"][i % 2]) for i in range(20)]}
    assert client.post("/v1/events", json=batch, headers=auth).status_code == 200
    fresh = create_engine_for(f"sqlite:///{database_path}")  # another connection sees exactly what was committed
    try:
        assert {e.event_id for e in stored_events(fresh)} == {f"d-{i}" for i in range(20)}
        assert sorted(d.status for d in stored_dispatches(fresh)) == ["pending"] * 10 + ["skipped"] * 10
    finally:
        fresh.dispose()


def test_the_same_event_posted_twice_is_one_row(client: TestClient, auth: dict[str, str], engine: Engine) -> None:
    first = client.post("/v1/events", json=make_event("once"), headers=auth).json()
    second = client.post("/v1/events", json=make_event("once"), headers=auth).json()
    assert (first["accepted"], second["duplicates"], second["dispatch"]) == (["once"], ["once"], {})
    assert len(stored_events(engine)) == 1 and len(stored_dispatches(engine)) == 1


def test_plain_email_and_phone_never_reach_the_database_or_the_logs(
    client: TestClient, auth: dict[str, str], engine: Engine, database_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    email, phone = "Plain.Person+tag@Example.org", "+1 (415) 555-0134"
    caplog.set_level(logging.DEBUG)
    good = make_event("pii", user={"email": email, "phone": phone})
    bad = make_event("pii-bad", currency="nope", user={"email": email, "phone": phone})
    response = client.post("/v1/events", json={"events": [good, bad]}, headers=auth)
    assert response.status_code == 200
    assert email not in response.text and "555" not in response.text
    engine.dispose()  # close connections; the WAL and its index stay on disk and are scanned too
    data = b"".join(p.read_bytes() for p in database_path.parent.glob(database_path.name + "*"))
    assert len(data) > 0
    for plain in (email, email.lower(), "Plain.Person", "plain.person", "4155550134", "555-0134"):
        assert plain.encode() not in data, plain
    assert stored_events(engine)[0].hashed_email is not None
    assert email not in caplog.text and email.lower() not in caplog.text and "555" not in caplog.text


# ---- the dispatch log and health ----


def test_the_dispatch_log_is_scoped_to_the_key_and_filtered(
    client: TestClient, auth: dict[str, str], api_auth: dict[str, str], engine: Engine
) -> None:
    batch = [make_event("p-1"), make_event("v-1", "page_view"), make_event("d-1", consent={"ad_storage": "denied"})]
    client.post("/v1/events", json={"events": batch}, headers=auth)
    other, _ = create_workspace(engine, "Other", now=utcnow())
    other_key = create_key(engine, other.id, "api", now=utcnow())[1]
    assert client.get("/v1/dispatch-log", headers={"Authorization": f"Bearer {other_key}"}).json()["rows"] == []

    rows = client.get("/v1/dispatch-log", headers=api_auth).json()["rows"]
    assert [(r["event_id"], r["status"]) for r in rows] == [("d-1", "blocked"), ("v-1", "skipped"), ("p-1", "pending")]
    assert set(rows[0]) >= {"reason", "code", "batch_id", "tracking_id", "attempts", "created_at", "sent_at"}
    assert rows[0]["reason"] == "ad_storage_consent_denied" and rows[0]["created_at"].endswith("Z")

    def ids(query: str) -> list[str]:
        response = client.get(f"/v1/dispatch-log?{query}", headers=api_auth)
        assert response.status_code == 200, response.text
        return [r["event_id"] for r in response.json()["rows"]]

    assert ids("status=blocked,skipped") == ["d-1", "v-1"]
    assert ids("status=pending&status=blocked") == ["d-1", "p-1"]
    assert ids("event_name=page_view") == ["v-1"]
    assert ids("event_id=p-1") == ["p-1"]
    assert ids("since=2000-01-01T00:00:00Z&until=2999-01-01") == ["d-1", "v-1", "p-1"]
    assert ids("since=2999-01-01T00:00:00%2B02:00") == []
    page = client.get("/v1/dispatch-log?limit=2", headers=api_auth).json()
    assert len(page["rows"]) == 2
    assert ids(f"limit=2&before_id={page['next_before_id']}") == ["p-1"]


def test_health_lists_the_destinations_of_the_workspace(
    client: TestClient, api_auth: dict[str, str], destination: Destination
) -> None:
    (health,) = client.get("/v1/health", headers=api_auth).json()["destinations"]
    assert (health["destination_id"], health["status"], health["live"]) == (destination.id, "Live", False)
    assert health["budget"]["limit"] == 1000


def _dead_letter(engine: Engine, client: TestClient, auth: dict[str, str]) -> int:
    client.post("/v1/events", json=make_event("dead-1"), headers=auth)
    with engine.begin() as conn:
        conn.execute(update(dispatches).values(status="dead_lettered", attempts=8, reason="gave up"))
        return int(conn.execute(select(dispatches.c.id)).scalar_one())


def test_dead_letters_are_listed_and_replayed_with_an_api_key(
    client: TestClient, auth: dict[str, str], api_auth: dict[str, str], engine: Engine, destination: Destination
) -> None:
    dispatch_id = _dead_letter(engine, client, auth)
    (letter,) = client.get("/v1/dead-letters", headers=api_auth).json()["dead_letters"]
    assert (letter["id"], letter["event_id"], letter["destination_id"]) == (dispatch_id, "dead-1", destination.id)
    assert client.post("/v1/dead-letters/replay", json={"ids": [dispatch_id]}, headers=api_auth).json() == {
        "replayed": 1
    }
    assert client.post("/v1/dead-letters/replay", headers=api_auth).json() == {"replayed": 1}
    wrong = client.post("/v1/dead-letters/replay", json={"destination_id": 999}, headers=api_auth)
    assert wrong.status_code == 404


def test_dead_letters_of_another_workspace_are_not_reachable(
    client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    dispatch_id = _dead_letter(engine, client, auth)
    other, _ = create_workspace(engine, "Other", now=utcnow())
    other_auth = {"Authorization": f"Bearer {create_key(engine, other.id, 'api', now=utcnow())[1]}"}
    assert client.get("/v1/dead-letters", headers=other_auth).json() == {"dead_letters": []}
    replay = client.post("/v1/dead-letters/replay", json={"ids": [dispatch_id]}, headers=other_auth)
    assert replay.json() == {"replayed": 0}


# ---- keys ----

READS = [("GET", "/v1/dispatch-log"), ("GET", "/v1/health"), ("GET", "/v1/dead-letters")]
OPERATIONS = [("POST", "/v1/dead-letters/replay")]


def test_every_read_and_operation_of_the_api_is_listed_here(app: FastAPI) -> None:
    routes = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute) and route.path.startswith("/v1/")
        for method in route.methods
    }
    assert routes == {*READS, *OPERATIONS, ("POST", "/v1/events")}


@pytest.mark.parametrize(("method", "path"), READS + OPERATIONS)
def test_the_ingestion_key_may_not_read_or_operate(
    client: TestClient, auth: dict[str, str], method: str, path: str
) -> None:
    response = client.request(method, path, headers=auth)
    assert response.status_code == 403
    assert "public ingestion key" in response.json()["detail"]


@pytest.mark.parametrize(("method", "path"), READS)
def test_an_api_key_reads(client: TestClient, api_auth: dict[str, str], method: str, path: str) -> None:
    assert client.request(method, path, headers=api_auth).status_code == 200


def test_an_api_key_may_also_post_events(client: TestClient, api_auth: dict[str, str]) -> None:
    assert client.post("/v1/events", json=make_event("server-side"), headers=api_auth).status_code == 200


def test_a_rotated_api_key_is_refused_at_once_and_its_successor_reads(
    client: TestClient, api_key: str, engine: Engine
) -> None:
    (old,) = list_keys(engine, revoked=False)[1:]
    assert client.get("/v1/health", headers={"Authorization": f"Bearer {api_key}"}).status_code == 200
    new, new_key = rotate_key(engine, old.id, now=utcnow())
    assert (new.kind, new.name, new.workspace_id) == (old.kind, old.name, old.workspace_id)
    refused = client.get("/v1/health", headers={"Authorization": f"Bearer {api_key}"})
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert client.get("/v1/health", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200


def test_a_revoked_api_key_is_refused_at_once(client: TestClient, api_key: str, engine: Engine) -> None:
    header = {"Authorization": f"Bearer {api_key}"}
    assert client.get("/v1/dispatch-log", headers=header).status_code == 200
    (key,) = [k for k in list_keys(engine) if k.kind == "api"]
    revoke_key(engine, key.id, now=utcnow())
    for method, path in READS + OPERATIONS:
        assert client.request(method, path, headers=header).status_code == 401, path
    assert client.post("/v1/events", json=make_event(), headers=header).status_code == 401


def test_a_revoked_ingestion_key_is_refused_once_the_cache_forgets_it(
    app: FastAPI, client: TestClient, auth: dict[str, str], engine: Engine
) -> None:
    assert client.post("/v1/events", json=make_event("before"), headers=auth).status_code == 200
    (key,) = [k for k in list_keys(engine) if k.kind == "ingestion"]
    rotated, new_key = rotate_key(engine, key.id, now=utcnow())
    app.state.keys.ttl = 0.0  # what `ttl` seconds (5 by default) do to a remembered key
    assert client.post("/v1/events", json=make_event("after"), headers=auth).status_code == 401
    fresh = {"Authorization": f"Bearer {new_key}"}
    assert client.post("/v1/events", json=make_event("after"), headers=fresh).status_code == 200
    assert rotated.kind == "ingestion" and new_key.startswith("bbk_")


def test_a_remembered_ingestion_key_expires_after_the_ttl(engine: Engine, ingestion_key: str) -> None:
    cache = KeyCache(engine, ttl=0.05)
    assert cache.lookup(ingestion_key) is not None
    assert cache.remembered(ingestion_key) is not None
    time.sleep(0.06)
    assert cache.remembered(ingestion_key) is None


def test_api_keys_are_never_remembered(engine: Engine, api_key: str) -> None:
    cache = KeyCache(engine)
    assert cache.lookup(api_key) is not None
    assert cache.remembered(api_key) is None


# ---- the service around it ----


def test_openapi_is_published_and_swagger_ui_is_not(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/dispatch-log", "/v1/health", "/sdk.js", "/healthz"} <= set(schema["paths"])
    body = schema["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/Event"} in body["anyOf"]
    event = schema["components"]["schemas"]["Event"]
    assert {"event_id", "event_name", "timestamp", "consent", "user", "click_ids", "properties"} <= set(
        event["properties"]
    )
    assert set(schema["components"]["schemas"]["User"]["properties"]) == {
        "email",
        "phone",
        "anonymous_id",
        "external_id",
    }
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, method in [("/v1/dispatch-log", "get"), ("/v1/health", "get"), ("/v1/dead-letters/replay", "post")]:
        assert {"401", "403"} <= set(schema["paths"][path][method]["responses"])
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert client.get(path).status_code == 404


def test_healthz_answers(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_an_unreachable_database_is_503_not_500(
    tmp_path: Path, settings: Settings, auth: dict[str, str], ingestion_key: str
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    url = f"sqlite:///{folder / 'db.sqlite'}"
    engine = create_engine_for(url, poolclass=NullPool)  # every request opens the file anew
    migrate(engine)
    app = create_app(settings, engine)
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "db.sqlite").mkdir()  # now a folder: SQLite cannot open it
    with TestClient(app) as client:
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"
        assert client.post("/v1/events", json=make_event(), headers=auth).status_code == 503


def test_sdk_is_served_as_javascript(client: TestClient) -> None:
    response = client.get("/sdk.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/javascript")
    assert "bingbridge" in response.text and "_bb_click_ids" in response.text
    again = client.get("/sdk.js", headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_browsers_on_other_origins_may_post_events(client: TestClient, auth: dict[str, str]) -> None:
    preflight = client.options(
        "/v1/events",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    response = client.post("/v1/events", json=make_event(), headers={**auth, "Origin": "https://shop.example"})
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ["/v1/dispatch-log", "/v1/health", "/v1/dead-letters", "/v1/dead-letters/replay"])
def test_reads_give_other_origins_no_cors(client: TestClient, api_auth: dict[str, str], path: str) -> None:
    preflight = client.options(
        path,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = client.get(path, headers={**api_auth, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_the_app_can_run_the_worker_for_its_lifetime(settings: Settings, engine: Engine) -> None:
    def workers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name.startswith("bingbridge-worker-")]

    app: FastAPI = create_app(settings, engine, run_worker=True)
    assert workers() == []  # nothing runs before the app starts
    with TestClient(app):
        assert len(workers()) == 1
    deadline = time.monotonic() + 10
    while workers() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert workers() == []


def test_the_app_makes_and_disposes_its_own_engine(settings: Settings, auth: dict[str, str], engine: Engine) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/events", json=make_event("own"), headers=auth).status_code == 200
    assert [e.event_id for e in stored_events(engine)] == ["own"]


def test_only_the_api_answers_other_origins(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://shop.example"})
    assert "access-control-allow-origin" not in response.headers
