"""The emulator's world: seeded customers, accounts, users and client links, OAuth apps and tokens."""

from __future__ import annotations

import base64
import random
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bingbridge.api.models import customer as m
from bingbridge.emulator.campaign_state import CampaignState

if TYPE_CHECKING:
    from bingbridge.emulator.reporting import ReportingState

UNIVERSAL_SANDBOX_DEVELOPER_TOKEN = "BBD37VB98"
INCLUDE_IN_CONVERSIONS_PILOT = 574


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Every field can be set from `bingbridge emulator` options."""

    seed: int = 1
    client_id: str = "emulator-client-id"
    client_secret: str = "emulator-client-secret"
    developer_token: str = UNIVERSAL_SANDBOX_DEVELOPER_TOKEN
    access_token_ttl: int = 3600
    authorization_code_ttl: int = 300
    # Microsoft keeps a used refresh token valid (reference 12); True revokes it when redeemed, for tests of
    # clients that must always keep the newest token.
    revoke_used_refresh_tokens: bool = False
    # Calls allowed per customer in any 60 s window before 117 CallRateExceeded; 0 turns throttling off.
    calls_per_minute: int = 0
    error_rate: float = 0.0
    latency_ms: int = 0
    # The user the authorize endpoint signs in (it auto-approves).
    default_user_id: int = 0
    # Reporting: polls a job stays Pending, Pending jobs per customer before 207, and the download URL's life
    # (Microsoft: 5 minutes).
    report_pending_polls: int = 2
    max_concurrent_reports: int = 5
    report_url_ttl_seconds: float = 300.0
    # Report jobs that include one of these accounts end in Error (Microsoft's answer for a job that failed).
    report_error_account_ids: list[int] = field(default_factory=list)
    # How many accounts the default user reaches (`bingbridge emulator --accounts N`); 0: the seeded world's 7.
    accounts: int = 0


@dataclass
class UserRecord:
    user: m.User
    role_id: int

    @property
    def customer_id(self) -> int:
        assert self.user.customer_id is not None
        return self.user.customer_id


@dataclass
class Grant:
    user_id: int
    client_id: str
    expires_at: float
    redirect_uri: str = ""
    code_challenge: str | None = None
    scope: str = ""


@dataclass
class World:
    customers: dict[int, m.Customer] = field(default_factory=dict)
    accounts: dict[int, m.AdvertiserAccount] = field(default_factory=dict)
    users: dict[int, UserRecord] = field(default_factory=dict)
    client_links: list[m.ClientLink] = field(default_factory=list)
    invitations: dict[int, m.UserInvitation] = field(default_factory=dict)
    # GetCustomerPilotFeatures: the pilot feature ids each customer is enabled for.
    pilot_features: dict[int, list[int]] = field(default_factory=dict)


_COMPANIES = [
    "Northwind Agency", "Contoso Retail", "Fabrikam Outdoor", "Adatum Travel", "Tailspin Toys",
    "Wingtip Sports", "Litware Books", "Proseware Labs", "Alpine Ski House", "Coho Winery",
]  # fmt: skip
# Accounts per client customer of a grown world, and the time zones (Customer Management names) and currencies
# its accounts take in turn.
ACCOUNTS_PER_CLIENT = 250
_ZONES = [
    ("PacificTimeUSCanadaTijuana", "USD"), ("EasternTimeUSCanada", "USD"),
    ("GreenwichMeanTimeDublinEdinburghLisbonLondon", "GBP"), ("AmsterdamBerlinBernRomeStockholmVienna", "EUR"),
    ("OsakaSapporoTokyo", "JPY"), ("CanberraMelbourneSydney", "AUD"),
]  # fmt: skip
_PEOPLE = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]


class EmulatorState:
    """All mutable state of one emulator instance."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.world = World()
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self.refresh_tokens: dict[str, Grant] = {}
        self.calls: dict[int, list[float]] = {}
        # Reporting jobs and synthetic metrics (bingbridge.emulator.reporting), made on first use.
        self.reporting: ReportingState | None = None
        # The base URL callers reach the emulator at, for the links it hands out (report downloads).
        self.public_url = ""
        self._next_id = 100_000_000 + self.rng.randrange(1_000_000)
        self._seed_world()
        if config.accounts:
            self._grow_world(config.accounts)
        self.campaign = CampaignState.seeded(config.seed, self.world.accounts, self.new_id)

    # ---- seeding ----

    def new_id(self) -> int:
        self._next_id += self.rng.randrange(1, 9999)
        return self._next_id

    def new_timestamp(self) -> str:
        """A fresh row version for an entity's Timestamp (base64 of 8 bytes, as Microsoft's look)."""
        return base64.b64encode(self.new_id().to_bytes(8, "big")).decode()

    def _number(self, prefix: str) -> str:
        return prefix + "".join(self.rng.choices(string.ascii_uppercase + string.digits, k=7))

    def _seed_world(self) -> None:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        w = self.world
        for name in _COMPANIES[:6]:
            cid = self.new_id()
            w.customers[cid] = m.Customer(
                id=cid,
                name=name,
                number=self._number("C"),
                market_country="US",
                market_language="English",
                customer_life_cycle_status="Active",
                customer_financial_status="ClearFinancialStatus",
                service_level="SelfServe",
                industry="Retail",
                last_modified_time=now,
            )
            # 574 is "Include in Conversions", the pilot the ConversionGoal docs name for ExcludeFromBidding.
            w.pilot_features[cid] = [INCLUDE_IN_CONVERSIONS_PILOT]
        customer_ids = list(w.customers)
        for cid in customer_ids:
            for n in range(3 if cid == customer_ids[0] else 2):
                aid = self.new_id()
                w.accounts[aid] = m.AdvertiserAccount(
                    id=aid,
                    name=f"{w.customers[cid].name} - {['Search', 'Shopping', 'Brand'][n]}",
                    number=self._number("F"),
                    parent_customer_id=cid,
                    bill_to_customer_id=cid,
                    currency_code="USD",
                    language="English",
                    time_zone="PacificTimeUSCanadaTijuana",
                    account_life_cycle_status="Active" if n < 2 else "Pause",
                    pause_reason=None if n < 2 else 1,
                    account_financial_status="ClearFinancialStatus",
                    payment_method_type="Invoice",
                    auto_tag_type="Inactive",
                    last_modified_time=now,
                )
        for i, (first, last) in enumerate(_PEOPLE):
            uid = self.new_id()
            cid = customer_ids[0] if i < 2 else customer_ids[i]
            w.users[uid] = UserRecord(
                user=m.User(
                    id=uid,
                    customer_id=cid,
                    user_name=f"{first.lower()}@{(w.customers[cid].name or '').split()[0].lower()}.example",
                    name=m.PersonName(first_name=first, last_name=last),
                    contact_info=m.ContactInfo(email=f"{first.lower()}.{last.lower()}@example.com"),
                    lcid="EnglishUS",
                    user_life_cycle_status="Active",
                    secret_question="None",
                    last_modified_time=now,
                ),
                role_id=41 if i != 1 else 100,
            )
        if not self.config.default_user_id:
            self.config.default_user_id = next(iter(w.users))
        agency = customer_ids[0]
        # The agency manages the first account of customers 2 and 3, and customer 4 as a whole;
        # a link to customer 5 is still pending.
        for cid, status, kind in (
            (customer_ids[1], "Active", "AccountLink"),
            (customer_ids[2], "Active", "AccountLink"),
            (customer_ids[3], "Active", "CustomerLink"),
            (customer_ids[4], "LinkPending", "AccountLink"),
        ):
            entity = cid if kind == "CustomerLink" else self.accounts_of(cid)[0].id
            assert entity is not None
            w.client_links.append(
                m.ClientLink(
                    type=kind,
                    client_entity_id=entity,
                    client_entity_number=(
                        w.customers[cid].number if kind == "CustomerLink" else w.accounts[entity].number
                    ),
                    client_entity_name=(w.customers[cid].name if kind == "CustomerLink" else w.accounts[entity].name),
                    managing_customer_id=agency,
                    managing_customer_number=w.customers[agency].number,
                    managing_customer_name=w.customers[agency].name,
                    name=f"{w.customers[cid].name} link"[:40],
                    is_bill_to_client=True,
                    start_date=now,
                    status=status,
                    suppress_notification=True,
                    last_modified_date_time=now,
                    last_modified_by_user_id=next(iter(w.users)),
                    timestamp=self.new_timestamp(),
                    customer_link_permission="Standard" if kind == "CustomerLink" else None,
                )
            )

    def _grow_world(self, accounts: int) -> None:
        """More client customers, each managed as a whole by the agency (CustomerLink), until the default user
        reaches `accounts` accounts: up to ACCOUNTS_PER_CLIENT each, time zones and currencies in turn."""
        w = self.world
        user = self.config.default_user_id
        have = len(self.visible_account_ids(user))
        if accounts < have:
            raise ValueError(f"--accounts must be at least {have}, the accounts of the seeded world")
        agency = w.users[user].customer_id
        # New clients copy the seeded ones: a customer, an active account, the agency's active CustomerLink.
        template = next(iter(w.customers.values()))
        account = next(a for a in w.accounts.values() if a.account_life_cycle_status == "Active")
        link = next(x for x in self.active_links(agency) if x.type == "CustomerLink")
        for first in range(have, accounts, ACCOUNTS_PER_CLIENT):
            cid = self.new_id()
            number = len(w.customers) + 1
            w.customers[cid] = template.model_copy(
                update={"id": cid, "name": f"Client {number:04d} Holdings", "number": self._number("C")}
            )
            for n in range(min(ACCOUNTS_PER_CLIENT, accounts - first)):
                aid = self.new_id()
                zone, currency = _ZONES[(first + n) % len(_ZONES)]
                w.accounts[aid] = account.model_copy(
                    update={
                        "id": aid,
                        "name": f"Client {number:04d} - Account {n + 1:03d}",
                        "number": self._number("F"),
                        "parent_customer_id": cid,
                        "bill_to_customer_id": cid,
                        "currency_code": currency,
                        "time_zone": zone,
                    }
                )
            w.client_links.append(
                link.model_copy(
                    update={
                        "client_entity_id": cid,
                        "client_entity_number": w.customers[cid].number,
                        "client_entity_name": w.customers[cid].name,
                        "name": f"Client {number:04d} link",
                    }
                )
            )

    # ---- queries ----

    def accounts_of(self, customer_id: int) -> list[m.AdvertiserAccount]:
        return [a for a in self.world.accounts.values() if a.parent_customer_id == customer_id]

    def active_links(self, managing_customer_id: int) -> list[m.ClientLink]:
        return [
            link
            for link in self.world.client_links
            if link.managing_customer_id == managing_customer_id and link.status == "Active"
        ]

    def linked_customer_ids(self, customer_id: int) -> list[int]:
        return [
            link.client_entity_id
            for link in self.active_links(customer_id)
            if link.type == "CustomerLink" and link.client_entity_id is not None
        ]

    def linked_account_ids(self, customer_id: int) -> list[int]:
        ids = [
            link.client_entity_id
            for link in self.active_links(customer_id)
            if link.type == "AccountLink" and link.client_entity_id is not None
        ]
        for cid in self.linked_customer_ids(customer_id):
            ids.extend(a.id for a in self.accounts_of(cid) if a.id is not None)
        return ids

    def visible_customer_ids(self, user_id: int) -> list[int]:
        home = self.world.users[user_id].customer_id
        return [home, *self.linked_customer_ids(home)]

    def visible_account_ids(self, user_id: int) -> list[int]:
        home = self.world.users[user_id].customer_id
        own = [a.id for a in self.accounts_of(home) if a.id is not None]
        return own + [i for i in self.linked_account_ids(home) if i not in own]

    # ---- OAuth ----

    def issue_code(self, user_id: int, client_id: str, redirect_uri: str, challenge: str | None, scope: str) -> str:
        code = "M." + secrets.token_urlsafe(24)
        self.codes[code] = Grant(
            user_id,
            client_id,
            time.time() + self.config.authorization_code_ttl,
            redirect_uri,
            challenge,
            scope,
        )
        return code

    def issue_tokens(self, user_id: int, client_id: str, scope: str) -> dict[str, object]:
        access = "EwB" + secrets.token_urlsafe(32)
        refresh = "M.R3_" + secrets.token_urlsafe(32)
        ttl = self.config.access_token_ttl
        self.access_tokens[access] = Grant(user_id, client_id, time.time() + ttl, scope=scope)
        self.refresh_tokens[refresh] = Grant(user_id, client_id, time.time() + 90 * 86400, scope=scope)
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": ttl,
            "ext_expires_in": ttl,
            "access_token": access,
            "refresh_token": refresh,
        }

    def expire_access_tokens(self) -> int:
        for grant in self.access_tokens.values():
            grant.expires_at = 0
        return len(self.access_tokens)

    # ---- throttling ----

    def over_rate_limit(self, customer_id: int, now: float | None = None) -> bool:
        """Record a call for the customer; True when it exceeds the 60 s sliding window limit."""
        limit = self.config.calls_per_minute
        if limit <= 0:
            return False
        now = time.time() if now is None else now
        window = [t for t in self.calls.get(customer_id, []) if t > now - 60]
        if len(window) >= limit:
            self.calls[customer_id] = window
            return True
        window.append(now)
        self.calls[customer_id] = window
        return False
