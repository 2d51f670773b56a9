"""Request building and fault reading for REST/JSON and SOAP, free of I/O so sync and async share it."""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bingbridge import __version__
from bingbridge.api.services import Service
from bingbridge.auth.tokens import utcnow
from bingbridge.errors import ApiError, ErrorDetail, classify

USER_AGENT = f"bingbridge/{__version__} (Python {platform.python_version()})"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TRACKING_HEADER = "TrackingId"


@dataclass(frozen=True)
class CallContext:
    """Credentials and scope of one call."""

    access_token: str
    developer_token: str
    customer_id: int | None = None
    account_id: int | None = None


def rest_headers(ctx: CallContext) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {ctx.access_token}",
        "DeveloperToken": ctx.developer_token,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }
    if ctx.customer_id is not None:
        headers["CustomerId"] = str(ctx.customer_id)
    if ctx.account_id is not None:
        headers["CustomerAccountId"] = str(ctx.account_id)
    return headers


def rest_request(method: str, url: str, body: Mapping[str, Any] | None, ctx: CallContext) -> httpx.Request:
    content = json.dumps(body if body is not None else {}, separators=(",", ":")).encode()
    return httpx.Request(method, url, headers=rest_headers(ctx), content=content)


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - utcnow()).total_seconds())


def _details_from_json(items: Any) -> list[ErrorDetail]:
    details = []
    for item in items or []:
        if not isinstance(item, dict):
            continue
        details.append(
            ErrorDetail(
                code=int(item.get("Code") or 0),
                error_code=item.get("ErrorCode"),
                message=item.get("Message"),
                field_path=item.get("FieldPath"),
                index=item.get("Index"),
                details=item.get("Details") or item.get("Detail"),
            )
        )
    return details


def rest_fault(operation: str, response: httpx.Response) -> ApiError:
    """Read Microsoft's ApplicationFault JSON (AdApiFaultDetail, ApiFault, ApiFaultDetail, ...)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    errors: list[ErrorDetail] = []
    tracking_id = response.headers.get(TRACKING_HEADER)
    message = None
    if isinstance(body, dict):
        tracking_id = body.get("TrackingId") or tracking_id
        for key in ("Errors", "OperationErrors", "BatchErrors", "EditorialErrors"):
            errors.extend(_details_from_json(body.get(key)))
    else:
        message = response.text[:300] or None
    return classify(
        operation=operation,
        status=response.status_code,
        tracking_id=tracking_id,
        errors=errors,
        retry_after=_retry_after(response),
        message=message,
    )


def batch_errors(items: Any) -> list[ErrorDetail]:
    """Partial errors of a successful response, as ErrorDetails."""
    return _details_from_json(items)


# ---- SOAP ----


def soap_envelope(service: Service, body_xml: str, ctx: CallContext) -> bytes:
    """Wrap a request body element in a SOAP 1.1 envelope with the headers the service's WSDL declares."""
    values = {
        "AuthenticationToken": ctx.access_token,
        "DeveloperToken": ctx.developer_token,
        "CustomerId": None if ctx.customer_id is None else str(ctx.customer_id),
        "CustomerAccountId": None if ctx.account_id is None else str(ctx.account_id),
    }
    headers = []
    for name in service.soap_headers:
        value = values.get(name)
        if value is not None:
            headers.append(f"<tns:{name}>{_escape(value)}</tns:{name}>")
    body = body_xml.strip()
    if body.startswith("<?xml"):
        body = body.split("?>", 1)[1].strip()
    return (
        f'<s:Envelope xmlns:s="{SOAP_ENV}" xmlns:tns="{service.namespace}">'
        f"<s:Header>{''.join(headers)}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def soap_request(service: Service, url: str, action: str, body_xml: str, ctx: CallContext) -> httpx.Request:
    return httpx.Request(
        "POST",
        url,
        headers={
            "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": f'"{action}"',
            "User-Agent": USER_AGENT,
        },
        content=soap_envelope(service, body_xml, ctx),
    )


@dataclass(frozen=True)
class SoapReply:
    """The answer to a raw SOAP call: the body's first element as XML text, and the TrackingId header."""

    body: str
    tracking_id: str | None
    status: int


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(node: ET.Element, name: str) -> str | None:
    for child in node:
        if _local(child.tag) == name:
            return child.text
    return None


def read_soap_reply(operation: str, response: httpx.Response) -> SoapReply:
    """Parse a SOAP answer; a Fault raises ApiError whatever the HTTP status (Microsoft sends both 500 and 200)."""
    try:
        root = ET.fromstring(response.content)
    except ET.ParseError:
        raise classify(
            operation=operation,
            status=response.status_code,
            tracking_id=response.headers.get(TRACKING_HEADER),
            errors=[],
            message=f"answer is not XML: {response.text[:200]!r}",
        ) from None
    header = root.find(f"{{{SOAP_ENV}}}Header")
    body = root.find(f"{{{SOAP_ENV}}}Body")
    tracking_id = None
    if header is not None:
        tracking_id = _child_text(header, "TrackingId")
    payload = list(body) if body is not None else []
    if payload and _local(payload[0].tag) == "Fault":
        raise soap_fault(operation, response.status_code, payload[0], tracking_id)
    if response.status_code >= 400 or not payload:
        raise classify(
            operation=operation,
            status=response.status_code,
            tracking_id=tracking_id,
            errors=[],
            message=f"unexpected SOAP answer: {response.text[:200]!r}",
        )
    return SoapReply(
        body=ET.tostring(payload[0], encoding="unicode"), tracking_id=tracking_id, status=response.status_code
    )


def soap_fault(operation: str, status: int, fault: ET.Element, tracking_id: str | None) -> ApiError:
    """Collect AdApiError / OperationError / BatchError entries from a fault's detail."""
    errors = []
    for node in fault.iter():
        if _local(node.tag) in ("AdApiError", "OperationError", "BatchError", "EditorialError"):
            index = _child_text(node, "Index")
            errors.append(
                ErrorDetail(
                    code=int(_child_text(node, "Code") or 0),
                    error_code=_child_text(node, "ErrorCode"),
                    message=_child_text(node, "Message"),
                    field_path=_child_text(node, "FieldPath"),
                    index=int(index) if index else None,
                    details=_child_text(node, "Details") or _child_text(node, "Detail"),
                )
            )
        elif _local(node.tag) == "TrackingId" and node.text and not tracking_id:
            tracking_id = node.text
    return classify(
        operation=operation,
        status=status,
        tracking_id=tracking_id,
        errors=errors,
        message=None if errors else _child_text(fault, "faultstring"),
    )
