"""The client: one httpx connection pool, OAuth tokens, the retry policy and a generic `call()`.

`BingAdsClient` is synchronous, `AsyncBingAdsClient` asynchronous; both take an injected httpx client, which is
the only seam to the network (tests point it at the emulator or swap its transport). Every call is described
once as an `Exchange` (build the request, read the answer); the two clients differ only in `_send`, the loop
that sends an exchange with the retry policy.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from bingbridge.api.calls import DEFAULT, Call, answer
from bingbridge.api.operations import Operation, Req, Resp
from bingbridge.api.retry import next_step
from bingbridge.api.services import get_service
from bingbridge.api.wire import (
    TRACKING_HEADER,
    USER_AGENT,
    CallContext,
    SoapReply,
    read_soap_reply,
    rest_fault,
    rest_request,
    soap_request,
)
from bingbridge.auth.oauth import TokenManager
from bingbridge.auth.tokens import FileTokenStore, TokenStore
from bingbridge.errors import ApiError, ConfigurationError, RetriableError
from bingbridge.settings import Settings

if TYPE_CHECKING:
    from bingbridge.api.campaign_management import AsyncCampaignManagement, CampaignManagement
    from bingbridge.api.customer_management import AsyncCustomerManagement, CustomerManagement
    from bingbridge.api.reporting import AsyncReporting, Reporting

T = TypeVar("T")


@dataclass(frozen=True)
class RawReply:
    """The answer to a raw REST call."""

    status: int
    body: Any
    tracking_id: str | None


@dataclass(frozen=True)
class Exchange(Generic[T]):
    """One call, ready to send: its name for errors, how to build the request, how to read the answer."""

    operation: str
    build: Callable[[CallContext], httpx.Request]
    read: Callable[[httpx.Response], T]


def _transport_error(operation: str, exc: httpx.TransportError) -> RetriableError:
    return RetriableError(operation=operation, status=None, tracking_id=None, message=f"{type(exc).__name__}: {exc}")


class _ClientBase:
    def __init__(self, settings: Settings | None, token_store: TokenStore | None) -> None:
        self.settings = settings or Settings.load()
        self.tokens = TokenManager(self.settings, token_store or FileTokenStore(self.settings.token_file))

    def _context(self, customer_id: int | None, account_id: int | None) -> CallContext:
        return CallContext(
            access_token=self.tokens.access_token(),
            developer_token=self.settings.require("developer_token").reveal(),
            customer_id=self.settings.customer_id if customer_id is DEFAULT else customer_id,
            account_id=self.settings.account_id if account_id is DEFAULT else account_id,
        )

    def _rest_url(self, service: str, path: str) -> str:
        svc = get_service(service)
        return svc.rest_host(self.settings.environment, self.settings.api_base_url) + path

    def _soap_url(self, service: str) -> str:
        return get_service(service).soap_url(self.settings.environment, self.settings.api_base_url)

    def _http_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {
            "timeout": httpx.Timeout(self.settings.timeout_seconds),
            "headers": {"User-Agent": USER_AGENT},
        }
        base = self.settings.api_base_url
        if base and base.startswith("http://"):
            # Every call goes to a plain-HTTP base URL (the emulator): no TLS happens, so skip loading the CA
            # bundle, which costs ~100 ms of start-up.
            options["verify"] = False
        return options

    def _call_exchange(self, call: Call[T]) -> Exchange[T]:
        op = call.operation
        account_id = self.settings.account_id if call.account_id is DEFAULT else call.account_id
        if op.needs_account and account_id is None:
            raise ConfigurationError(
                f"missing setting account_id: {op.name} acts for an ad account", env_var="BINGBRIDGE_ACCOUNT_ID"
            )
        url = self._rest_url(op.service, op.path)
        body = call.request.to_wire()

        def read(response: httpx.Response) -> T:
            if not response.is_success:
                raise rest_fault(op.name, response)
            result = op.response.model_validate(response.json())
            result._tracking_id = response.headers.get(TRACKING_HEADER)
            return call.read(result)

        return Exchange(op.name, lambda ctx: rest_request(op.method, url, body, ctx), read)

    def _raw_rest_exchange(self, service: str, method: str, path: str, body: Any) -> Exchange[RawReply]:
        url = self._rest_url(service, path)
        name = f"{method.upper()} {path}"

        def read(response: httpx.Response) -> RawReply:
            if not response.is_success:
                raise rest_fault(name, response)
            payload = response.json() if response.content else None
            return RawReply(response.status_code, payload, response.headers.get(TRACKING_HEADER))

        return Exchange(name, lambda ctx: rest_request(method.upper(), url, body, ctx), read)

    def _soap_exchange(self, service: str, action: str, body_xml: str) -> Exchange[SoapReply]:
        svc = get_service(service)
        url = self._soap_url(service)
        return Exchange(
            action,
            lambda ctx: soap_request(svc, url, action, body_xml, ctx),
            lambda response: read_soap_reply(action, response),
        )


class BingAdsClient(_ClientBase):
    """Synchronous Microsoft Advertising client.

    >>> with BingAdsClient() as client:
    ...     client.customer_management.get_customers_info(top_n=5)
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        http: httpx.Client | None = None,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(settings, token_store)
        self._owns_http = http is None
        self.http = http or httpx.Client(**self._http_options())
        self._sleep = sleep

    # Services are built on first use, so a command imports only the service it calls.
    @cached_property
    def customer_management(self) -> CustomerManagement:
        from bingbridge.api.customer_management import CustomerManagement

        return CustomerManagement(self)

    @cached_property
    def campaign_management(self) -> CampaignManagement:
        from bingbridge.api.campaign_management import CampaignManagement

        return CampaignManagement(self)

    @cached_property
    def reporting(self) -> Reporting:
        from bingbridge.api.reporting import Reporting

        return Reporting(self)

    def __enter__(self) -> BingAdsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, unless it was handed in (then its owner closes it)."""
        if self._owns_http:
            self.http.close()

    def refresh_access_token(self) -> None:
        """Redeem the refresh token now; the rotated refresh token is persisted."""
        with self.tokens.refreshing() as needed:
            if needed:
                url, form = self.tokens.refresh_form()
                response = self.http.post(url, data=form)
                self.tokens.accept(response.status_code, response.content)

    def call(
        self,
        op: Operation[Req, Resp],
        request: Req,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> Resp:
        """Send one typed operation and return its typed response (partial errors included)."""
        described: Call[Resp] = Call(op, request, answer, customer_id, account_id)
        return self.run(described)

    def run(self, call: Call[T]) -> T:
        """Send a described call (what the services' methods build) and return its result."""
        return self._send(self._call_exchange(call), call.customer_id, call.account_id)

    def raw_rest(
        self,
        service: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> RawReply:
        """Send any REST operation with a JSON body of your own; faults still raise ApiError."""
        return self._send(self._raw_rest_exchange(service, method, path, body), customer_id, account_id)

    def raw_soap(
        self,
        service: str,
        action: str,
        body_xml: str,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> SoapReply:
        """Wrap `body_xml` in an envelope with the service's headers, send it and return the reply body."""
        return self._send(self._soap_exchange(service, action, body_xml), customer_id, account_id)

    def _send(self, exchange: Exchange[T], customer_id: int | None, account_id: int | None) -> T:
        attempt, refreshed = 0, False
        while True:
            try:
                if self.tokens.needs_refresh():
                    self.refresh_access_token()
                return exchange.read(self.http.send(exchange.build(self._context(customer_id, account_id))))
            except httpx.TransportError as exc:
                error: ApiError = _transport_error(exchange.operation, exc)
            except ApiError as exc:
                error = exc
            step = next_step(error, attempt=attempt, token_refreshed=refreshed, settings=self.settings)
            if step is None:
                raise error
            if step.refresh_token:
                refreshed = True
                self.refresh_access_token()
            else:
                attempt += 1
                self._sleep(step.delay)


class AsyncBingAdsClient(_ClientBase):
    """Asynchronous Microsoft Advertising client with the same services as BingAdsClient."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        http: httpx.AsyncClient | None = None,
        token_store: TokenStore | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(settings, token_store)
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(**self._http_options())
        if sleep is None:
            import asyncio  # only async users pay for importing asyncio

            sleep = asyncio.sleep
        self._sleep = sleep

    @cached_property
    def customer_management(self) -> AsyncCustomerManagement:
        from bingbridge.api.customer_management import AsyncCustomerManagement

        return AsyncCustomerManagement(self)

    @cached_property
    def campaign_management(self) -> AsyncCampaignManagement:
        from bingbridge.api.campaign_management import AsyncCampaignManagement

        return AsyncCampaignManagement(self)

    @cached_property
    def reporting(self) -> AsyncReporting:
        from bingbridge.api.reporting import AsyncReporting

        return AsyncReporting(self)

    async def __aenter__(self) -> AsyncBingAdsClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool, unless it was handed in (then its owner closes it)."""
        if self._owns_http:
            await self.http.aclose()

    async def refresh_access_token(self) -> None:
        """As the sync client's. The token store is waited on (a `SharedTokenStore`'s lock, its reads and writes)
        in a worker thread, so other tasks run while another process holds the refresh."""
        from anyio.to_thread import run_sync

        refreshing = self.tokens.refreshing()
        needed = await run_sync(refreshing.__enter__)
        try:
            if needed:
                url, form = self.tokens.refresh_form()
                response = await self.http.post(url, data=form)
                await run_sync(self.tokens.accept, response.status_code, response.content)
        except BaseException as exc:
            if not await run_sync(refreshing.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await run_sync(refreshing.__exit__, None, None, None)

    async def call(
        self,
        op: Operation[Req, Resp],
        request: Req,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> Resp:
        """Send one typed operation and return its typed response (partial errors included)."""
        described: Call[Resp] = Call(op, request, answer, customer_id, account_id)
        return await self.run(described)

    async def run(self, call: Call[T]) -> T:
        """Send a described call (what the services' methods build) and return its result."""
        return await self._send(self._call_exchange(call), call.customer_id, call.account_id)

    async def raw_rest(
        self,
        service: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> RawReply:
        """Send any REST operation with a JSON body of your own; faults still raise ApiError."""
        return await self._send(self._raw_rest_exchange(service, method, path, body), customer_id, account_id)

    async def raw_soap(
        self,
        service: str,
        action: str,
        body_xml: str,
        *,
        customer_id: int | None = DEFAULT,
        account_id: int | None = DEFAULT,
    ) -> SoapReply:
        """Wrap `body_xml` in an envelope with the service's headers, send it and return the reply body."""
        return await self._send(self._soap_exchange(service, action, body_xml), customer_id, account_id)

    async def _send(self, exchange: Exchange[T], customer_id: int | None, account_id: int | None) -> T:
        attempt, refreshed = 0, False
        while True:
            try:
                if self.tokens.needs_refresh():
                    await self.refresh_access_token()
                return exchange.read(await self.http.send(exchange.build(self._context(customer_id, account_id))))
            except httpx.TransportError as exc:
                error: ApiError = _transport_error(exchange.operation, exc)
            except ApiError as exc:
                error = exc
            step = next_step(error, attempt=attempt, token_refreshed=refreshed, settings=self.settings)
            if step is None:
                raise error
            if step.refresh_token:
                refreshed = True
                await self.refresh_access_token()
            else:
                attempt += 1
                await self._sleep(step.delay)
