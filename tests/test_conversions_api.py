"""The UET Conversions API client's reading of answers (Microsoft's shapes, through a MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from bingbridge.api.conversions_api import ConversionsApi
from bingbridge.api.models.uet import CapiEvent, UserData
from bingbridge.errors import ApiError, AuthenticationError, RetriableError, ThrottledError, ValidationError
from bingbridge.settings import Secret

EVENTS = [
    CapiEvent(
        event_type="custom",
        event_id=f"e{i}",
        event_name="lead",
        event_time=1_767_225_600,
        user_data=UserData(msclkid="a" * 32),
    )
    for i in range(3)
]


def api(status: int, body: Any, headers: dict[str, str] | None = None) -> tuple[ConversionsApi, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=body, headers=headers)

    http = httpx.Client(transport=httpx.MockTransport(answer))
    return ConversionsApi(http, 42, Secret("tok"), base_url="https://capi.example"), seen


def test_the_request_is_microsofts_shape() -> None:
    client, seen = api(200, {"eventsReceived": 3, "traceId": "t-1"})
    results = client.send_events(EVENTS)
    (request,) = seen
    assert str(request.url) == "https://capi.example/v1/42/events"
    assert request.headers["Authorization"] == "Bearer tok"
    body = json.loads(request.content)
    assert body["continueOnValidationError"] is True and body["dataProvider"] == "bingbridge"
    assert body["data"][0] == {
        "eventType": "custom", "eventId": "e0", "eventName": "lead", "eventTime": 1_767_225_600,
        "userData": {"msclkid": "a" * 32},
    }  # fmt: skip
    assert [(r.ok, r.tracking_id) for r in results] == [(True, "t-1")] * 3


def test_details_map_to_their_events_and_warnings_are_not_errors() -> None:
    details = [
        {"index": 1, "propertyName": "eventTime", "errorMessage": "too old", "errorCode": "InvalidValue"},
        {"index": 2, "propertyName": "pageTitle", "errorMessage": "long", "errorCode": "Trimmed", "isWarning": True},
    ]
    client, _ = api(200, {"eventsReceived": 2, "error": {"code": "InvalidEvents", "details": details}, "traceId": "t"})
    results = client.send_events(EVENTS)
    assert [r.ok for r in results] == [True, False, True]
    (error,) = results[1].errors
    assert (error.code, error.error_code, error.field_path, error.message) == (
        400,
        "InvalidValue",
        "eventTime",
        "eventTime: too old",
    )


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"error": {"code": "Unauthorized", "message": "bad token"}, "traceId": "t"}, AuthenticationError),
        (429, {}, ThrottledError),
        (503, {"error": {"code": "Unavailable"}}, RetriableError),
        (400, {"error": {"code": "InvalidRequest", "message": "data must be a list"}}, ApiError),
    ],
)
def test_whole_call_faults_follow_the_error_tree(status: int, body: Any, kind: type[ApiError]) -> None:
    client, _ = api(status, body, {"Retry-After": "7"})
    with pytest.raises(kind) as caught:
        client.send_events(EVENTS)
    assert type(caught.value) is kind and caught.value.status == status and caught.value.codes == [status]
    if isinstance(caught.value, RetriableError):
        assert caught.value.retry_after == 7.0


def test_more_than_1000_events_are_refused_before_any_call() -> None:
    client, seen = api(200, {})
    with pytest.raises(ValidationError, match="1 to 1000 events"):
        client.send_events(EVENTS * 334)
    assert seen == []
