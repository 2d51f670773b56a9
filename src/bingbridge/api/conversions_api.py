"""The UET Conversions API (CAPI, Microsoft's server-side UET): one call sends up to 1,000 events of one UET tag.

Authentication is the tag's CAPI token (`Authorization: Bearer`), not OAuth. The answer reports problems per event
by `details[].index`; with `continueOnValidationError` Microsoft keeps the valid events of a request. Faults map to
the error tree like every other call: 401 (bad or inactive token) and 403 → AuthenticationError, 429 →
ThrottledError (Retry-After honoured), 5xx and connection errors → RetriableError, other 4xx → ApiError. Nothing
retries here: the caller (the worker) owns retries.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from pydantic import ValidationError as PydanticValidationError

from bingbridge.api.campaign_management import ItemResult
from bingbridge.api.models.uet import CapiEvent, CapiRequest, CapiResponse
from bingbridge.errors import (
    ApiError,
    AuthenticationError,
    ErrorDetail,
    FieldProblem,
    RetriableError,
    ThrottledError,
    ValidationError,
)
from bingbridge.settings import Secret

CAPI_HOST = "https://capi.uet.microsoft.com"
MAX_EVENTS_PER_REQUEST = 1000
OPERATION = "UetConversionsApi"
DATA_PROVIDER = "bingbridge"
# CAPI problems carry text codes only; the numeric code of a refused event is that of a payload error (HTTP 400).
PAYLOAD_ERROR = 400


def events_path(tag_id: int) -> str:
    return f"/v1/{tag_id}/events"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.replace(".", "", 1).isdigit() else None


class ConversionsApi:
    """Sends events of one UET tag; `base_url` (e.g. the emulator) replaces Microsoft's host, as for every API."""

    def __init__(self, http: httpx.Client, tag_id: int, token: Secret, *, base_url: str | None = None) -> None:
        self.http = http
        self.tag_id = tag_id
        self.token = token
        self.url = (base_url or CAPI_HOST).rstrip("/") + events_path(tag_id)

    def send_events(self, events: Sequence[CapiEvent]) -> list[ItemResult[None]]:
        """One request; a result per event (its errors from `details[].index`, Microsoft's traceId on each)."""
        if not 1 <= len(events) <= MAX_EVENTS_PER_REQUEST:
            problem = FieldProblem("data", f"send 1 to {MAX_EVENTS_PER_REQUEST} events per request, got {len(events)}")
            raise ValidationError([problem], operation=OPERATION)
        body = CapiRequest(data=list(events), data_provider=DATA_PROVIDER, continue_on_validation_error=True)
        try:
            response = self.http.post(
                self.url, json=body.to_wire(), headers={"Authorization": f"Bearer {self.token.reveal()}"}
            )
        except httpx.TransportError as exc:
            raise RetriableError(operation=OPERATION, status=None, tracking_id=None, message=str(exc)) from exc
        answer = self._answer(response)
        per_event: dict[int, list[ErrorDetail]] = {}
        whole: list[ErrorDetail] = []
        for d in answer.error.details if answer.error else []:
            if d.is_warning:
                continue
            detail = ErrorDetail(
                code=PAYLOAD_ERROR,
                error_code=d.error_code,
                message=f"{d.property_name}: {d.error_message}" if d.property_name else d.error_message,
                field_path=d.property_name,
                index=d.index,
            )
            if d.index is not None and 0 <= d.index < len(events):
                per_event.setdefault(d.index, []).append(detail)
            else:
                whole.append(detail)
        if response.status_code >= 400 and not per_event:
            raise self._fault(response, answer, whole)
        return [ItemResult(i, None, per_event.get(i, []), answer.trace_id) for i in range(len(events))]

    def _answer(self, response: httpx.Response) -> CapiResponse:
        try:
            return CapiResponse.model_validate(response.json())
        except (ValueError, PydanticValidationError):
            answer = CapiResponse(trace_id=response.headers.get("x-ms-trace-id"))
            if response.status_code < 400:
                raise self._fault(response, answer, [], "the answer is not the Conversions API's JSON") from None
            return answer

    def _fault(
        self, response: httpx.Response, answer: CapiResponse, errors: list[ErrorDetail], message: str | None = None
    ) -> ApiError:
        status = response.status_code
        text = message or (answer.error.message if answer.error else None) or response.reason_phrase
        if not errors:  # the HTTP status is the code: CAPI has numeric codes for nothing else
            errors = [ErrorDetail(code=status, error_code=answer.error.code if answer.error else None, message=text)]
        if status in (401, 403):
            hint = f"the CAPI token of UET tag {self.tag_id} was refused: {text}"
            return AuthenticationError(
                operation=OPERATION, status=status, tracking_id=answer.trace_id, errors=errors, message=hint
            )
        kind = ThrottledError if status == 429 else RetriableError if status >= 500 else ApiError
        error = kind(operation=OPERATION, status=status, tracking_id=answer.trace_id, errors=errors, message=text)
        if isinstance(error, RetriableError):
            error.retry_after = _retry_after(response)
        return error
