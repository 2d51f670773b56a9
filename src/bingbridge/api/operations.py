"""The operation table: one row per Microsoft operation drives the client's `call()` and the emulator's routes.

Every service spells its table the same way:

    OPERATIONS = OperationTable("customer-management", "/CustomerManagement/v13")
    GET_USER = OPERATIONS.add("POST", "/User/Query", m.GetUserRequest, m.GetUserResponse)

The operation's name comes from its request type (`GetUserRequest` -> `GetUser`), as in Microsoft's WSDL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

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
    # Campaign Management and Reporting calls act for an account (the CustomerAccountId header); the client
    # refuses to send one without it.
    needs_account: bool = False


class OperationTable(Sequence[Operation[Any, Any]]):
    """The operations of one Microsoft service, in the order they were added."""

    def __init__(self, service: str, base_path: str, *, needs_account: bool = False) -> None:
        self.service = service
        self.base_path = base_path
        self.needs_account = needs_account
        self._rows: list[Operation[Any, Any]] = []

    def add(self, method: str, path: str, request: type[Req], response: type[Resp]) -> Operation[Req, Resp]:
        """Add the row for `<Name>Request` -> `<Name>Response` at `base_path + path` and return it."""
        name = request.__name__.removesuffix("Request")
        if response.__name__ != f"{name}Response":
            raise TypeError(f"{request.__name__} is answered by {name}Response, not {response.__name__}")
        op = Operation(self.service, name, method, self.base_path + path, request, response, self.needs_account)
        self._rows.append(op)
        return op

    @overload
    def __getitem__(self, index: int) -> Operation[Any, Any]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Operation[Any, Any]]: ...
    def __getitem__(self, index: int | slice) -> Operation[Any, Any] | Sequence[Operation[Any, Any]]:
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def by_name(self) -> dict[str, Operation[Any, Any]]:
        """Every row by Microsoft's operation name."""
        return {op.name: op for op in self._rows}
