"""Synthetic campaigns, ad groups, ads and their daily metrics for the emulator's seeded accounts.

Nothing is stored per day: every number is a pure function of (seed, ad, day, revision), so 36 months for a dozen
accounts cost nothing until asked for and a year of rows is produced in milliseconds. Late attribution is a
revision counter per (account, day): `revise()` bumps it and the conversions and revenue of those days change.

Choices of ours (Microsoft publishes no sample data): paused accounts have no ads, so their reports are empty;
a day with no impressions has no row (as in Microsoft's performance reports); ads start and stop on fixed days so
some ranges have fewer ads; conversions are whole numbers; spend and revenue are whole cents.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import NamedTuple

_MASK = (1 << 64) - 1

_CAMPAIGNS = (
    ("Brand - Exact", "brand"),
    ('Shoes, "Spring" Sale', "spring_sale"),
    ("Généric – Outdoor", "outdoor"),
    ("Retargeting Q4", "retargeting"),
)
_AD_GROUPS = ("Core terms", "Long tail", "Competitors")
_TITLES = (
    "Official Site - Free Shipping",
    "Save 20% Today",
    'Top Rated "Trail" Boots',
    "New Arrivals, Every Week",
)


def mix(a: int, b: int) -> int:
    """A 64-bit hash of two integers (splitmix64 finaliser): fast, deterministic, well spread."""
    x = (a * 0x9E3779B97F4A7C15 + b + 0x632BE59BD9B4E019) & _MASK
    x ^= x >> 31
    x = (x * 0xBF58476D1CE4E5B9) & _MASK
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


@dataclass(frozen=True)
class SyntheticAd:
    """One ad and the constants its daily numbers are drawn from."""

    account_id: int
    account_name: str
    currency_code: str
    campaign_id: int
    campaign_name: str
    ad_group_id: int
    ad_group_name: str
    ad_id: int
    ad_title: str | None
    final_url: str | None
    first_day: dt.date
    last_day: dt.date | None
    key: int
    base_impressions: int
    ctr_per_10k: int
    cpc_cents: int
    conversion_per_1k: int
    order_value_cents: int


class MetricsRow(NamedTuple):
    """One ad on one day, as the emulator's ground truth (money in cents)."""

    day: dt.date
    ad: SyntheticAd
    impressions: int
    clicks: int
    spend_cents: int
    conversions: int
    revenue_cents: int


def _final_url(kind: int, domain: str, utm_campaign: str, ad_index: int) -> str | None:
    """The URL mix the import must handle: full UTM, partial UTM, none, ValueTrack templates, no URL at all."""
    base = f"https://www.{domain}.example"
    if kind == 0:
        return f"{base}/shoes?utm_source=bing&utm_medium=cpc&utm_campaign={utm_campaign}&utm_content=ad{ad_index}"
    if kind == 1:
        return f"{base}/boots"
    if kind == 2:
        return f"{base}/?utm_campaign={utm_campaign}&utm_term=trail+boots"
    if kind == 3:
        query = "utm_source=microsoft&utm_medium=paid_search&utm_campaign={Campaign}&utm_content={AdId}"
        return f"{base}/deals?{query}"
    if kind == 4:
        return "{lpurl}?utm_source=bing&utm_medium=cpc&utm_term={keyword}"
    if kind == 5:
        return f"{base}/outlet?UTM_Source=Bing&utm_medium=&ref=ads#top"
    return None  # e.g. an app install ad: the FinalUrl cell reads "--"


@dataclass
class AdMetricsWorld:
    """The synthetic advertising structure and daily metrics of every account."""

    seed: int
    # (account_id, day) -> how many times late attribution revised that day.
    revisions: dict[tuple[int, dt.date], int] = field(default_factory=dict)
    _ads: dict[int, list[SyntheticAd]] = field(default_factory=dict)

    def ads_of(
        self, account_id: int, account_name: str, currency_code: str, active: bool, today: dt.date
    ) -> list[SyntheticAd]:
        """The account's ads, built once from the seed; paused accounts have none."""
        if account_id in self._ads:
            return self._ads[account_id]
        ads: list[SyntheticAd] = []
        if active:
            ads = self._build(account_id, account_name, currency_code, today)
        self._ads[account_id] = ads
        return ads

    def _build(self, account_id: int, account_name: str, currency_code: str, today: dt.date) -> list[SyntheticAd]:
        h = mix(self.seed, account_id)
        domain = (account_name.split()[0] if account_name else "shop").lower()
        ads: list[SyntheticAd] = []
        next_id = 700_000_000 + (h % 1_000_000) * 100
        n_campaigns = 2 + h % 3
        for c in range(n_campaigns):
            name, utm = _CAMPAIGNS[(c + h) % len(_CAMPAIGNS)]
            campaign_id = next_id = next_id + 1 + mix(h, c) % 50
            for g in range(2):
                ad_group_id = next_id = next_id + 1 + mix(h, c * 10 + g) % 50
                for a in range(2 + (c + g) % 2):
                    ad_id = next_id = next_id + 1 + mix(h, c * 100 + g * 10 + a) % 50
                    index = len(ads)
                    k = mix(h, ad_id)
                    # Most ads run through the whole 36 months; some start recently, one stopped 100 days ago.
                    first = today - dt.timedelta(days=1200 if index % 4 else 150 + k % 200)
                    last = today - dt.timedelta(days=100) if index == 3 else None
                    title = _TITLES[(index + c) % len(_TITLES)] if index % 7 != 6 else None
                    ads.append(
                        SyntheticAd(
                            account_id=account_id,
                            account_name=account_name,
                            currency_code=currency_code,
                            campaign_id=campaign_id,
                            campaign_name=name,
                            ad_group_id=ad_group_id,
                            ad_group_name=_AD_GROUPS[(g + c) % len(_AD_GROUPS)],
                            ad_id=ad_id,
                            ad_title=title,
                            final_url=_final_url(index % 7, domain, utm, index),
                            first_day=first,
                            last_day=last,
                            key=k,
                            base_impressions=200 + k % 1800,
                            ctr_per_10k=150 + (k >> 12) % 450,
                            cpc_cents=35 + (k >> 20) % 160,
                            conversion_per_1k=30 + (k >> 28) % 90,
                            order_value_cents=1500 + (k >> 36) % 9000,
                        )
                    )
        return ads

    def row(self, ad: SyntheticAd, day: dt.date) -> MetricsRow | None:
        """The ad's numbers on `day`, or None when it had no impressions."""
        if day < ad.first_day or (ad.last_day is not None and day > ad.last_day):
            return None
        ordinal = day.toordinal()
        h = mix(ad.key, ordinal)
        if h % 29 == 0:  # now and then a day without impressions
            return None
        weekday = 0.75 if day.weekday() >= 5 else 1.0
        impressions = max(1, int(ad.base_impressions * weekday * (60 + h % 80) / 100))
        clicks = impressions * (ad.ctr_per_10k + (h >> 8) % 100) // 10_000
        spend_cents = clicks * (ad.cpc_cents + (h >> 16) % 40)
        conversions = clicks * (ad.conversion_per_1k + (h >> 24) % 30) // 1000
        revision = self.revisions.get((ad.account_id, day), 0)
        if revision and clicks:
            conversions += revision * (1 + mix(h, revision) % 2)  # late attribution only ever adds
        revenue_cents = conversions * (ad.order_value_cents + (h >> 32) % 500)
        return MetricsRow(day, ad, impressions, clicks, spend_cents, conversions, revenue_cents)

    def rows(self, ads: list[SyntheticAd], start: dt.date, end: dt.date) -> Iterator[MetricsRow]:
        """Rows for the ads from start to end inclusive, day by day, ads in a fixed order."""
        day = start
        one = dt.timedelta(days=1)
        while day <= end:
            for ad in ads:
                found = self.row(ad, day)
                if found is not None:
                    yield found
            day += one

    def revise(self, account_id: int, today: dt.date, days: int) -> list[dt.date]:
        """Late attribution: bump the revision of the account's last `days` days (today included)."""
        touched = [today - dt.timedelta(days=i) for i in range(days)]
        for day in touched:
            self.revisions[(account_id, day)] = self.revisions.get((account_id, day), 0) + 1
        return touched


# ---- every report type from the same ground truth ----
#
# The ad rows above are the one ground truth. Account, campaign and ad group reports add them up; keyword, search
# query, geographic and per-goal reports split each ad's numbers between the ad group's keywords (then queries),
# locations or goals, in whole units, so every report of a range adds up to the same totals. Asset groups are
# Performance Max entities of their own (Microsoft reports them apart from ads), drawn the same way as ads.

_KEYWORDS = ("trail boots", "hiking shoes", "waterproof boots")
_QUERIES = ("{} sale", "best {}")
_LOCATIONS = (("United States", "Seattle"), ("United States", "Chicago"), ("Canada", "Toronto"))
_GOALS = (("Purchase", "Purchase"), ("Sign-up", "NewsletterSignup"))
_ASSET_GROUPS = ("All products", "Spring collection")
_AUDIENCES = (("25-34", "Female"), ("25-34", "Male"), ("35-49", "Female"), ("35-49", "Male"))
MEASURES = ("Impressions", "Clicks", "Spend", "Conversions", "Revenue")  # Spend and Revenue in cents


class Fact(NamedTuple):
    """One entity on one day in one report type: its attribute cells (Microsoft's names) and MEASURES values."""

    day: dt.date
    attributes: tuple[tuple[str, object], ...]
    measures: tuple[int, ...]


def _share(measures: tuple[int, ...], percent: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """`percent` of each measure (whole units, rounded down) and the rest."""
    part = tuple(v * percent // 100 for v in measures)
    return part, tuple(v - p for v, p in zip(measures, part, strict=True))


def _split(measures: tuple[int, ...], key: int, ways: int) -> list[tuple[int, ...]]:
    """Measures split `ways` ways by shares drawn from `key`; the parts add up exactly."""
    parts: list[tuple[int, ...]] = []
    rest = measures
    for i in range(ways - 1):
        part, rest = _share(rest, 35 + mix(key, i) % 30)
        parts.append(part)
    return [*parts, rest]


def _account(ad: SyntheticAd) -> tuple[tuple[str, object], ...]:
    return (
        ("AccountId", ad.account_id),
        ("AccountName", ad.account_name),
        ("AccountNumber", f"F{ad.account_id % 10_000_000:07d}"),
        ("CurrencyCode", ad.currency_code),
    )


def _campaign(ad: SyntheticAd) -> tuple[tuple[str, object], ...]:
    return (*_account(ad), ("CampaignId", ad.campaign_id), ("CampaignName", ad.campaign_name))


def _ad_group(ad: SyntheticAd) -> tuple[tuple[str, object], ...]:
    return (*_campaign(ad), ("AdGroupId", ad.ad_group_id), ("AdGroupName", ad.ad_group_name))


def _ad(ad: SyntheticAd) -> tuple[tuple[str, object], ...]:
    return (
        *_ad_group(ad),
        ("AdId", ad.ad_id),
        ("AdTitle", ad.ad_title),
        ("AdType", "Text" if ad.ad_title else "Responsive search"),
        ("AdStatus", "Active"),
        ("FinalUrl", ad.final_url),
    )


def _measures(row: MetricsRow) -> tuple[int, ...]:
    return (row.impressions, row.clicks, row.spend_cents, row.conversions, row.revenue_cents)


def _keywords(row: MetricsRow) -> Iterator[tuple[int, str, tuple[int, ...]]]:
    ad = row.ad
    parts = _split(_measures(row), mix(ad.key, row.day.toordinal()), 2)
    for k, part in enumerate(parts):
        yield ad.ad_group_id * 10 + k, _KEYWORDS[(ad.ad_group_id + k) % len(_KEYWORDS)], part


def facts(report: str, rows: Iterator[MetricsRow]) -> Iterator[Fact]:
    """The facts of report type `report` (a bingbridge.metrics.report_types name) drawn from ad rows."""
    for row in rows:
        ad, day = row.ad, row.day
        if report in ("ad", "asset_group"):
            attributes = _ad(ad)
            if report == "asset_group":
                attributes = (
                    *_campaign(ad),
                    ("AssetGroupId", ad.ad_id),
                    ("AssetGroupName", ad.ad_title),
                )
            yield Fact(day, attributes, _measures(row))
        elif report in ("account", "campaign", "ad_group"):
            entity = {"account": _account, "campaign": _campaign, "ad_group": _ad_group}[report]
            yield Fact(day, entity(ad), _measures(row))
        elif report in ("keyword", "search_query"):
            for keyword_id, keyword, part in _keywords(row):
                base = (*_ad_group(ad), ("KeywordId", keyword_id), ("Keyword", keyword))
                if report == "keyword":
                    yield Fact(day, base, part)
                    continue
                for q, share in enumerate(_split(part, mix(keyword_id, day.toordinal()), len(_QUERIES))):
                    yield Fact(day, (*base, ("SearchQuery", _QUERIES[q].format(keyword))), share)
        elif report == "geographic":
            parts = _split(_measures(row), mix(ad.key ^ 0x5EED, day.toordinal()), len(_LOCATIONS))
            for (country, city), part in zip(_LOCATIONS, parts, strict=True):
                yield Fact(day, (*_ad_group(ad), ("Country", country), ("City", city)), part)
        elif report == "conversion":
            parts = _split(_measures(row), mix(ad.key ^ 0x60A1, day.toordinal()), len(_GOALS))
            for g, ((goal, _kind), part) in enumerate(zip(_GOALS, parts, strict=True)):
                goal_id = 90_000_000 + ad.account_id % 1_000_000 * 10 + g
                yield Fact(day, (*_ad_group(ad), ("GoalId", goal_id), ("Goal", goal)), part)
        elif report == "age_gender":
            parts = _split(_measures(row), mix(ad.key ^ 0xA6E, day.toordinal()), len(_AUDIENCES))
            for (age, gender), part in zip(_AUDIENCES, parts, strict=True):
                yield Fact(day, (*_ad_group(ad), ("AgeGroup", age), ("Gender", gender)), part)
        else:
            raise KeyError(f"the emulator has no data for the {report} report")


def asset_groups_of(world: AdMetricsWorld, ads: list[SyntheticAd]) -> list[SyntheticAd]:
    """The account's Performance Max asset groups: one campaign, two asset groups, numbers drawn like an ad's."""
    if not ads:
        return []
    first = ads[0]
    campaign_id = first.campaign_id + 900_000
    return [
        replace(
            ad,
            campaign_id=campaign_id,
            campaign_name="Performance Max - All",
            ad_group_id=campaign_id,
            ad_group_name="",
            ad_id=campaign_id + 1 + i,
            ad_title=_ASSET_GROUPS[i],
            final_url=None,
            key=mix(ad.key, 0xA55E7),
        )
        for i, ad in enumerate(ads[:2])
    ]


SERVED_REPORTS = ("ad", "account", "campaign", "ad_group", "keyword", "search_query", "geographic", "asset_group",
                  "conversion", "age_gender")  # fmt: skip
