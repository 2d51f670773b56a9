"""Every error bingbridge raises, named for what the caller should do.

    BingBridgeError
     ├── ConfigurationError      a setting is missing or malformed; names the env variable that fills it
     ├── InputError              a file or value given to us cannot be read (missing, not UTF-8, not JSON, empty)
     ├── ValidationError         input rejected before any call was made; names the field and the rule
     ├── OAuthError              the token endpoint refused (invalid_grant, invalid_client, ...)
     ├── ApiError                Microsoft answered with a fault: operation, HTTP status, TrackingId, errors
     │    ├── AuthenticationError   105 InvalidCredentials, 109 AuthenticationTokenExpired (after one refresh)
     │    ├── PermissionDeniedError 106 UserIsNotAuthorized
     │    ├── ReportFailedError     a report job ended with status Error: submit a new one
     │    └── RetriableError        5xx, connection failures, 0 InternalError: safe to try again later
     │         ├── ThrottledError   117 CallRateExceeded, 207 ConcurrentRequestOverLimit, 4204, HTTP 429
     │         ├── ReportTimeoutError    a report job stayed Pending past our polling limit: poll again later
     │         └── DownloadExpiredError  the 5-minute report download URL expired: poll for a fresh one
     ├── ReportFileError         a downloaded report file is damaged or truncated (rows differ from its header)
     ├── ExportError             a metrics sink could not write (the file, or the HTTP batch endpoint refused)
     └── LeaseHeld               another process does this work right now (a metrics import): wait for it

`str()` of an ApiError starts with the TrackingId so a support ticket can be filed from one log line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDetail:
    """One error inside a Microsoft fault or partial-error list."""

    code: int
    error_code: str | None = None
    message: str | None = None
    field_path: str | None = None
    index: int | None = None
    details: str | None = None

    def __str__(self) -> str:
        parts = [str(self.code)]
        if self.error_code:
            parts.append(self.error_code)
        text = " ".join(parts)
        where = []
        if self.index is not None:
            where.append(f"item {self.index}")
        if self.field_path:
            where.append(f"field {self.field_path}")
        if where:
            text += f" ({', '.join(where)})"
        if self.message:
            text += f": {self.message}"
        return text


# What a user can do about the codes they meet most. Source: Microsoft's operation error code list.
_HINTS: dict[int, str] = {
    0: "Microsoft had an internal error; retry later and quote the TrackingId if it persists.",
    105: "Check the developer token (BINGBRIDGE_DEVELOPER_TOKEN) and that the access token belongs to the "
    "same environment (production vs sandbox); run `bingbridge auth test`.",
    106: "The signed-in user cannot see this customer or account; check BINGBRIDGE_CUSTOMER_ID / "
    "BINGBRIDGE_ACCOUNT_ID or ask a Super Admin for access.",
    109: "The access token expired and could not be refreshed; run `bingbridge auth login` again.",
    117: "Too many calls in 60 seconds; wait a minute or lower the call rate.",
    207: "Too many report jobs at once; wait for running jobs to finish.",
    4204: "Too many bulk calls; wait up to 15 minutes.",
    1029: "Set the customer id (BINGBRIDGE_CUSTOMER_ID or --customer-id).",
    1030: "Set the account id (BINGBRIDGE_ACCOUNT_ID or --account-id).",
}


def hint_for(code: int) -> str | None:
    """Return what a user should do about a Microsoft error code, if we know."""
    return _HINTS.get(code)


class BingBridgeError(Exception):
    """Base class of all bingbridge errors."""

    hint: str | None = None


class ConfigurationError(BingBridgeError):
    """A required setting is missing or malformed."""

    def __init__(self, message: str, *, env_var: str | None = None, hint: str | None = None) -> None:
        self.env_var = env_var
        self.hint = hint
        if env_var:
            message = f"{message} (set {env_var} or add it to the TOML config file)"
        super().__init__(message)

    @property
    def setting(self) -> str | None:
        """The settings field the variable fills (`BINGBRIDGE_ACCOUNT_ID` -> `account_id`), if any."""
        prefix = "BINGBRIDGE_"
        if self.env_var and self.env_var.startswith(prefix):
            return self.env_var[len(prefix) :].lower()
        return None


class InputError(BingBridgeError):
    """A file or value handed to bingbridge cannot be used: missing, wrongly encoded, not JSON, or empty."""

    def __init__(self, message: str, *, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


@dataclass(frozen=True)
class FieldProblem:
    """A rule one input field broke: where (`field`), what rule, and how to fix it."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class ValidationError(BingBridgeError):
    """Input was rejected before any API call was spent on it."""

    def __init__(self, problems: Sequence[FieldProblem], *, operation: str | None = None) -> None:
        self.problems = list(problems)
        self.operation = operation
        head = f"{operation}: " if operation else ""
        super().__init__(head + "; ".join(str(p) for p in self.problems))


class OAuthError(BingBridgeError):
    """The Microsoft identity platform refused a token request."""

    def __init__(self, error: str, description: str | None = None, *, status: int | None = None) -> None:
        self.error = error
        self.description = description
        self.status = status
        self.hint = _oauth_hint(error, description or "")
        text = error if not description else f"{error}: {description}"
        super().__init__(text)


def _oauth_hint(error: str, description: str) -> str:
    if "AADSTS7000218" in description:
        return "The app needs its client secret; set BINGBRIDGE_CLIENT_SECRET."
    if error == "timeout":
        return "Finish signing in before the time runs out (--timeout), or use `bingbridge auth login --no-browser`."
    if error == "no_refresh_token":
        return "Run `bingbridge auth login`, or set BINGBRIDGE_REFRESH_TOKEN."
    if error == "no_tokens_for_client_id":
        return "Check BINGBRIDGE_CLIENT_ID (a typo?), or run `bingbridge auth login` to sign in for this app."
    if error == "invalid_client" or "AADSTS7000215" in description:
        return "The client secret is wrong or expired (BINGBRIDGE_CLIENT_SECRET)."
    if error == "invalid_grant":
        return "The refresh token was revoked or expired; run `bingbridge auth login`."
    if error == "unauthorized_client" or "AADSTS700016" in description:
        return "The client id is unknown to the tenant (BINGBRIDGE_CLIENT_ID, BINGBRIDGE_TENANT)."
    return "Check the OAuth settings (client id, client secret, tenant, redirect URI)."


class ApiError(BingBridgeError):
    """Microsoft Advertising answered a call with a fault."""

    def __init__(
        self,
        *,
        operation: str,
        status: int | None,
        tracking_id: str | None,
        errors: Sequence[ErrorDetail] = (),
        message: str | None = None,
    ) -> None:
        self.operation = operation
        self.status = status
        self.tracking_id = tracking_id
        self.errors = list(errors)
        self.hint = next((h for h in (hint_for(e.code) for e in self.errors) if h), None)
        body = message or "; ".join(str(e) for e in self.errors) or "no error details"
        head = f"TrackingId {tracking_id}: " if tracking_id else ""
        status_text = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{head}{operation} failed ({status_text}): {body}")

    @property
    def codes(self) -> list[int]:
        """The numeric codes of all errors in the fault."""
        return [e.code for e in self.errors]


class AuthenticationError(ApiError):
    """Credentials were refused (105) or the token stayed expired after a refresh (109)."""


class PermissionDeniedError(ApiError):
    """The user may not see the entity (106)."""


class RetriableError(ApiError):
    """A transient failure: the same call may succeed later."""

    retry_after: float | None = None


class ThrottledError(RetriableError):
    """Microsoft asked us to slow down."""


class ReportFailedError(ApiError):
    """A report job finished with status Error; the same request id will not succeed, submit a new one."""


class ReportTimeoutError(RetriableError):
    """A report job was still Pending when our polling limit ran out; its id stays valid for two days."""


class DownloadExpiredError(RetriableError):
    """The report download URL expired (it lives 5 minutes); polling the job again gives a fresh one."""


class ReportFileError(BingBridgeError):
    """A report file could not be read: damaged, truncated, or not in Microsoft's layout. Download it again."""


class ExportError(BingBridgeError):
    """A metrics sink could not deliver: the HTTP batch endpoint refused, or the output could not be written."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class LeaseHeld(BingBridgeError):
    """Someone else holds the lease on this work (`store.leases`): it is being done already."""

    def __init__(self, message: str, *, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


THROTTLE_CODES = frozenset({117, 207, 4204})
AUTH_CODES = frozenset({105, 109})
PERMISSION_CODES = frozenset({106})


def classify(
    *,
    operation: str,
    status: int | None,
    tracking_id: str | None,
    errors: Sequence[ErrorDetail],
    retry_after: float | None = None,
    message: str | None = None,
) -> ApiError:
    """Build the most specific ApiError for a fault's HTTP status and error codes.

    A 5xx counts as transient only when it carries no codes or InternalError (0): Microsoft also
    answers permanent faults with HTTP 500.
    """
    codes = {e.code for e in errors}
    kind: type[ApiError]
    if codes & THROTTLE_CODES or status == 429:
        kind = ThrottledError
    elif codes & AUTH_CODES:
        kind = AuthenticationError
    elif codes & PERMISSION_CODES:
        kind = PermissionDeniedError
    elif status is None or 0 in codes or (status >= 500 and not codes):
        kind = RetriableError
    else:
        kind = ApiError
    error = kind(operation=operation, status=status, tracking_id=tracking_id, errors=errors, message=message)
    if isinstance(error, RetriableError):
        error.retry_after = retry_after
    return error
