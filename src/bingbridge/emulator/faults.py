"""Faults the emulator raises, in Microsoft's shapes, with the HTTP statuses it answers them with.

Microsoft does not document the REST status per error. The emulator answers 401 for 105/109 (as a real
expired-token answer was observed), 403 for 106, 500 for InternalError and 400 for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# The ApplicationFault Type discriminator.
FaultKind = Literal["AdApiFaultDetail", "ApiFault", "ApiFaultDetail"]

# Customer Management errors have no symbolic code; Campaign/Reporting and AdApi errors do.
MESSAGES: dict[int, tuple[str, str]] = {
    0: ("InternalError", "An internal error has occurred."),
    105: (
        "InvalidCredentials",
        "Authentication failed. Either supplied credentials are invalid or the account is inactive.",
    ),
    106: ("UserIsNotAuthorized", "The user does not represent a authorized developer."),
    109: (
        "AuthenticationTokenExpired",
        "Authentication token expired. Please renew it or obtain a new token.",
    ),
    117: (
        "CallRateExceeded",
        "You have exceeded the number of calls that you are allowed to make in a minute. "
        "Please reduce the number of calls that you make per minute.",
    ),
    201: ("ApiInputValidationError", "The request message is not valid."),
    204: ("OperationNotSupported", "The operation is not supported."),
}


@dataclass
class Fault(Exception):
    """A fault to answer with, in REST (JSON) or SOAP form."""

    kind: FaultKind
    errors: list[tuple[int, str | None, str]] = field(default_factory=list)

    @property
    def status(self) -> int:
        codes = {code for code, _, _ in self.errors}
        if codes & {105, 109}:
            return 401
        if 106 in codes:
            return 403
        if 0 in codes:
            return 500
        return 400


def ad_api(code: int) -> Fault:
    """An authentication, throttling or generic AdApiFaultDetail fault with Microsoft's message."""
    symbol, message = MESSAGES[code]
    return Fault("AdApiFaultDetail", [(code, symbol, message)])


def customer(code: int, message: str) -> Fault:
    """A Customer Management ApiFault (no symbolic error code)."""
    return Fault("ApiFault", [(code, None, message)])


def fault_json(fault: Fault, tracking_id: str) -> dict[str, object]:
    """The REST ApplicationFault body."""
    if fault.kind == "AdApiFaultDetail":
        errors = [
            {"Code": code, "Detail": None, "ErrorCode": symbol, "Message": message}
            for code, symbol, message in fault.errors
        ]
        return {"TrackingId": tracking_id, "Type": fault.kind, "Errors": errors}
    if fault.kind == "ApiFault":
        errors = [{"Code": code, "Details": None, "Message": message} for code, _, message in fault.errors]
        return {"TrackingId": tracking_id, "Type": fault.kind, "OperationErrors": errors}
    errors = [
        {"Code": code, "Details": None, "ErrorCode": symbol, "Message": message}
        for code, symbol, message in fault.errors
    ]
    return {"TrackingId": tracking_id, "Type": fault.kind, "BatchErrors": [], "OperationErrors": errors}
