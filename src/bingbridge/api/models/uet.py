"""The UET Conversions API (CAPI) body and answer (protocol reference 9): camelCase on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class CapiModel(BaseModel):
    """snake_case in Python, camelCase on the wire; unknown members of an answer are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", defer_build=True)

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class UserData(CapiModel):
    """Who the event is about: at least one identifier (Microsoft matches by any); e-mail and phone as SHA-256."""

    em: str | None = None
    ph: str | None = None
    msclkid: str | None = None
    anonymous_id: str | None = None
    external_id: str | None = None
    client_ip_address: str | None = None
    client_user_agent: str | None = None


class CustomData(CapiModel):
    value: float | None = None
    currency: str | None = None
    transaction_id: str | None = None


class CapiEvent(CapiModel):
    """One event; `event_id` + `event_name` deduplicate it against the browser UET tag's copy."""

    event_type: Literal["pageLoad", "custom"]
    event_id: str
    event_name: str | None = None
    event_time: int = Field(description="Unix seconds")
    event_source_url: str | None = None  # required for pageLoad
    page_load_id: str | None = None
    referrer_url: str | None = None
    page_title: str | None = None
    ad_storage_consent: Literal["G", "D"] | None = None
    user_data: UserData
    custom_data: CustomData | None = None


class CapiRequest(CapiModel):
    data: list[CapiEvent]
    data_provider: str | None = None
    continue_on_validation_error: bool | None = None


class CapiErrorDetail(CapiModel):
    index: int | None = None
    property_name: str | None = None
    attempted_value: str | None = None
    error_message: str | None = None
    error_code: str | None = None
    is_warning: bool | None = None


class CapiError(CapiModel):
    code: str | None = None
    message: str | None = None
    details: list[CapiErrorDetail] = []


class CapiResponse(CapiModel):
    events_received: int | None = None
    error: CapiError | None = None
    trace_id: str | None = None
