"""Dispatch throughput to the emulator: events/s from `pending` to `sent`, and the calls it took.

The emulator runs in its own process (`bingbridge emulator`). Events are ingested first (not timed); then the
worker dispatches them and is timed from the first claim to the last row settled. Side by side:
- the bare ceiling: the same conversions sent by a plain loop of `apply_offline_conversions`, 1,000 per call,
  with no database at all (what the claim, the dispatch log and the call records cost is the difference);
- the seed's one-call-per-event style, on a sample (what batching saves);
- the UET Conversions API channel: the same number of custom events (no goal, so they go to CAPI only) from
  `pending` to `sent`, against a bare loop of `ConversionsApi.send_events`, 1,000 per request, no database.
Run: .venv/bin/python bench/dispatch.py [--events 50000] [--workers 1] [--database-url postgresql://...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, timedelta
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine, text

from bingbridge.api.client import BingAdsClient
from bingbridge.api.conversions_api import ConversionsApi
from bingbridge.api.models.campaign import OfflineConversion, OfflineConversionGoal, UetTag
from bingbridge.api.models.uet import CapiEvent, UserData
from bingbridge.auth.tokens import MemoryTokenStore
from bingbridge.emulator.server import free_port
from bingbridge.settings import Secret, Settings
from bingbridge.store.engine import create_engine_for, migrate, utcnow
from bingbridge.tracking.destinations import (
    Destination,
    DestinationInput,
    destination_client,
    destination_input,
    get_destination,
    save_destination,
)
from bingbridge.tracking.events import parse_events
from bingbridge.tracking.ingest import ingest
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.worker import Worker
from bingbridge.tracking.workspaces import create_workspace


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "bingbridge"), "emulator", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            httpx.get(f"{url}/_emulator/state").raise_for_status()
            return process, url
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the emulator did not start")


def payloads(count: int, offset: int, name: str = "purchase") -> list[dict[str, object]]:
    now = utcnow()
    return [
        {
            "event_id": f"e{offset + i}",
            "event_name": name,
            "timestamp": (now - timedelta(seconds=60 + i)).isoformat() + "Z",
            "value": 10.5,
            "currency": "USD",
            "consent": {"ad_storage": "granted"},
            "click_ids": {"msclkid": f"{offset + i:032x}"},
        }
        for i in range(count)
    ]


def bare(settings: Settings, customer: int, account: int, count: int, per_call: int, offset: int) -> float:
    """Seconds to send `count` conversions with a plain loop, `per_call` conversions per call, no database."""
    tokens = httpx.post(f"{settings.api_base_url}/_emulator/tokens").json()
    settings = settings.with_overrides(refresh_token=Secret(tokens["refresh_token"]), customer_id=customer)
    now = utcnow()
    items = [
        OfflineConversion(
            conversion_name="Purchase",
            conversion_time=(now - timedelta(seconds=60 + i)).replace(tzinfo=UTC),
            conversion_value=10.5,
            conversion_currency_code="USD",
            microsoft_click_id=f"{offset + i:032x}",
        )
        for i in range(count)
    ]
    with BingAdsClient(settings.with_overrides(account_id=account), token_store=MemoryTokenStore()) as client:
        client.refresh_access_token()
        started = time.perf_counter()
        for start in range(0, count, per_call):
            client.campaign_management.apply_offline_conversions(items[start : start + per_call])
        return time.perf_counter() - started


def bare_capi(url: str, tag_id: int, token: str, count: int, offset: int) -> float:
    """Seconds to send `count` custom events to the emulator's CAPI, 1,000 per request, with a plain loop."""
    now = int(utcnow().replace(tzinfo=UTC).timestamp())
    items = [
        CapiEvent(
            event_type="custom",
            event_id=f"bare{offset + i}",
            event_name="view_item",
            event_time=now - 60,
            ad_storage_consent="G",
            user_data=UserData(msclkid=f"{offset + i:032x}"),
        )
        for i in range(count)
    ]
    with httpx.Client() as http:
        api = ConversionsApi(http, tag_id, Secret(token), base_url=url)
        started = time.perf_counter()
        for start in range(0, count, 1000):
            api.send_events(items[start : start + 1000])
        return time.perf_counter() - started


def with_capi(engine: Engine, box: SecretBox, destination: Destination, base: Settings, url: str) -> tuple[int, str]:
    """Give the destination the Conversions API channel: a UET tag and its token. Returns (tag id, token)."""
    with destination_client(engine, box, destination, base) as client:
        (created,) = client.campaign_management.add_uet_tags([UetTag(name="bench")])
    assert created.value is not None and created.value.id is not None
    token = httpx.post(f"{url}/_emulator/capi-tokens", json={"tag_id": created.value.id}).json()["token"]
    current = get_destination(engine, destination.id)  # with the refresh token as rotated since
    assert current is not None
    data = destination_input(box, current, uet_tag_id=created.value.id, capi_token=token)
    save_destination(engine, box, destination.workspace_id, data, destination_id=destination.id)
    return created.value.id, token


def timed_dispatch(engine: Engine, box: SecretBox, base: Settings, workers: int) -> float:
    """Seconds for `workers` workers (threads) to take the queue from pending to settled."""
    running = [Worker(engine, box, base, worker_id=f"bench-{i}") for i in range(workers)]
    threads = [threading.Thread(target=w.run_once) for w in running]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    for w in running:
        w.close()
    return seconds


def ingest_all(engine: Engine, workspace_id: int, count: int, offset: int, name: str) -> float:
    started = time.perf_counter()
    for start in range(0, count, 5000):
        now = utcnow()
        valid, _ = parse_events({"events": payloads(min(5000, count - start), offset + start, name)}, now=now)
        ingest(engine, workspace_id, [e for _, e in valid], now=now)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=1, help="workers in threads (PostgreSQL shows sharing)")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    parser.add_argument("--single-sample", type=int, default=1000, help="events sent one call each")
    args = parser.parse_args()
    emulator, url = start_emulator()
    schema = None
    try:
        state = httpx.get(f"{url}/_emulator/state").json()
        customer = int(state["users"][0]["CustomerId"])
        account = next(int(a["Id"]) for a in state["accounts"] if int(a["ParentCustomerId"]) == customer)
        base = Settings(
            client_id="emulator-client-id",
            client_secret=Secret("emulator-client-secret"),
            developer_token=Secret("BBD37VB98"),
            api_base_url=url,
        )
        with tempfile.TemporaryDirectory() as tmp:
            database_url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
            engine = create_engine_for(database_url)
            if engine.dialect.name == "postgresql":  # a schema of our own, dropped at the end
                schema = f"bingbridge_bench_{uuid.uuid4().hex[:8]}"
                with engine.begin() as conn:
                    conn.execute(text(f'CREATE SCHEMA "{schema}"'))
                engine.dispose()
                engine = create_engine_for(database_url, connect_args={"options": f"-csearch_path={schema}"})
            migrate(engine)
            box = SecretBox(Fernet.generate_key())
            workspace, _ = create_workspace(engine, "bench", now=utcnow())
            refresh = httpx.post(f"{url}/_emulator/tokens").json()["refresh_token"]
            data = DestinationInput(
                customer_id=customer,
                account_id=account,
                developer_token="BBD37VB98",
                client_id="emulator-client-id",
                client_secret="emulator-client-secret",
                refresh_token=refresh,
                live=True,
            )
            destination = save_destination(engine, box, workspace.id, data)
            with destination_client(engine, box, destination, base) as client:
                client.campaign_management.add_conversion_goals([OfflineConversionGoal(name="Purchase")])

            ingest_seconds = ingest_all(engine, workspace.id, args.events, 0, "purchase")
            httpx.delete(f"{url}/_emulator/calls")
            seconds = timed_dispatch(engine, box, base, args.workers)
            with engine.connect() as conn:
                sent = conn.execute(text("SELECT count(*) FROM dispatches WHERE status = 'sent'")).scalar_one()
                recorded = conn.execute(text("SELECT count(*) FROM dispatch_calls")).scalar_one()
            calls = httpx.get(f"{url}/_emulator/calls").json().get("ApplyOfflineConversions", 0)

            tag_id, token = with_capi(engine, box, destination, base, url)
            ingest_all(engine, workspace.id, args.events, 10**8, "view_item")
            httpx.delete(f"{url}/_emulator/calls")
            capi_seconds = timed_dispatch(engine, box, base, args.workers)
            with engine.connect() as conn:
                capi_sent = conn.execute(
                    text("SELECT count(*) FROM dispatches WHERE status = 'sent' AND channel = 'capi'")
                ).scalar_one()
            capi_calls = httpx.get(f"{url}/_emulator/calls").json().get("UetConversionsApi", 0)
            dialect = engine.dialect.name
            if schema:
                with engine.begin() as conn:
                    conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()

        ceiling = bare(base, customer, account, args.events, 1000, 10**9)
        capi_ceiling = bare_capi(url, tag_id, token, args.events, 3 * 10**9)
        single = bare(base, customer, account, args.single_sample, 1, 2 * 10**9)
        where = f"{dialect}, {args.workers} worker(s)"
        print(f"dispatch of {args.events:,} conversions to the emulator (own process); {where}")
        print(f"  (ingested first in {ingest_seconds:.1f} s, not timed below)")
        print(
            f"  worker, pending -> sent:            {sent / seconds:>9,.0f} events/s  {seconds:6.2f} s  "
            f"{calls} ApplyOfflineConversions calls ({recorded} recorded), {sent:,} sent"
        )
        print(
            f"  bare loop, 1,000 per call, no DB:   {args.events / ceiling:>9,.0f} events/s  {ceiling:6.2f} s  "
            f"{-(-args.events // 1000)} calls"
        )
        print(
            f"  CAPI worker, pending -> sent:       {capi_sent / capi_seconds:>9,.0f} events/s  {capi_seconds:6.2f} s  "
            f"{capi_calls} Conversions API requests, {capi_sent:,} sent"
        )
        print(
            f"  CAPI bare loop, 1,000 per request:  {args.events / capi_ceiling:>9,.0f} events/s  "
            f"{capi_ceiling:6.2f} s  {-(-args.events // 1000)} requests"
        )
        print(
            f"  one call per event (seed's style):  {args.single_sample / single:>9,.0f} events/s  {single:6.2f} s  "
            f"{args.single_sample} calls for {args.single_sample:,} events"
        )
    finally:
        emulator.kill()
        emulator.wait()


if __name__ == "__main__":
    main()
