"""The tracking service's HTTP API (FastAPI): a thin face over `tracking.events`, `tracking.ingest`,
`tracking.log_queries` and `tracking.health`.

    POST /v1/events                 one event or {"events": [...]}; Authorization: Bearer <ingestion or API key>
    GET  /v1/dispatch-log           the key's workspace's dispatch log (status, event_name, since, until, ...)
    GET  /v1/health                 Live / Degraded / Down per destination of the key's workspace
    GET  /v1/dead-letters           the workspace's dead-lettered dispatches
    POST /v1/dead-letters/replay    make them due again (all, one destination's, or some ids)
    GET  /sdk.js                    the first-party browser snippet
    GET  /healthz                   liveness: the process answers and the database too
    GET  /openapi.json              the OpenAPI description (/docs and /redoc are off: Swagger UI needs a CDN)

Choices the issue leaves open:
- A batch with some invalid events stores the valid ones and answers 200 with `accepted`, `duplicates` and
  `rejected` (index, event_id, field, message); only when no event is valid is the answer 422. Rejecting a whole
  batch for one bad event would make senders drop good conversions or resend them all.
- 400 for a body that is not JSON at all (bad UTF-8, bad JSON, NaN/Infinity, nesting too deep, a key twice in one
  object), 422 for JSON that breaks the contract, 413 for a body over `max_body_bytes` (1 MiB) or a batch over
  `max_batch` (1,000), 401 for a missing, malformed, unknown or revoked key, 403 for a public ingestion key on an
  endpoint that reads or operates (those need a secret API key), 503 when the database cannot be reached (retry
  later).
- Every 2xx of POST /v1/events comes after the transaction holding its events was committed (`ingest`).
- The Content-Type is not checked: `navigator.sendBeacon` and no-preflight senders post JSON as text/plain.
- CORS on POST /v1/events allows any origin without credentials: the snippet posts from the customer's site, and
  the ingestion key is public by design (like any browser analytics key). Every other path gets no CORS headers:
  reads take a secret key, which belongs on servers, not in pages.
- Behind a reverse proxy, BINGBRIDGE_TRUSTED_PROXIES (addresses or networks, comma-separated) makes the
  X-Forwarded-For/-Proto of those peers count (client address, https); from any other peer they are ignored.
- The app holds no global state: everything lives in the `create_app` closure and `app.state`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import datetime
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bingbridge.errors import ValidationError
from bingbridge.settings import Settings
from bingbridge.store.engine import create_engine_for, migrate, utcnow
from bingbridge.tracking.destinations import list_destinations
from bingbridge.tracking.dispatch_log import list_dead_letters, replay_dead_letters
from bingbridge.tracking.events import BatchTooLarge, Event, EventBatch, parse_events
from bingbridge.tracking.health import destination_health
from bingbridge.tracking.ingest import GroupCommitter, IngestResult, ingest
from bingbridge.tracking.log_queries import MAX_LIMIT, query_dispatch_log
from bingbridge.tracking.workspaces import API, INGESTION, KeyHolder, Workspace, key_hash, key_holder

# 1 MiB holds a full batch of 1,000 typical events (about 400 bytes each) with room to spare.
MAX_BODY_BYTES = 1 << 20
# Microsoft takes 1,000 conversions per call; a batch of that size keeps one request within one upload.
MAX_BATCH = 1000
_BAD_KEY = {"WWW-Authenticate": "Bearer"}
_JSON_CONSTANTS = ("NaN", "Infinity", "-Infinity")


# ---- answers, for the OpenAPI description ----


class Problem(BaseModel):
    """One broken rule of one event of the request."""

    index: int
    event_id: str | None
    field: str
    message: str


class DispatchDecision(BaseModel):
    """The decision for one destination and channel; `field` and `message` explain a `failed` one."""

    destination_id: int
    channel: str  # offline | capi
    status: str
    reason: str | None
    conversion_name: str | None
    field: str | None
    message: str | None


class EventOutcome(BaseModel):
    index: int
    event_id: str
    status: str  # accepted | duplicate
    dispatches: list[DispatchDecision]


class IngestAnswer(BaseModel):
    """What POST /v1/events stored: event ids accepted now, ids seen before, and the events refused."""

    accepted: list[str]
    duplicates: list[str]
    rejected: list[Problem]
    dispatch: dict[str, int]  # dispatch rows created, per status
    results: list[EventOutcome]


class ErrorAnswer(BaseModel):
    detail: str


class RejectedAnswer(BaseModel):
    detail: str
    accepted: list[str] = []
    duplicates: list[str] = []
    rejected: list[Problem] = []


class ReplayRequest(BaseModel):
    """Which dead letters to replay; nothing given means all of the workspace's."""

    destination_id: int | None = Field(None, ge=1, le=2**31 - 1)
    ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] | None = Field(None, max_length=MAX_LIMIT)


# What every read or operation may answer besides 200 (and 422 for its parameters).
_READ_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorAnswer, "description": "Missing, malformed, unknown or revoked key"},
    403: {"model": ErrorAnswer, "description": "A public ingestion key: this endpoint needs a secret API key"},
}


# ---- the pieces of a request ----


def _destination_ids(engine: Engine, workspace: Workspace, only: int | None) -> list[int]:
    """The workspace's destination ids (just `only` when given and it is the workspace's; 404 when it is not)."""
    ids = [d.id for d in list_destinations(engine, workspace.id)]
    if only is None:
        return ids
    if only not in ids:
        raise HTTPException(404, f"destination {only} is not one of this workspace's")
    return [only]


def _no_json_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (numbers must be finite)")


class DuplicateKey(ValueError):
    """A JSON object names the same key twice: which value the sender meant is unknown."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"the key {key!r} appears twice in one object: send each key once")
            seen.add(key)
    return found


def decode_json(body: bytes) -> Any:
    """The decoded body, or HTTPException 400 saying why it is not JSON (never echoing the body).

    An object naming a key twice is refused (400 naming the key): JSON parsers disagree on which value wins, and
    for `"ad_storage": "denied", "ad_storage": "granted"` neither answer is safe to act on.
    """
    if not body.strip():
        raise HTTPException(400, 'the body is empty: send one event object or a batch {"events": [...]}')
    try:
        text_body = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, f"the body is not UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(text_body, parse_constant=_no_json_constant, object_pairs_hook=_unique_keys)
    except DuplicateKey as exc:
        raise HTTPException(400, f"the body is not acceptable JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise HTTPException(400, f"the body is not valid JSON: {exc.msg} ({where})") from None
    except RecursionError:
        raise HTTPException(400, "the body is not acceptable JSON: it nests too deeply") from None
    except ValueError as exc:  # NaN/Infinity, or an integer of more than 4,300 digits
        raise HTTPException(400, f"the body is not acceptable JSON: {exc}") from None


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    too_large = f"the body is larger than {limit} bytes: send smaller batches"
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, too_large)
    if request.headers.get("content-encoding", "identity").lower() != "identity":
        raise HTTPException(415, "compressed bodies are not accepted: send plain JSON")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, too_large)
        chunks.append(chunk)
    return b"".join(chunks)


def _iso(value: Any) -> Any:
    return value.isoformat() + "Z" if isinstance(value, datetime) else value


def _field_of(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "header", "path", "body")]
    return ".".join(parts) or "(request)"


def _event_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's JSON schema (one event or a batch) and the definitions it refers to."""
    schema = TypeAdapter(Event | EventBatch).json_schema(ref_template="#/components/schemas/{model}")
    definitions = schema.pop("$defs", {})
    return schema, definitions


def _sdk_source() -> bytes:
    return resources.files("bingbridge.web").joinpath("static/sdk.js").read_bytes()


# ---- CORS ----


class ApiCors:
    """CORS for the one endpoint browsers call from other sites, `POST /v1/events` (the snippet posts from the
    customer's site with the public ingestion key): any origin, no credentials. The read endpoints, which take a
    secret API key, and the dashboard answer same-origin only."""

    PATHS = frozenset({"/v1/events"})

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["POST"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=86400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.PATHS:
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class StrictTransportSecurity:
    """`Strict-Transport-Security` on every answer to an https request (behind a proxy, set
    BINGBRIDGE_TRUSTED_PROXIES so its X-Forwarded-Proto counts): browsers then refuse plain http for a year."""

    HEADER = (b"strict-transport-security", b"max-age=31536000")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.HEADER]
            await send(message)

        await self.app(scope, receive, send_with_hsts)


# ---- authentication ----


class KeyCache:
    """Ingestion key -> holder, remembered for `ttl` seconds per app: a lookup per request cost a third of the
    request's CPU. So a revoked ingestion key is refused by every process within `ttl` seconds. API keys (secret,
    and rare next to events) are looked up on every request, so their revocation holds at once. Unknown keys are
    not remembered, so a key created a moment ago works at once. Keys are held by their SHA-256, as in the
    database."""

    def __init__(self, engine: Engine, *, ttl: float = 5.0, size: int = 1024) -> None:
        self.engine = engine
        self.ttl = ttl
        self.size = size
        self._found: dict[str, tuple[KeyHolder, float]] = {}
        self._lock = threading.Lock()

    def remembered(self, key: str) -> KeyHolder | None:
        """The holder of ingestion key `key` if it was looked up less than `ttl` seconds ago (no database access)."""
        with self._lock:
            hit = self._found.get(key_hash(key))
        return hit[0] if hit is not None and time.monotonic() - hit[1] < self.ttl else None

    def lookup(self, key: str) -> KeyHolder | None:
        """The holder of `key`, from memory or else from the database (blocking)."""
        holder = self.remembered(key) or key_holder(self.engine, key)
        if holder is not None and holder.kind == INGESTION:
            with self._lock:
                if len(self._found) >= self.size:
                    self._found.clear()
                self._found[key_hash(key)] = (holder, time.monotonic())
        return holder


_bearer = HTTPBearer(auto_error=False, description="An ingestion key (`bbk_...`) or a secret API key (`bbs_...`).")


async def holder_of(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)]
) -> KeyHolder:
    """The holder of the key the request carries, or 401 naming what is wrong.

    The header is read here rather than through HTTPBearer (which only declares the scheme in OpenAPI) so that a
    missing header, another scheme and an unknown key each get their own message.
    """
    header = request.headers.get("authorization")
    if not header:
        raise HTTPException(401, "missing Authorization header: send `Authorization: Bearer <key>`", headers=_BAD_KEY)
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise HTTPException(401, "the Authorization header must be `Bearer <key>`", headers=_BAD_KEY)
    keys: KeyCache = request.app.state.keys
    # A remembered key costs no thread hop; only a miss reads the database, in a worker thread.
    holder = keys.remembered(key.strip()) or await run_in_threadpool(keys.lookup, key.strip())
    if holder is None:
        raise HTTPException(
            401,
            "unknown or revoked key: list the workspace's keys with `bingbridge keys list`",
            headers=_BAD_KEY,
        )
    return holder


async def sender_of(holder: Annotated[KeyHolder, Depends(holder_of)]) -> Workspace:
    """The workspace events are posted for: any active key of it will do."""
    return holder.workspace


async def reader_of(holder: Annotated[KeyHolder, Depends(holder_of)]) -> Workspace:
    """The workspace a secret API key reads and operates; a public ingestion key gets 403."""
    if holder.kind != API:
        raise HTTPException(
            403,
            "this is a public ingestion key: it may only POST /v1/events. Read and operate with a secret API key "
            "(`bingbridge keys create --workspace NAME --kind api`)",
        )
    return holder.workspace


Sender = Annotated[Workspace, Depends(sender_of)]
Reader = Annotated[Workspace, Depends(reader_of)]


# ---- the app ----


def create_app(
    settings: Settings,
    engine: Engine | None = None,
    *,
    run_worker: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch: int = MAX_BATCH,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The tracking service: ingestion API, dispatch log, health, the browser snippet; OpenAPI at /openapi.json.

    Without `engine`, one is made from `settings.database_url` (and disposed at shutdown). The database is migrated
    here. `run_worker` starts a dispatch worker in a thread for the app's lifetime (`bingbridge serve` passes True;
    the default False keeps a bare app, as tests and embedders want, from calling Microsoft). `clock` gives naive
    UTC.
    """
    owns_engine = engine is None
    db = engine if engine is not None else create_engine_for(settings.database_url)
    migrate(db)
    default_country = settings.tracking_default_country
    # SQLite has a single writer and each durable commit waits for a disk flush: concurrent requests are committed
    # in groups (one flush each), which also keeps them out of SQLite's busy handler (it polls with sleeps of up to
    # 100 ms). PostgreSQL takes concurrent transactions as they come.
    store: Callable[[Workspace, list[Event], datetime], IngestResult]
    if db.dialect.name == "sqlite":
        committer = GroupCommitter(db)
        store = lambda workspace, batch, now: committer.ingest(workspace, batch, now=now)  # noqa: E731
    else:
        store = lambda workspace, batch, now: ingest(db, workspace, batch, now=now)  # noqa: E731
    sdk = _sdk_source()
    sdk_etag = '"' + hashlib.sha256(sdk).hexdigest()[:32] + '"'

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        thread = start_worker(settings, db, stop) if run_worker else None
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                await run_in_threadpool(thread.join, 30)
            if owns_engine:
                db.dispose()

    app = FastAPI(
        title="bingbridge tracking service",
        version="1",
        description=__doc__,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not in this project
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.engine = db
    app.state.keys = KeyCache(db)
    app.state.settings = settings
    app.add_middleware(ApiCors)
    app.add_middleware(StrictTransportSecurity)
    if settings.trusted_proxies:
        # Outermost, so the client address and scheme are the browser's for everything inside.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)

    def handle_events(body: bytes, workspace: Workspace) -> JSONResponse:
        """Decode, validate and store; runs in a worker thread (hashing and the commit block)."""
        payload = decode_json(body)
        now = clock()
        try:
            valid, problems = parse_events(payload, now=now, default_country=default_country, max_events=max_batch)
        except BatchTooLarge as exc:
            raise HTTPException(413, str(exc)) from None
        except ValueError as exc:
            return JSONResponse({"detail": str(exc), "accepted": [], "duplicates": [], "rejected": []}, 422)
        rejected = [p.as_dict() for p in problems]
        if not valid:
            detail = "no valid event in the request: " + "; ".join(f"{p.field}: {p.message}" for p in problems[:3])
            return JSONResponse({"detail": detail, "accepted": [], "duplicates": [], "rejected": rejected}, 422)
        result = store(workspace, [event for _, event in valid], now)
        results = [
            {
                "index": valid[r.index][0],
                "event_id": r.event_id,
                "status": r.status,
                "dispatches": [d.as_dict() for d in r.dispatches],
            }
            for r in result.results
        ]
        return JSONResponse(
            {
                "accepted": [r.event_id for r in result.results if r.status == "accepted"],
                "duplicates": [r.event_id for r in result.results if r.status == "duplicate"],
                "rejected": rejected,
                "dispatch": result.statuses,
                "results": results,
            }
        )

    @app.post(
        "/v1/events",
        summary="Send one event or a batch",
        responses={
            200: {"model": IngestAnswer, "description": "Stored (committed); invalid events listed in `rejected`"},
            400: {"model": ErrorAnswer, "description": "The body is not JSON"},
            401: {"model": ErrorAnswer, "description": "Missing, malformed, unknown or revoked key"},
            413: {"model": ErrorAnswer, "description": "Body or batch too large"},
            422: {"model": RejectedAnswer, "description": "No valid event"},
            503: {"model": ErrorAnswer, "description": "Database unavailable: retry"},
        },
        tags=["ingestion"],
    )
    async def post_events(request: Request, workspace: Sender) -> Response:
        """Store events for dispatch. A 200 means they are committed; the same `event_id` again is a duplicate."""
        body = await read_body(request, max_body_bytes)
        return await run_in_threadpool(handle_events, body, workspace)

    @app.get(
        "/v1/dispatch-log",
        tags=["dispatch log"],
        responses=_READ_ANSWERS,
        summary="What happened to each event at each destination",
    )
    def get_dispatch_log(
        workspace: Reader,
        status: Annotated[list[str] | None, Query(description="Repeat or comma-separate: failed,blocked")] = None,
        event_name: Annotated[str | None, Query(max_length=100)] = None,
        event_id: Annotated[str | None, Query(max_length=200)] = None,
        destination_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        channel: Annotated[str | None, Query(max_length=20, description="offline or capi")] = None,
        since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601; UTC if no offset)")] = None,
        until: Annotated[datetime | None, Query(description="Created before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="Page: rows older than this id")] = None,
    ) -> dict[str, Any]:
        """Dispatch rows of the key's workspace, newest first; pass `next_before_id` as `before_id` for more."""
        statuses = [s.strip() for value in status or () for s in value.split(",") if s.strip()]
        rows = query_dispatch_log(
            db,
            workspace.id,
            statuses=statuses or None,
            event_name=event_name,
            event_id=event_id,
            destination_id=destination_id,
            channel=channel,
            since=since,
            until=until,
            limit=limit,
            before_id=before_id,
        )
        return {
            "rows": [row.as_dict() for row in rows],
            "next_before_id": rows[-1].id if len(rows) == limit else None,
        }

    @app.get(
        "/v1/health", tags=["dispatch log"], responses=_READ_ANSWERS, summary="Live, Degraded or Down per destination"
    )
    def get_health(workspace: Reader) -> dict[str, Any]:
        """Health of each destination of the key's workspace, by the rule of `bingbridge.tracking.health`."""
        now = clock()
        answer = []
        for destination in list_destinations(db, workspace.id):
            health = destination_health(db, destination.id, now)
            figures = {k: _iso(v) for k, v in asdict(health).items() if k != "budget"}
            budget = {k: _iso(v) for k, v in asdict(health.budget).items()}
            answer.append(
                {"destination_id": destination.id, "name": destination.name, "live": destination.live}
                | figures
                | {"budget": budget}
            )
        return {"destinations": answer}

    @app.get(
        "/v1/dead-letters",
        tags=["dead letters"],
        responses=_READ_ANSWERS,
        summary="Dispatches that ran out of attempts",
    )
    def get_dead_letters(
        workspace: Reader,
        destination_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    ) -> dict[str, Any]:
        """Dead letters of the key's workspace, oldest first."""
        letters = [
            asdict(letter)
            for destination_id_ in _destination_ids(db, workspace, destination_id)
            for letter in list_dead_letters(db, destination_id=destination_id_, limit=limit)
        ]
        letters.sort(key=lambda letter: letter["id"])
        return {"dead_letters": [{k: _iso(v) for k, v in letter.items()} for letter in letters[:limit]]}

    @app.post(
        "/v1/dead-letters/replay", tags=["dead letters"], responses=_READ_ANSWERS, summary="Make dead letters due again"
    )
    def post_replay(workspace: Reader, replay: ReplayRequest | None = None) -> dict[str, int]:
        """Dead letters of the key's workspace (all, one destination's, or the given dispatch ids) are retried by
        the next worker pass."""
        wanted = replay or ReplayRequest()
        replayed = sum(
            replay_dead_letters(db, destination_id=destination_id_, dispatch_ids=wanted.ids, now=clock())
            for destination_id_ in _destination_ids(db, workspace, wanted.destination_id)
        )
        return {"replayed": replayed}

    @app.get("/sdk.js", tags=["browser"], summary="The first-party browser snippet", response_class=Response)
    def get_sdk(request: Request) -> Response:
        """`bingbridge.init({key})` then `bingbridge.track("purchase", {value, currency})`."""
        headers = {"Cache-Control": "public, max-age=3600", "ETag": sdk_etag}
        if request.headers.get("if-none-match") == sdk_etag:
            return Response(status_code=304, headers=headers)
        return Response(sdk, media_type="application/javascript; charset=utf-8", headers=headers)

    @app.get("/healthz", tags=["service"], summary="Liveness")
    def healthz() -> dict[str, str]:
        """200 when the process and its database answer (503 otherwise)."""
        with db.connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok"}

    _install_error_handlers(app)
    _install_openapi(app)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Bad input of any kind becomes a 4xx naming the field; an unreachable database a 503."""

    async def invalid_request(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": _field_of(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))} for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return JSONResponse({"detail": detail, "errors": errors}, 422)

    async def invalid_input(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ValidationError)
        errors = [{"field": p.field, "message": p.message} for p in exc.problems]
        return JSONResponse({"detail": str(exc), "errors": errors}, 422)

    async def database_down(_request: Request, _exc: Exception) -> Response:
        # The message of a driver error can hold SQL and parameters (event data): it is not repeated here.
        return JSONResponse(
            {"detail": "the database is unavailable or busy; retry later"}, 503, headers={"Retry-After": "5"}
        )

    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(ValidationError, invalid_input)
    app.add_exception_handler(OperationalError, database_down)


def _install_openapi(app: FastAPI) -> None:
    """The published description, with the event contract as the request body of POST /v1/events.

    The endpoint reads its body itself (size limit, per-event errors), so FastAPI cannot infer the body schema;
    it is added here from the same pydantic models that validate events.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            body, definitions = _event_schemas()
            schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
            schema["paths"]["/v1/events"]["post"]["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def start_worker(settings: Settings, engine: Engine, stop: threading.Event) -> threading.Thread:
    """A dispatch worker in a thread, on the app's engine, until `stop` is set (at the app's shutdown)."""
    from bingbridge.tracking.secrets import SecretBox
    from bingbridge.tracking.worker import Worker

    worker = Worker(engine, SecretBox.for_settings(settings), settings)

    def run() -> None:
        with worker:
            worker.run(stop)

    thread = threading.Thread(target=run, name=f"bingbridge-worker-{worker.worker_id}", daemon=True)
    thread.start()
    return thread
