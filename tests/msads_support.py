"""Helpers shared by the msads tests: a client whose requests are recorded, and msads' ServiceClient at the emulator.

msads itself is imported only inside the functions that need it (see `tests/msads_compat.py` for why).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from bingbridge.api.client import BingAdsClient
from bingbridge.api.operations import Operation
from bingbridge.auth.tokens import MemoryTokenStore, TokenSet
from bingbridge.emulator.server import RunningEmulator
from bingbridge.emulator.state import EmulatorState
from bingbridge.settings import Secret, Settings

# Where the recording client believes Microsoft is; every service's REST host is replaced by it.
BASE_URL = "https://clientcenter.test"


class RecordingTransport(httpx.MockTransport):
    """Records every request and answers it like Microsoft would, with an empty but valid response."""

    def __init__(
        self, operations: Sequence[Operation[Any, Any]], responses: Mapping[str, dict[str, Any]] | None = None
    ) -> None:
        self.requests: list[httpx.Request] = []
        self._by_path = {(op.method, op.path): op for op in operations}
        # The least each operation may answer, by operation name; `{}` unless given.
        self._responses = dict(responses or {})
        super().__init__(self._answer)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        op = self._by_path[(request.method, request.url.path)]
        return httpx.Response(200, json=self._responses.get(op.name, {}), headers={"TrackingId": "t-1"})


@dataclass
class Recorded:
    """A client and the transport that saw its requests."""

    client: BingAdsClient
    transport: RecordingTransport


@contextmanager
def recording_client(
    tmp_path: Path,
    operations: Sequence[Operation[Any, Any]],
    responses: Mapping[str, dict[str, Any]] | None = None,
    *,
    account_id: int | None = None,
) -> Iterator[Recorded]:
    """A client whose only network is a RecordingTransport, holding a valid access token."""
    settings = Settings(
        client_id="test-client",
        developer_token=Secret("BBD37VB98"),
        api_base_url=BASE_URL,
        token_file=tmp_path / "tokens.json",
        account_id=account_id,
    )
    transport = RecordingTransport(operations, responses)
    http = httpx.Client(transport=transport)
    with BingAdsClient(settings, http=http, token_store=MemoryTokenStore()) as client:
        client.tokens.remember(
            TokenSet(access_token="access", refresh_token="refresh", expires_at=datetime.now(UTC) + timedelta(hours=1))
        )
        yield Recorded(client, transport)
    http.close()


@contextmanager
def pydantic_left_alone() -> Iterator[None]:
    """Undo msads' `enable_alias_support()`, which ServiceClient() runs.

    It replaces `pydantic.BaseModel.__getattr__`/`__setattr__` for the whole process, so assignments skip
    validation and private attributes land in `__dict__`; the emulator runs in this process and later tests must
    see pydantic as it is. msads' calls do not need it: it only lets user code write `model.PascalName`.
    """
    saved = {name: BaseModel.__dict__[name] for name in ("__getattr__", "__setattr__")}
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(BaseModel, name, method)


def home_customer(state: EmulatorState) -> int:
    """The customer of the emulator's default user."""
    return state.world.users[state.config.default_user_id].customer_id


def msads_service(
    emulator: RunningEmulator,
    service: str = "CustomerManagementService",
    *,
    developer_token: str | None = None,
    account_id: int | None = None,
) -> Any:
    """msads' ServiceClient for `service` at the emulator, signed in as the default user of the home customer."""
    from bingads.authorization import AuthorizationData, OAuthDesktopMobileAuthCodeGrant, OAuthTokens
    from bingads.service_client import ServiceClient

    tokens = httpx.post(f"{emulator.url}/_emulator/tokens").json()
    authentication = OAuthDesktopMobileAuthCodeGrant(
        client_id=emulator.config.client_id, oauth_tokens=OAuthTokens(access_token=tokens["access_token"])
    )
    authorization = AuthorizationData(
        developer_token=developer_token or emulator.config.developer_token,
        authentication=authentication,
        customer_id=home_customer(emulator.state),
        account_id=account_id,
    )
    with pydantic_left_alone():
        return ServiceClient(service, 13, authorization_data=authorization, location=emulator.url)
