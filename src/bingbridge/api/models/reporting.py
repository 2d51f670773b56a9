"""Reporting service data objects (v13 WSDL order), the report request types and report file labels.

Over REST a ReportRequest is polymorphic through a `Type` property naming the derived class
(`"Type": "AdPerformanceReportRequest"`); the base type alone is refused by Microsoft.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field

from bingbridge.api.models.base import Flags, LongId, WireModel, WireResponse

ReportStatus = Literal["Error", "Success", "Pending"]  # ReportRequestStatusType, WSDL order

AGGREGATIONS = (
    "Summary",
    "Hourly",
    "Daily",
    "Weekly",
    "Monthly",
    "Yearly",
    "HourOfDay",
    "DayOfWeek",
    "WeeklyStartingMonday",
)
REPORT_TIME_PERIODS = (
    "Today",
    "Yesterday",
    "LastSevenDays",
    "ThisWeek",
    "LastWeek",
    "Last14Days",
    "Last30Days",
    "LastFourWeeks",
    "ThisMonth",
    "LastMonth",
    "LastThreeMonths",
    "LastSixMonths",
    "ThisYear",
    "LastYear",
    "ThisWeekStartingMonday",
    "LastWeekStartingMonday",
    "LastFourWeeksStartingMonday",
)

# Every ReportRequest type of the v13 WSDL (msads' models list the same). The emulator serves some of them
# (bingbridge.metrics.report_types); the others are valid requests all the same.
REPORT_REQUEST_TYPES = frozenset(
    name + "ReportRequest"
    for name in (
        "AccountPerformance AdDynamicTextPerformance AdExtensionByAd AdExtensionByKeyword AdExtensionDetail "
        "AdGroupPerformance AdPerformance AgeGenderAudience AppsPerformance AssetGroupPerformance AssetPerformance "
        "AudiencePerformance BidStrategy BudgetSummary CallDetail CampaignPerformance CategoryClickCoverage "
        "CategoryInsights CombinationPerformance ConversionPerformance DestinationUrlPerformance "
        "DSAAutoTargetPerformance DSACategoryPerformance DSASearchQueryPerformance FeedItemPerformance "
        "GeographicPerformance GoalsAndFunnels HotelDimensionPerformance HotelGroupPerformance KeywordPerformance "
        "MMMPerformance MSClickIdPerformance NegativeKeywordConflict ProductDimensionPerformance ProductMatchCount "
        "ProductNegativeKeywordConflict ProductPartitionPerformance ProductPartitionUnitPerformance "
        "ProductSearchQueryPerformance ProfessionalDemographicsAudience PublisherUsagePerformance "
        "SearchCampaignChangeHistory SearchInsightPerformance SearchQueryPerformance SearchTermLandingPage "
        "ShareOfVoice TravelQueryInsight UserLocationPerformance"
    ).split()
)

# Header lines of a downloaded report file (reference 5.4), label -> ReportFileHeader attribute.
REPORT_FILE_HEADER_LABELS: dict[str, str] = {
    "Report Name": "report_name",
    "Report Time": "report_time",
    "Time Zone": "time_zone",
    "Last Completed Available Day": "last_completed_available_day",
    "Last Completed Available Hour": "last_completed_available_hour",
    "Report Aggregation": "aggregation",
    "Report Filter": "report_filter",
    "Potential Incomplete Data": "potential_incomplete_data",
    "Rows": "rows",
}
# The footer's first cell; Microsoft's docs show "@2020", real files carry "©" and the year.
REPORT_FOOTER_SUFFIX = " Microsoft Corporation. All rights reserved."
NOT_APPLICABLE = "--"  # what a report cell holds when the value does not apply


class Date(WireModel):
    """A calendar day: `{"Day": 1, "Month": 1, "Year": 2024}` (each a plain JSON number)."""

    day: int
    month: int
    year: int

    @classmethod
    def of(cls, value: dt.date) -> Date:
        return cls(day=value.day, month=value.month, year=value.year)

    def to_date(self) -> dt.date:
        """The Python date; raises ValueError for impossible days such as 31 February."""
        return dt.date(self.year, self.month, self.day)


class ReportTime(WireModel):
    """A predefined period or a custom range, and the time zone that decides what "today" is."""

    custom_date_range_end: Date | None = None
    custom_date_range_start: Date | None = None
    predefined_time: str | None = None
    report_time_zone: str | None = None


class CampaignReportScope(WireModel):
    account_id: LongId
    campaign_id: LongId


class AdGroupReportScope(WireModel):
    account_id: LongId
    campaign_id: LongId
    ad_group_id: LongId


class AccountThroughAdGroupReportScope(WireModel):
    """Which accounts (or campaigns, or ad groups) the report covers."""

    account_ids: list[LongId] | None = None
    ad_groups: list[AdGroupReportScope] | None = None
    campaigns: list[CampaignReportScope] | None = None


class AdPerformanceReportFilter(WireModel):
    """Optional filters; each is a flags enum (comma-separated names on the wire)."""

    account_status: Flags | None = None
    ad_distribution: Flags | None = None
    ad_group_status: Flags | None = None
    ad_status: Flags | None = None
    ad_type: Flags | None = None
    campaign_status: Flags | None = None
    device_type: Flags | None = None
    language: Flags | None = None


class ReportRequest(WireModel):
    """A performance report: ReportRequest's fields, then those its derived types share (WSDL order).

    `type` names the derived type (REST's polymorphism discriminator), e.g. "CampaignPerformanceReportRequest";
    the scope is sent with AccountIds only, which every derived scope type has.
    """

    # REST only: the derived type's name, Microsoft's polymorphism discriminator.
    type: str = "AdPerformanceReportRequest"
    exclude_column_headers: bool | None = None
    exclude_report_footer: bool | None = None
    exclude_report_header: bool | None = None
    format: str | None = None
    format_version: str | None = None
    report_name: str | None = None
    return_only_complete_data: bool | None = None
    aggregation: str | None = None
    columns: list[str] | None = None
    filter: AdPerformanceReportFilter | None = None
    scope: AccountThroughAdGroupReportScope | None = None
    time: ReportTime | None = None


AdPerformanceReportRequest = ReportRequest  # the default type


class SubmitGenerateReportRequest(WireModel):
    report_request: ReportRequest | None = None


class SubmitGenerateReportResponse(WireResponse):
    report_request_id: str | None = None


class PollGenerateReportRequest(WireModel):
    report_request_id: str | None = None


class ReportRequestStatus(WireResponse):
    """A job's state; on Success the download URL lives 5 minutes and is None when no data matched.

    It keeps the TrackingId of the poll that returned it.
    """

    report_download_url: str | None = None
    status: ReportStatus = "Pending"


class PollGenerateReportResponse(WireResponse):
    report_request_status: ReportRequestStatus | None = Field(default=None)
