"""Microsoft Advertising destinations of a workspace: credentials (encrypted), goal mapping, Live switch, test.

A destination holds the seven credentials of the seed (customer id, account id, developer token, client id, client
secret, access token, refresh token), and for its second channel, the UET Conversions API, a UET tag id and that
tag's CAPI token. Secrets (the CAPI token too) are sealed with `SecretBox`; the destination's rotated refresh tokens
are written back through `DestinationTokenStore`, so they never go stale. Its channels and event routing are
`conversions.channels.Routing`: Offline Conversions always, the Conversions API when tag id and token are set.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, insert, select, update

from bingbridge.api.client import BingAdsClient
from bingbridge.api.conversions_api import ConversionsApi
from bingbridge.auth.check import ConnectionReport, check_connection
from bingbridge.auth.tokens import TokenSet
from bingbridge.conversions.channels import CAPI, CHANNELS, OFFLINE, Routing
from bingbridge.errors import ApiError, ConfigurationError, FieldProblem, ValidationError
from bingbridge.settings import Secret, Settings
from bingbridge.store.engine import utcnow
from bingbridge.store.schema import destinations
from bingbridge.tracking.destination_state import credentials_changed, refresh_lease
from bingbridge.tracking.secrets import SecretBox

# The seed's mapping of event names to Microsoft conversion goal names; editable per destination.
DEFAULT_CONVERSION_NAMES = {
    "purchase": "Purchase",
    "lead": "Lead",
    "sign_up": "Sign Up",
    "subscribe": "Subscribe",
    "add_to_cart": "Add to Cart",
}
# The seed's call budget for a destination.
DEFAULT_CALLS_PER_HOUR = 1000
_DIGITS = re.compile(r"^\d+$")
# What to do when Microsoft refuses a destination's refresh token.
RECONNECT = "reconnect this destination: Connect Microsoft Advertising again, or Save a new refresh token"


@dataclass(frozen=True)
class DestinationInput:
    """What a person types into the destination card (or the CLI)."""

    customer_id: str | int | None
    account_id: str | int | None
    developer_token: str | None
    client_id: str | None
    client_secret: str | None
    refresh_token: str | None
    access_token: str | None = None
    uet_tag_id: str | int | None = None
    capi_token: str | None = None
    name: str = "Microsoft Advertising"
    environment: str = "production"
    live: bool = False
    conversion_names: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CONVERSION_NAMES))
    calls_per_hour: int = DEFAULT_CALLS_PER_HOUR
    # Event name -> channels, where it differs from the default routing (`conversions.channels.Routing`).
    event_channels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def channels(self) -> tuple[str, ...]:
        has_capi = self.uet_tag_id not in (None, "") and bool((self.capi_token or "").strip())
        return (OFFLINE, CAPI) if has_capi else (OFFLINE,)

    def routing(self) -> Routing:
        return Routing(self.channels, self.conversion_names, self.event_channels)

    def problems(self) -> list[FieldProblem]:
        """Field-level checks of Save: required fields present, ids numeric, names sane."""
        found = []
        for name in ("customer_id", "account_id"):
            value = getattr(self, name)
            if value in (None, ""):
                found.append(FieldProblem(name, "required (a number such as 123456789)"))
            elif not _DIGITS.match(str(value).strip()):
                found.append(FieldProblem(name, f"must be a number, got {value!r}"))
        for name in ("developer_token", "client_id", "client_secret", "refresh_token"):
            if not (getattr(self, name) or "").strip():
                found.append(FieldProblem(name, "required"))
        if self.uet_tag_id not in (None, "") and not _DIGITS.match(str(self.uet_tag_id).strip()):
            found.append(FieldProblem("uet_tag_id", f"must be a number, got {self.uet_tag_id!r}"))
        if self.environment not in ("production", "sandbox"):
            found.append(FieldProblem("environment", "must be production or sandbox"))
        if self.calls_per_hour < 1:
            found.append(FieldProblem("calls_per_hour", "must be 1 or more"))
        for event, goal in self.conversion_names.items():
            if not event.strip() or not goal.strip() or len(goal) > 100:
                found.append(FieldProblem("conversion_names", f"{event!r} -> {goal!r}: give a goal name of 1..100"))
        if (self.capi_token or "").strip() and self.uet_tag_id in (None, ""):
            found.append(FieldProblem("uet_tag_id", "a CAPI token belongs to a UET tag: give the tag's id too"))
        for event, listed in self.event_channels.items():
            unknown = [c for c in listed if c not in CHANNELS]
            if unknown or not listed:
                found.append(
                    FieldProblem("event_channels", f"{event!r}: use channels from {', '.join(CHANNELS)}, not {unknown}")
                )
            elif OFFLINE in listed and event not in self.conversion_names:
                found.append(FieldProblem("event_channels", f"{event!r} goes offline: map it to a goal too"))
        return found


@dataclass(frozen=True)
class Destination:
    """A stored destination, secrets not included (open them with `credentials`)."""

    id: int
    workspace_id: int
    name: str
    environment: str
    customer_id: int
    account_id: int
    client_id: str
    uet_tag_id: int | None
    live: bool
    conversion_names: dict[str, str]
    calls_per_hour: int
    last_test: dict[str, Any] | None
    sealed: str
    channels: tuple[str, ...] = (OFFLINE,)
    event_channels: dict[str, list[str]] = field(default_factory=dict)

    def routing(self) -> Routing:
        return Routing(self.channels, self.conversion_names, self.event_channels)

    def public(self) -> dict[str, Any]:
        """Everything safe to show: secrets appear only as whether they are set."""
        data = asdict(self)
        del data["sealed"]
        data["channels"] = list(self.channels)
        data["warnings"] = self.routing().double_counted()
        return data


def _row_to_destination(row: Any) -> Destination:
    return Destination(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        environment=row.environment,
        customer_id=row.customer_id,
        account_id=row.account_id,
        client_id=row.client_id,
        uet_tag_id=row.uet_tag_id,
        live=bool(row.live),
        conversion_names=dict(row.conversion_names or {}),
        calls_per_hour=row.calls_per_hour,
        last_test=row.last_test,
        sealed=row.secrets,
        channels=tuple(row.channels or (OFFLINE,)),
        event_channels=dict(row.event_channels or {}),
    )


def save_destination(
    engine: Engine, box: SecretBox, workspace_id: int, data: DestinationInput, *, destination_id: int | None = None
) -> Destination:
    """Validate and store a destination (new, or replacing `destination_id`); secrets are sealed.

    Saving is how credentials change (CLI, dashboard Save, Connect): a pause for refused credentials ends here, so
    the next worker pass tries them at once.
    """
    problems = data.problems()
    if problems:
        raise ValidationError(problems, operation="save destination")
    now = utcnow()
    secrets = {
        "developer_token": data.developer_token,
        "client_secret": data.client_secret,
        "refresh_token": data.refresh_token,
        "access_token": data.access_token,
        "capi_token": data.capi_token,
    }
    values = {
        "workspace_id": workspace_id,
        "name": data.name,
        "environment": data.environment,
        "customer_id": int(str(data.customer_id)),
        "account_id": int(str(data.account_id)),
        "client_id": (data.client_id or "").strip(),
        "secrets": box.seal({k: (v.strip() if v else v) for k, v in secrets.items()}),
        "access_token_expires_at": None,
        "uet_tag_id": int(str(data.uet_tag_id)) if data.uet_tag_id not in (None, "") else None,
        "live": int(data.live),
        "conversion_names": data.conversion_names,
        "calls_per_hour": data.calls_per_hour,
        "channels": list(data.channels),
        "event_channels": data.event_channels,
        "updated_at": now,
    }
    with engine.begin() as conn:
        if destination_id is None:
            destination_id = conn.execute(insert(destinations).values(created_at=now, **values)).inserted_primary_key[0]  # type: ignore[index]
        else:
            conn.execute(update(destinations).where(destinations.c.id == destination_id).values(**values))
            credentials_changed(conn, destination_id, now=now)
    found = get_destination(engine, destination_id)
    assert found is not None
    return found


def destination_input(box: SecretBox, destination: Destination, **changes: Any) -> DestinationInput:
    """What the destination was saved from (secrets opened), with `changes` applied: the base of an update."""
    secrets = box.open(destination.sealed)
    current = DestinationInput(
        customer_id=destination.customer_id,
        account_id=destination.account_id,
        developer_token=secrets.get("developer_token"),
        client_id=destination.client_id,
        client_secret=secrets.get("client_secret"),
        refresh_token=secrets.get("refresh_token"),
        access_token=secrets.get("access_token"),
        uet_tag_id=destination.uet_tag_id,
        capi_token=secrets.get("capi_token"),
        name=destination.name,
        environment=destination.environment,
        live=destination.live,
        conversion_names=dict(destination.conversion_names),
        calls_per_hour=destination.calls_per_hour,
        event_channels=dict(destination.event_channels),
    )
    return replace(current, **changes)


def update_destination(engine: Engine, box: SecretBox, destination: Destination, **changes: Any) -> Destination:
    """Save `destination` with `changes` (DestinationInput fields) applied, everything else as stored.

    Like every save, it ends a pause for refused credentials. A new refresh token drops the stored access token
    unless one is given with it: the old access token belongs to the old grant.
    """
    if changes.get("refresh_token") and "access_token" not in changes:
        changes["access_token"] = None
    data = destination_input(box, destination, **changes)
    return save_destination(engine, box, destination.workspace_id, data, destination_id=destination.id)


def get_destination(engine: Engine, destination_id: int) -> Destination | None:
    with engine.connect() as conn:
        row = conn.execute(select(destinations).where(destinations.c.id == destination_id)).first()
    return _row_to_destination(row) if row else None


def list_destinations(engine: Engine, workspace_id: int | None = None, *, live_only: bool = False) -> list[Destination]:
    query = select(destinations).order_by(destinations.c.id)
    if workspace_id is not None:
        query = query.where(destinations.c.workspace_id == workspace_id)
    if live_only:
        query = query.where(destinations.c.live == 1)
    with engine.connect() as conn:
        return [_row_to_destination(r) for r in conn.execute(query)]


def set_live(engine: Engine, destination_id: int, live: bool) -> None:
    """The Live switch: dispatch runs only for live destinations."""
    with engine.begin() as conn:
        conn.execute(
            update(destinations).where(destinations.c.id == destination_id).values(live=int(live), updated_at=utcnow())
        )


class DestinationTokenStore:
    """Keeps a destination's OAuth tokens in its sealed secrets, so rotations are persisted at once.

    A `SharedTokenStore`: refreshes of one destination are serialised across workers and processes by the
    destination's refresh lease (`destination_state.refresh_lease`).
    """

    def __init__(self, engine: Engine, box: SecretBox, destination_id: int) -> None:
        self.engine = engine
        self.box = box
        self.destination_id = destination_id

    def _secrets(self) -> tuple[dict[str, str | None], datetime | None]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(destinations.c.secrets, destinations.c.access_token_expires_at).where(
                    destinations.c.id == self.destination_id
                )
            ).one()
        return self.box.open(row.secrets), row.access_token_expires_at

    def load(self, key: str) -> TokenSet | None:
        secrets, expires_at = self._secrets()
        if not secrets.get("access_token") or not secrets.get("refresh_token") or expires_at is None:
            return None  # no usable access token yet: the client refreshes with the refresh token
        return TokenSet(
            access_token=str(secrets["access_token"]),
            refresh_token=str(secrets["refresh_token"]),
            expires_at=expires_at.replace(tzinfo=UTC),
            origin=str(secrets.get("origin") or ""),
        )

    def refresh_lock(self, key: str) -> AbstractContextManager[None]:
        return refresh_lease(self.engine, self.destination_id)

    def save(self, key: str, tokens: TokenSet) -> None:
        secrets, _ = self._secrets()
        secrets.update(access_token=tokens.access_token, refresh_token=tokens.refresh_token, origin=tokens.origin)
        with self.engine.begin() as conn:
            conn.execute(
                update(destinations)
                .where(destinations.c.id == self.destination_id)
                .values(
                    secrets=self.box.seal(secrets),
                    access_token_expires_at=tokens.expires_at.astimezone(UTC).replace(tzinfo=None),
                )
            )


def destination_client(
    engine: Engine,
    box: SecretBox,
    destination: Destination,
    base: Settings,
    *,
    http: httpx.Client | None = None,
    max_retries: int | None = None,
) -> BingAdsClient:
    """A client acting with the destination's credentials (the base settings give URL, timeouts, retries)."""
    secrets = box.open(destination.sealed)
    settings = base.with_overrides(
        client_id=destination.client_id,
        client_secret=Secret(secrets["client_secret"] or ""),
        developer_token=Secret(secrets["developer_token"] or ""),
        refresh_token=Secret(secrets["refresh_token"] or ""),
        customer_id=destination.customer_id,
        account_id=destination.account_id,
        environment=destination.environment,
        max_retries=max_retries,
    )
    store = DestinationTokenStore(engine, box, destination.id)
    return BingAdsClient(settings, http=http, token_store=store)


class DestinationAccess:
    """A destination's way to each channel, opened on first use (`conversions.channels.ChannelAccess`)."""

    def __init__(
        self, engine: Engine, box: SecretBox, destination: Destination, base: Settings, *, http: httpx.Client
    ) -> None:
        self.engine, self.box, self.destination, self.base, self.http = engine, box, destination, base, http
        self._client: BingAdsClient | None = None

    def ads_client(self) -> BingAdsClient:
        """The Microsoft Advertising client; the caller owns retries (`max_retries=0`)."""
        if self._client is None:
            self._client = destination_client(
                self.engine, self.box, self.destination, self.base, http=self.http, max_retries=0
            )
        return self._client

    def conversions_api(self) -> ConversionsApi:
        token = self.box.open(self.destination.sealed).get("capi_token")
        if not token or self.destination.uet_tag_id is None:
            raise ConfigurationError(
                f"destination {self.destination.id} has no UET tag id and CAPI token: "
                f"run bingbridge destinations update {self.destination.id} --uet-tag-id ID --capi-token TOKEN"
            )
        return ConversionsApi(self.http, self.destination.uet_tag_id, Secret(token), base_url=self.base.api_base_url)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


@dataclass(frozen=True)
class DestinationCheck:
    """The Test button's result: the connection (token, API call, latency) and MSCLKID auto-tagging (None when
    it could not be read: the connection failed, or the account refused the call)."""

    connection: ConnectionReport
    auto_tagging: bool | None

    @property
    def ok(self) -> bool:
        return self.connection.ok


def check_destination(
    engine: Engine, box: SecretBox, destination: Destination, base: Settings, *, http: httpx.Client | None = None
) -> DestinationCheck:
    """The Test button: a token and a real API call, with latency, then whether the account auto-tags clicks
    with an MSCLKID (without it no click can be matched); the outcome is kept on the destination."""
    auto_tagging = None
    with destination_client(engine, box, destination, base, http=http, max_retries=0) as client:
        report = check_connection(client, refresh_token_advice=RECONNECT)
        if report.ok:
            try:
                auto_tagging = client.campaign_management.msclkid_auto_tagging(account_id=destination.account_id)
            except ApiError:
                auto_tagging = None
    result = {**asdict(report), "auto_tagging": auto_tagging, "at": utcnow().isoformat()}
    with engine.begin() as conn:
        conn.execute(update(destinations).where(destinations.c.id == destination.id).values(last_test=result))
    return DestinationCheck(report, auto_tagging)
