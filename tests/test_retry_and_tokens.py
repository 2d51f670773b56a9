"""The retry policy and token handling, end to end against the emulator and with a mock transport."""

from __future__ import annotations

import json
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from bingbridge.api.client import BingAdsClient
from bingbridge.api.customer_management import account_predicates
from bingbridge.api.retry import backoff, next_step
from bingbridge.auth.oauth import SharedTokenStore
from bingbridge.auth.tokens import FileTokenStore, MemoryTokenStore, fingerprint
from bingbridge.emulator.server import RunningEmulator
from bingbridge.errors import ApiError, AuthenticationError, ErrorDetail, OAuthError, ThrottledError, classify
from bingbridge.settings import Secret, Settings
from tests.conftest import Recorder


def test_117_waits_the_throttle_window_then_succeeds(
    client: BingAdsClient, bingads_emulator: RunningEmulator, sleeps: list[float]
) -> None:
    client.customer_management.get_user()
    bingads_emulator.config.calls_per_minute = 2
    bingads_emulator.state.calls.clear()

    def window_passes(seconds: float) -> None:
        sleeps.append(seconds)
        bingads_emulator.state.calls.clear()

    client._sleep = window_passes
    for _ in range(3):
        client.customer_management.get_customers_info()
    assert sleeps == [60.0]


def test_throttled_error_surfaces_after_max_retries(client: BingAdsClient, bingads_emulator: RunningEmulator) -> None:
    client.customer_management.get_user()
    bingads_emulator.config.calls_per_minute = 1
    bingads_emulator.state.calls.clear()
    client.customer_management.get_customers_info()
    with pytest.raises(ThrottledError) as raised:
        client.customer_management.get_customers_info()
    assert raised.value.codes == [117] and raised.value.tracking_id


def test_expired_access_token_is_refreshed_once_and_the_rotation_persisted(
    client: BingAdsClient, bingads_emulator: RunningEmulator, bingads_settings: Settings
) -> None:
    bingads_emulator.config.revoke_used_refresh_tokens = True
    client.customer_management.get_user()
    first = client.tokens.tokens
    assert first is not None
    httpx.post(f"{bingads_emulator.url}/_emulator/expire-access-tokens")
    assert client.customer_management.get_user().user is not None
    stored = FileTokenStore(bingads_settings.token_file).load(client.tokens.key)
    assert stored is not None and stored.refresh_token != first.refresh_token
    assert first.refresh_token not in bingads_emulator.state.refresh_tokens  # revoked on use, as configured
    assert stat.S_IMODE(os.stat(bingads_settings.token_file).st_mode) == 0o600


def test_109_that_persists_after_one_refresh_surfaces(
    bingads_emulator: RunningEmulator, bingads_settings: Settings
) -> None:
    bingads_emulator.config.access_token_ttl = -1  # every token is born expired
    with BingAdsClient(bingads_settings, token_store=MemoryTokenStore()) as client:
        client.tokens.needs_refresh = lambda: client.tokens.tokens is None  # type: ignore[method-assign]
        with pytest.raises(AuthenticationError) as raised:
            client.customer_management.get_user()
    assert raised.value.codes == [109]
    assert "auth login" in (raised.value.hint or "")


def test_server_errors_back_off_then_succeed(
    client: BingAdsClient, bingads_emulator: RunningEmulator, sleeps: list[float]
) -> None:
    client.customer_management.get_user()
    bingads_emulator.config.error_rate = 1.0

    def recover(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            bingads_emulator.config.error_rate = 0.0

    client._sleep = recover
    assert client.customer_management.get_customers_info()
    assert len(sleeps) == 3 and all(0 <= s <= 4 for s in sleeps)


def test_bad_developer_token_is_105_and_not_retried(
    bingads_emulator: RunningEmulator, bingads_settings: Settings
) -> None:
    recorder = Recorder()
    settings = bingads_settings.with_overrides(developer_token="WRONG")
    http = httpx.Client(event_hooks={"request": [recorder]})
    with (
        http,
        BingAdsClient(settings, token_store=MemoryTokenStore(), http=http) as c,
        pytest.raises(AuthenticationError) as raised,
    ):
        c.customer_management.get_user()
    assert raised.value.codes == [105]
    assert len(recorder.api_calls()) == 1


def test_429_honours_retry_after() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"Retry-After": "7"}),
            httpx.Response(200, json={"CustomersInfo": [{"Id": "1", "Name": "A"}]}),
        ]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "a", "refresh_token": "r", "expires_in": 3600})
        return next(answers)

    sleeps: list[float] = []
    settings = Settings(client_id="c", developer_token=Secret("d"), refresh_token=Secret("r0"))
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with http, BingAdsClient(settings, http=http, token_store=MemoryTokenStore(), sleep=sleeps.append) as c:
        assert c.customer_management.get_customers_info()[0].id == 1
    assert sleeps == [7.0]


def test_invalid_client_secret_is_an_oauth_error_naming_the_secret(bingads_settings: Settings) -> None:
    settings = bingads_settings.with_overrides(client_secret="nope")
    with BingAdsClient(settings, token_store=MemoryTokenStore()) as c, pytest.raises(OAuthError) as raised:
        c.customer_management.get_user()
    assert raised.value.error == "invalid_client"
    assert "BINGBRIDGE_CLIENT_SECRET" in (raised.value.hint or "")


def test_a_new_refresh_token_in_settings_replaces_the_stored_chain(
    bingads_emulator: RunningEmulator, bingads_settings: Settings
) -> None:
    store = MemoryTokenStore()
    with BingAdsClient(bingads_settings, token_store=store) as c:
        c.customer_management.get_user()
    stored = store.load(f"production:{bingads_settings.client_id}")
    assert stored is not None and stored.origin == fingerprint(bingads_settings.refresh_token.reveal())  # type: ignore[union-attr]
    # Same configured token: the stored (rotated) chain is used, no refresh needed.
    with BingAdsClient(bingads_settings, token_store=store) as c:
        assert c.tokens.tokens == stored
    fresh = httpx.post(f"{bingads_emulator.url}/_emulator/tokens").json()["refresh_token"]
    with BingAdsClient(bingads_settings.with_overrides(refresh_token=fresh), token_store=store) as c:
        assert c.tokens.tokens is None


def test_token_file_never_holds_tokens_in_repr(bingads_settings: Settings) -> None:
    store = MemoryTokenStore()
    with BingAdsClient(bingads_settings, token_store=store) as c:
        c.refresh_access_token()
        text = repr(c.tokens.tokens) + repr(c.settings)
    tokens = c.tokens.tokens
    assert tokens is not None and tokens.access_token not in text and tokens.refresh_token not in text
    assert "emulator-client-secret" not in text


def test_backoff_is_capped_and_jittered() -> None:
    assert all(0 <= backoff(n) <= 60 for n in range(20))
    assert backoff(30) <= 60


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, 117, 60.0),
        (400, 4204, 900.0),
        (500, 5606, None),
        (400, 201, None),
        (403, 106, None),
    ],
)
def test_next_step_per_code(status: int, code: int, expected: float | None) -> None:
    error = classify(operation="Op", status=status, tracking_id="t", errors=[ErrorDetail(code=code)])
    step = next_step(error, attempt=0, token_refreshed=False, settings=Settings())
    assert (step.delay if step else None) == expected


def test_error_string_starts_with_tracking_id() -> None:
    error = classify(
        operation="GetUser",
        status=400,
        tracking_id="abc",
        errors=[ErrorDetail(3030, message="bad", field_path="Predicates[0]")],
    )
    assert isinstance(error, ApiError)
    assert str(error) == "TrackingId abc: GetUser failed (HTTP 400): 3030 (field Predicates[0]): bad"


def test_async_client_calls_the_emulator(bingads_settings: Settings) -> None:
    import asyncio

    from bingbridge.api.client import AsyncBingAdsClient

    async def run() -> list[str | None]:
        async with AsyncBingAdsClient(bingads_settings, token_store=MemoryTokenStore()) as c:
            accounts = c.customer_management.iter_accounts(account_predicates(name="Agency"), page_size=2)
            return [a.name async for a in accounts]

    assert sorted(n or "" for n in asyncio.run(run())) == [
        "Northwind Agency - Brand",
        "Northwind Agency - Search",
        "Northwind Agency - Shopping",
    ]


class HeldElsewhere(MemoryTokenStore):
    """A shared token store whose refresh lock another process holds until `released` (or a second passes)."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()
        self.waited_for_release: bool | None = None

    @contextmanager
    def refresh_lock(self, key: str) -> Iterator[None]:
        self.waited_for_release = self.released.wait(timeout=1)  # False: nobody released it meanwhile
        yield


def test_async_client_waits_for_a_shared_refresh_lock_without_blocking_other_tasks(bingads_settings: Settings) -> None:
    import asyncio

    from bingbridge.api.client import AsyncBingAdsClient

    store = HeldElsewhere()

    async def other_task() -> None:  # runs while the refresh waits, then the other process lets go
        await asyncio.sleep(0.05)
        store.released.set()

    async def run() -> None:
        async with AsyncBingAdsClient(bingads_settings, token_store=store) as c:
            await asyncio.gather(c.refresh_access_token(), other_task())
            assert c.tokens.tokens is not None

    asyncio.run(run())
    assert store.waited_for_release is True
    assert isinstance(store, SharedTokenStore) and store.load(f"production:{bingads_settings.client_id}")


def test_token_store_file_is_json_keyed_by_environment_and_client(bingads_settings: Settings) -> None:
    with BingAdsClient(bingads_settings) as c:
        c.refresh_access_token()
    data = json.loads(bingads_settings.token_file.read_text())
    assert list(data) == ["production:emulator-client-id"]
