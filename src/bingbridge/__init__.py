"""bingbridge: Microsoft Advertising API v13 over REST, conversion tracking, metrics import and an emulator.

    from bingbridge import BingAdsClient, ApiError

The clients load on first use (PEP 562), so `import bingbridge` stays cheap for the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bingbridge.errors import (
    ApiError,
    AuthenticationError,
    BingBridgeError,
    ConfigurationError,
    DownloadExpiredError,
    ErrorDetail,
    ExportError,
    FieldProblem,
    InputError,
    OAuthError,
    PermissionDeniedError,
    ReportFailedError,
    ReportFileError,
    ReportTimeoutError,
    RetriableError,
    ThrottledError,
    ValidationError,
)

if TYPE_CHECKING:
    from bingbridge.api.client import AsyncBingAdsClient, BingAdsClient
    from bingbridge.settings import Settings

__version__ = "0.1.0"

_LAZY = {
    "BingAdsClient": "bingbridge.api.client",
    "AsyncBingAdsClient": "bingbridge.api.client",
    "Settings": "bingbridge.settings",
}

__all__ = [
    "ApiError",
    "AsyncBingAdsClient",
    "AuthenticationError",
    "BingAdsClient",
    "BingBridgeError",
    "ConfigurationError",
    "DownloadExpiredError",
    "ErrorDetail",
    "ExportError",
    "FieldProblem",
    "InputError",
    "OAuthError",
    "PermissionDeniedError",
    "ReportFailedError",
    "ReportFileError",
    "ReportTimeoutError",
    "RetriableError",
    "Settings",
    "ThrottledError",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bingbridge' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
