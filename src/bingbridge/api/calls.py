"""One description of each typed call, run by the synchronous or the asynchronous client.

A service method decorated with `@operation` only describes the call: it checks the input, builds the request and
says how to read the answer, returning a `Call`. The same method then runs on `BingAdsClient` (it returns the
result) and on `AsyncBingAdsClient` (it returns an awaitable), because the two service classes differ only in
their executor: `SyncService._run` or `AsyncService._run`.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from bingbridge.api.models.base import WireModel
from bingbridge.api.operations import Operation, Req, Resp

if TYPE_CHECKING:
    from bingbridge.api.client import AsyncBingAdsClient, BingAdsClient

T = TypeVar("T")
P = ParamSpec("P")
# "Use the settings" for customer_id / account_id; None means "send no header".
DEFAULT: Any = object()


@dataclass(frozen=True)
class Call(Generic[T]):
    """A typed call ready to run: the operation's row, its request, how to read its answer, whom it acts for."""

    operation: Operation[Any, Any]
    request: WireModel
    read: Callable[[Any], T]
    customer_id: int | None = DEFAULT
    account_id: int | None = DEFAULT

    @classmethod
    def of(
        cls,
        op: Operation[Req, Resp],
        request: Req,
        read: Callable[[Resp], T],
        *,
        account_id: int | None = DEFAULT,
    ) -> Call[T]:
        """A call of `op` whose result is `read(answer)`; `account_id` None or absent acts for the settings' account."""
        return cls(op, request, read, account_id=DEFAULT if account_id is None else account_id)


def answer(response: Resp) -> Resp:
    """Read an answer as it is (for calls whose result is Microsoft's whole response)."""
    return response


class SyncService:
    """Base of a service on BingAdsClient: a described call runs at once and returns its result."""

    def __init__(self, client: BingAdsClient) -> None:
        self._client = client

    def _run(self, call: Call[T]) -> T:
        return self._client.run(call)


class AsyncService:
    """Base of a service on AsyncBingAdsClient: a described call returns an awaitable of its result."""

    def __init__(self, client: AsyncBingAdsClient) -> None:
        self._client = client

    async def _run(self, call: Call[T]) -> T:
        return await self._client.run(call)


class operation(Generic[P, T]):
    """Turn a method that describes a call into a method that runs it on the service's client."""

    def __init__(self, describe: Callable[Concatenate[Any, P], Call[T]]) -> None:
        self._describe = describe
        functools.update_wrapper(cast(Any, self), describe)  # name and docstring for help() and the docs

    @overload
    def __get__(self, service: None, owner: type[Any]) -> operation[P, T]: ...
    @overload
    def __get__(self, service: AsyncService, owner: type[Any] | None = None) -> Callable[P, Awaitable[T]]: ...
    @overload
    def __get__(self, service: SyncService, owner: type[Any] | None = None) -> Callable[P, T]: ...
    def __get__(self, service: Any, owner: Any = None) -> Any:
        if service is None:
            return self
        describe = self._describe
        if isinstance(service, AsyncService):

            async def run_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await service._run(describe(service, *args, **kwargs))

            return functools.update_wrapper(run_async, describe)

        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            return service._run(describe(service, *args, **kwargs))  # type: ignore[no-any-return]

        return functools.update_wrapper(run, describe)
