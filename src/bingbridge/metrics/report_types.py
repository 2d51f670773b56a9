"""Microsoft's report types as data: one `ReportType` per type drives the request, the reader, the table and the export.

A spec names Microsoft's request type (`CampaignPerformanceReportRequest`), the columns we know with their kind,
which of them identify a row (the key, with the period), the table its rows are stored in and the property names
they are exported under. Column names are the same across Microsoft's report types (`AccountId`, `Spend`, ...), so
one catalogue (`COLUMNS`) says how every known column is read and stored; a spec picks from it.

Adding a report type is one `ReportType(...)` entry in `REPORT_TYPES` (and the emulator's data for it): the
request builder, the checks, the reader, the table (created from the spec on first use) and the exports follow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A report column: Microsoft's name, our snake_case name (reader field and table column), and how it is read.

    Kinds: `date` (TimePeriod: yyyy-mm-dd, or yyyy-mm-dd|H for Hourly), `id` (a whole number), `text`, `count`
    (impressions, clicks), `number` (conversions), `money` (two decimals), `percent` ("1.23%").
    """

    wire: str
    name: str
    kind: str = "text"
    export: str = ""

    @property
    def is_measure(self) -> bool:
        return self.kind in ("count", "number", "money", "percent")

    @property
    def export_name(self) -> str:
        return self.export or self.name


def _columns(*columns: Column) -> dict[str, Column]:
    return {c.wire: c for c in columns}


# Every column bingbridge knows how to read, by Microsoft's name. `name` is the reader's field; the tables use the
# same name except where `STORED_AS` says otherwise (the ad table predates this catalogue).
COLUMNS: dict[str, Column] = _columns(
    Column("TimePeriod", "time_period", "date", "date"),
    Column("AccountId", "account_id", "id", "ad_account_id"),
    Column("AccountName", "account_name", export="ad_account_name"),
    Column("AccountNumber", "account_number"),
    Column("CampaignId", "campaign_id", "id"),
    Column("CampaignName", "campaign_name"),
    Column("AdGroupId", "ad_group_id", "id"),
    Column("AdGroupName", "ad_group_name"),
    Column("AdId", "ad_id", "id"),
    Column("AdTitle", "ad_title", export="ad_name"),
    Column("AdType", "ad_type"),
    Column("AdStatus", "ad_status"),
    Column("FinalUrl", "final_url"),
    Column("KeywordId", "keyword_id", "id"),
    Column("Keyword", "keyword"),
    Column("SearchQuery", "search_query"),
    Column("Country", "country"),
    Column("City", "city"),
    Column("AssetGroupId", "asset_group_id", "id"),
    Column("AssetGroupName", "asset_group_name"),
    Column("AgeGroup", "age_group"),
    Column("Gender", "gender"),
    Column("GoalId", "goal_id", "id"),
    Column("Goal", "goal"),
    Column("CurrencyCode", "currency_code", export="currency"),
    Column("DeviceType", "device_type"),
    Column("Network", "network"),
    Column("Impressions", "impressions", "count", "impressions"),
    Column("Clicks", "clicks", "count", "clicks"),
    Column("Spend", "spend", "money", "cost"),
    Column("Conversions", "conversions", "number", "conversions"),
    Column("Revenue", "revenue", "money", "revenue"),
    Column("AllConversions", "all_conversions", "number", "all_conversions"),
    Column("Ctr", "ctr", "percent", "ctr"),
    Column("AverageCpc", "average_cpc", "money", "average_cpc"),
)
# Table column names that differ from the reader's field (the ad table of migration 0001 calls AdTitle ad_name).
STORED_AS = {"ad_title": "ad_name"}

# Microsoft's Aggregation values we import, with the name used in table names and on the command line.
AGGREGATIONS: dict[str, str] = {
    "daily": "Daily",
    "hourly": "Hourly",
    "weekly": "Weekly",
    "weekly_starting_monday": "WeeklyStartingMonday",
    "monthly": "Monthly",
    "yearly": "Yearly",
    "summary": "Summary",
}


@dataclass(frozen=True)
class ReportType:
    """One of Microsoft's report types as bingbridge imports it.

    `columns` are the columns we know for it (Microsoft's names, in the order they are requested by default);
    `key` the columns that identify a row within a period (with AccountId); `event_type` names the exported record.
    """

    name: str
    request_type: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    event_type: str
    # Columns Microsoft knows for the type but bingbridge does not store; accepted in custom column lists.
    extra_columns: tuple[str, ...] = ()
    # Exported measures are named prefix + the column's export name ("metrics.cost"; Amplitude's "ad_metrics.").
    measure_prefix: str = "metrics."

    def export_name(self, column: Column) -> str:
        return self.measure_prefix + column.export_name if column.is_measure else column.export_name

    def table_name(self, aggregation: str) -> str:
        """The table of this type's rows at an aggregation, e.g. `campaign_metrics_weekly`."""
        short = next(k for k, v in AGGREGATIONS.items() if v == aggregation)
        return f"{self.name}_metrics_{short}"

    @property
    def known_columns(self) -> tuple[str, ...]:
        return self.columns + self.extra_columns

    @property
    def measures(self) -> tuple[str, ...]:
        return tuple(c for c in self.known_columns if COLUMNS[c].is_measure)

    @property
    def stored(self) -> tuple[Column, ...]:
        """The columns kept in the table (TimePeriod becomes the period columns)."""
        return tuple(COLUMNS[c] for c in self.columns if c != "TimePeriod")

    def default_columns(self, aggregation: str) -> tuple[str, ...]:
        """What we request unless told otherwise: every stored column, TimePeriod except for Summary."""
        return tuple(c for c in self.columns if not (c == "TimePeriod" and aggregation == "Summary"))


_MEASURES = ("Impressions", "Clicks", "Spend", "Conversions", "Revenue")
_ACCOUNT = ("AccountId", "AccountName")
_CAMPAIGN = ("CampaignId", "CampaignName")
_AD_GROUP = ("AdGroupId", "AdGroupName")
_CURRENCY = "CurrencyCode"

REPORT_TYPES: dict[str, ReportType] = {
    t.name: t
    for t in (
        ReportType(
            "ad",
            "AdPerformanceReportRequest",
            (
                "TimePeriod",
                *_ACCOUNT,
                *_CAMPAIGN,
                *_AD_GROUP,
                "AdId",
                "AdTitle",
                "FinalUrl",
                *_MEASURES,
                "CurrencyCode",
            ),
            ("AccountId", "AdId"),
            "Daily Ad Metrics",
            ("AccountNumber", "AdType", "AdStatus", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
            measure_prefix="ad_metrics.",  # Amplitude's Bing Ads integration names
        ),
        ReportType(
            "account",
            "AccountPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_MEASURES, "CurrencyCode"),
            ("AccountId",),
            "Account Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "campaign",
            "CampaignPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_MEASURES, "CurrencyCode"),
            ("AccountId", "CampaignId"),
            "Campaign Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "ad_group",
            "AdGroupPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, *_MEASURES, "CurrencyCode"),
            ("AccountId", "AdGroupId"),
            "Ad Group Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "keyword",
            "KeywordPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, "KeywordId", "Keyword", *_MEASURES, "CurrencyCode"),
            ("AccountId", "KeywordId"),
            "Keyword Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "search_query",
            "SearchQueryPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, "KeywordId", "Keyword", "SearchQuery", *_MEASURES),
            ("AccountId", "KeywordId", "SearchQuery"),
            "Search Query Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "geographic",
            "GeographicPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, "Country", "City", *_MEASURES, "CurrencyCode"),
            ("AccountId", "AdGroupId", "Country", "City"),
            "Geographic Metrics",
            ("AccountNumber", "DeviceType", "Network", "AllConversions", "Ctr", "AverageCpc"),
        ),
        ReportType(
            "asset_group",
            "AssetGroupPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, "AssetGroupId", "AssetGroupName", *_MEASURES),
            ("AccountId", "AssetGroupId"),
            "Asset Group Metrics",
            ("Ctr", "AverageCpc"),
        ),
        ReportType(
            "conversion",
            "ConversionPerformanceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, "GoalId", "Goal", "Conversions", "Revenue"),
            ("AccountId", "AdGroupId", "GoalId"),
            "Conversion Goal Metrics",
            ("AccountNumber", "DeviceType", "AllConversions"),
        ),
        ReportType(
            "age_gender",
            "AgeGenderAudienceReportRequest",
            ("TimePeriod", *_ACCOUNT, *_CAMPAIGN, *_AD_GROUP, "AgeGroup", "Gender", *_MEASURES),
            ("AccountId", "AdGroupId", "AgeGroup", "Gender"),
            "Age and Gender Metrics",
            ("AccountNumber", "AllConversions"),
        ),
    )
}
AD = REPORT_TYPES["ad"]
BY_REQUEST_TYPE: dict[str, ReportType] = {t.request_type: t for t in REPORT_TYPES.values()}

for _type in REPORT_TYPES.values():
    assert set(_type.known_columns) <= set(COLUMNS), f"{_type.name}: a column missing from COLUMNS"
    assert set(_type.key) <= set(_type.columns), f"{_type.name}: a key column it does not store"


def report_type(name: str) -> ReportType:
    """The spec called `name` (e.g. "campaign"); KeyError lists the known names."""
    try:
        return REPORT_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown report type {name!r}; known: {', '.join(REPORT_TYPES)}") from None
