"""Campaign Management data objects and messages for conversion goals, UET tags and offline conversions.

One namespace (CampaignManagement/v13) for entities and messages. Field order follows the v13 WSDL; derived goal
types add their members after the base members, and REST picks the subtype by the `Type` property.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from bingbridge.api.models.base import Flags, KeyValuePairOfstringstring, LongId, WireDateTime, WireModel, WireResponse

GoalStatus = Literal["Active", "Paused", "Deleted"]
GoalScope = Literal["Account", "Customer"]
CountType = Literal["All", "Unique"]
ExpressionOperator = Literal["Equals", "BeginsWith", "RegularExpression", "Contains"]
GoalCategory = Literal[
    "Unknown", "None", "Purchase", "AddToCart", "BeginCheckout", "Subscribe", "SubmitLeadForm", "BookAppointment",
    "Signup", "RequestQuote", "GetDirections", "OutboundClick", "Contact", "PageView", "Download", "Other",
]  # fmt: skip
AdjustmentType = Literal["Restate", "Retract"]


class ConversionGoalRevenue(WireModel):
    currency_code: str | None = None
    type: Literal["FixedValue", "VariableValue", "NoValue"] | None = None
    value: float | None = None


class ConversionGoal(WireModel):
    """Members shared by every goal type; use one of the subclasses."""

    attribution_model_type: Literal["LastClick", "LastTouch", "DataDriven"] | None = None
    conversion_window_in_minutes: int | None = None
    count_type: CountType | None = None
    exclude_from_bidding: bool | None = None
    goal_category: GoalCategory | None = None
    id: LongId | None = None
    is_auto_goal: bool | None = None
    is_enhanced_conversions_enabled: bool | None = None
    name: str | None = None
    revenue: ConversionGoalRevenue | None = None
    scope: GoalScope | None = None
    status: GoalStatus | None = None
    tag_id: LongId | None = None
    tracking_status: str | None = None
    type: str
    view_through_conversion_window_in_minutes: int | None = None


class OfflineConversionGoal(ConversionGoal):
    type: Literal["OfflineConversion"] = "OfflineConversion"
    is_externally_attributed: bool | None = None


class UrlGoal(ConversionGoal):
    type: Literal["Url"] = "Url"
    url_expression: str | None = None
    url_operator: ExpressionOperator | None = None


class DurationGoal(ConversionGoal):
    type: Literal["Duration"] = "Duration"
    minimum_duration_in_seconds: int | None = None


class PagesViewedPerVisitGoal(ConversionGoal):
    type: Literal["PagesViewedPerVisit"] = "PagesViewedPerVisit"
    minimum_pages_viewed: int | None = None


class EventGoal(ConversionGoal):
    type: Literal["Event"] = "Event"
    action_expression: str | None = None
    action_operator: ExpressionOperator | None = None
    category_expression: str | None = None
    category_operator: ExpressionOperator | None = None
    label_expression: str | None = None
    label_operator: ExpressionOperator | None = None
    value: float | None = None
    value_operator: Literal["Equals", "LessThan", "GreaterThan"] | None = None


class AppInstallGoal(ConversionGoal):
    type: Literal["AppInstall"] = "AppInstall"
    app_platform: str | None = None
    app_store_id: str | None = None


class InStoreTransactionGoal(ConversionGoal):
    type: Literal["InStoreTransaction"] = "InStoreTransaction"


class AppDownloadGoal(ConversionGoal):
    type: Literal["AppDownload"] = "AppDownload"
    app_platform: str | None = None
    app_store_id: str | None = None


AnyConversionGoal = Annotated[
    OfflineConversionGoal
    | UrlGoal
    | DurationGoal
    | PagesViewedPerVisitGoal
    | EventGoal
    | AppInstallGoal
    | InStoreTransactionGoal
    | AppDownloadGoal,
    Field(discriminator="type"),
]
GOAL_TYPES = (
    "Url",
    "Duration",
    "PagesViewedPerVisit",
    "Event",
    "AppInstall",
    "OfflineConversion",
    "InStoreTransaction",
    "AppDownload",
)


class OfflineConversion(WireModel):
    """One offline conversion to upload: a click id (or hashed e-mail/phone), a goal name and a UTC time.

    ConversionTime is required by Microsoft, but the wire allows it to be absent (WSDL minOccurs=0, msads
    Optional); Microsoft then answers 5608 for that item, so the model must be able to carry its absence.
    """

    conversion_currency_code: str | None = None
    conversion_name: str | None = None
    conversion_time: WireDateTime | None = None
    conversion_value: float | None = None
    external_attribution_credit: float | None = None
    external_attribution_model: str | None = None
    hashed_email_address: str | None = None
    hashed_phone_number: str | None = None
    microsoft_click_id: str | None = None


class OfflineConversionAdjustment(WireModel):
    """Restate (new value) or Retract an uploaded conversion, found by name + time + click id or hashes."""

    adjustment_currency_code: str | None = None
    adjustment_time: WireDateTime | None = None  # required by Microsoft (5619), optional on the wire
    adjustment_type: AdjustmentType | None = None
    adjustment_value: float | None = None
    conversion_name: str | None = None
    conversion_time: WireDateTime | None = None  # required by Microsoft (5608), optional on the wire
    hashed_email_address: str | None = None
    hashed_phone_number: str | None = None
    microsoft_click_id: str | None = None


class CustomerAccountShareAssociation(WireModel):
    association_count: LongId | None = None
    usage_type: str | None = None


class CustomerAccountShare(WireModel):
    account_id: LongId | None = None
    associations: list[CustomerAccountShareAssociation] | None = None
    customer_id: LongId | None = None


class CustomerShare(WireModel):
    customer_account_shares: list[CustomerAccountShare] | None = None
    owner_customer_id: LongId | None = None


class UetTag(WireModel):
    """A Universal Event Tracking tag; Microsoft fills in Id, TrackingScript and TrackingStatus."""

    customer_share: CustomerShare | None = None
    description: str | None = None
    id: LongId | None = None
    industry: str | None = None
    name: str | None = None
    tracking_no_script: str | None = None
    tracking_script: str | None = None
    tracking_status: Literal["Unverified", "Active", "Inactive"] | None = None


class BatchError(WireModel):
    """A per-item error; `index` is the zero-based position in the request list."""

    code: int
    details: str | None = None
    error_code: str | None = None
    field_path: str | None = None
    forward_compatibility_map: list[KeyValuePairOfstringstring] | None = None
    index: int
    message: str | None = None
    type: str | None = None


# ---- request and response messages ----
# Every request member is optional on the wire (WSDL minOccurs=0, msads Optional): Microsoft answers a missing
# list or flag set with its own code (5321, 5329, 5330, 5600, 5308), so the models accept their absence.


class AddConversionGoalsRequest(WireModel):
    conversion_goals: list[AnyConversionGoal] | None = None


class AddConversionGoalsResponse(WireResponse):
    conversion_goal_ids: list[LongId | None] | None = None
    partial_errors: list[BatchError] | None = None


class UpdateConversionGoalsRequest(WireModel):
    conversion_goals: list[AnyConversionGoal] | None = None


class PartialErrorsResponse(WireResponse):
    """Answers that carry only per-item errors."""

    partial_errors: list[BatchError] | None = None


class UpdateConversionGoalsResponse(PartialErrorsResponse):
    pass


class GetConversionGoalsByIdsRequest(WireModel):
    conversion_goal_ids: list[LongId] | None = None
    conversion_goal_types: Flags | None = None
    return_additional_fields: Flags | None = None


class GetConversionGoalsResponse(WireResponse):
    conversion_goals: list[AnyConversionGoal | None] | None = None
    partial_errors: list[BatchError] | None = None


class GetConversionGoalsByIdsResponse(GetConversionGoalsResponse):
    pass


class GetConversionGoalsByTagIdsRequest(WireModel):
    tag_ids: list[LongId] | None = None
    conversion_goal_types: Flags | None = None
    return_additional_fields: Flags | None = None


class GetConversionGoalsByTagIdsResponse(GetConversionGoalsResponse):
    pass


class ApplyOfflineConversionsRequest(WireModel):
    offline_conversions: list[OfflineConversion] | None = None


class ApplyOfflineConversionsResponse(PartialErrorsResponse):
    pass


class ApplyOfflineConversionAdjustmentsRequest(WireModel):
    offline_conversion_adjustments: list[OfflineConversionAdjustment] | None = None


class ApplyOfflineConversionAdjustmentsResponse(PartialErrorsResponse):
    pass


class AddUetTagsRequest(WireModel):
    uet_tags: list[UetTag] | None = None


class UetTagsResponse(WireResponse):
    uet_tags: list[UetTag | None] | None = None
    partial_errors: list[BatchError] | None = None


class AddUetTagsResponse(UetTagsResponse):
    pass


class GetUetTagsByIdsRequest(WireModel):
    tag_ids: list[LongId] | None = None
    return_additional_fields: Flags | None = None


class GetUetTagsByIdsResponse(UetTagsResponse):
    pass


class UpdateUetTagsRequest(WireModel):
    uet_tags: list[UetTag] | None = None


class UpdateUetTagsResponse(PartialErrorsResponse):
    pass


# Account properties (reference 10). MSCLKIDAutoTaggingEnabled must be "true" for landing URLs to carry an msclkid.
MSCLKID_AUTO_TAGGING = "MSCLKIDAutoTaggingEnabled"
# The AccountPropertyName enum (WSDL / msads), without its placeholder None.
ACCOUNT_PROPERTY_NAMES = (
    "TrackingUrlTemplate", MSCLKID_AUTO_TAGGING, "AdClickParallelTracking", "FinalUrlSuffix",
    "IncludeViewThroughConversions", "ProfileExpansionEnabled", "AllowImageAutoRetrieve", "AutoApplyRecommendations",
    "IncludeAutoBiddingViewThroughConversions", "AutoBiddingViewThroughConversionsValueAttributionWeight",
    "LoopBackWindowForViewThroughConversions", "BusinessAttributes", "EnableMMAUnderDSAAdgroups", "OptOutFromMCM",
    "NetflixTCAccepted", "BlockedContentSegments", "AssetAIEnhancementOptout",
)  # fmt: skip


class AccountProperty(WireModel):
    name: str | None = None  # an AccountPropertyName, e.g. MSCLKIDAutoTaggingEnabled
    value: str | None = None


class GetAccountPropertiesRequest(WireModel):
    account_property_names: list[str] | None = None


class GetAccountPropertiesResponse(WireResponse):
    account_properties: list[AccountProperty] | None = None
    partial_errors: list[BatchError] | None = None


class SetAccountPropertiesRequest(WireModel):
    account_properties: list[AccountProperty] | None = None


class SetAccountPropertiesResponse(WireResponse):
    """Empty on success: Microsoft sets all the properties or none (a fault)."""
