"""The operation table row type: one row per Microsoft operation drives the generic `call()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from bingbridge.api.models.base import WireModel, WireResponse

Req = TypeVar("Req", bound=WireModel)
Resp = TypeVar("Resp", bound=WireResponse)


@dataclass(frozen=True)
class Operation(Generic[Req, Resp]):
    """A REST operation: which service, Microsoft's name, HTTP method, path and message types."""

    service: str
    name: str
    method: str
    path: str
    request: type[Req]
    response: type[Resp]
    # Campaign and Reporting calls need the CustomerAccountId header; Customer Management ones do not.
    needs_account: bool = False
