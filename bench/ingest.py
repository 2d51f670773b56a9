"""Ingestion throughput and latency of `POST /v1/events`, side by side with a bare ASGI endpoint.

Both are served by uvicorn (`--workers` processes each, 1 by default, the apps of bench/ingest_servers.py; loopback,
access log off) and loaded by the same generator: a fixed number of requests from `--threads` httpx clients in
this process, so the run stops by itself. The bare endpoint reads the body and answers 202, nothing more: the gap
is what validation, hashing, the key lookup and a durable commit cost. bingbridge commits every request before
answering (SQLite WAL with synchronous=FULL, or PostgreSQL with `--database-url`). Each event carries an MSCLKID
and a plain e-mail (hashed on arrival). "cpu ms/req" is the server's CPU time (its processes, user + system) per
request: on a shared machine it varies less than the rates. On a machine with few cores the bare endpoint's rate
is the load generator's (one Python process), not the endpoint's.
Run: .venv/bin/python bench/ingest.py [--singles 2000] [--batches 200] [--threads 8] [--workers 1]
     [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from bingbridge.emulator.server import free_port
from bingbridge.store import create_engine_for, migrate, utcnow
from bingbridge.store.schema import events
from bingbridge.tracking.destinations import DestinationInput, save_destination
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import create_workspace


@dataclass(frozen=True)
class Figures:
    requests: int
    events: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]
    server_cpu: float  # seconds

    def row(self, name: str) -> str:
        ordered = sorted(self.latencies)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        cpu = self.server_cpu / self.requests * 1000
        return (
            f"{name:<28} {self.requests:>8} {self.events:>8} {self.seconds:>8.2f} {self.events / self.seconds:>9.0f}"
            f" {self.requests / self.seconds:>8.0f} {p50:>7.2f} {p99:>7.2f} {cpu:>11.2f}  {self.statuses}"
        )


def event(run: str, i: int) -> dict[str, Any]:
    return {
        "event_id": f"{run}-{i}",
        "event_name": "purchase" if i % 3 else "page_view",
        "timestamp": (utcnow() - timedelta(minutes=1)).isoformat() + "Z",
        "value": 19.99,
        "currency": "USD",
        "consent": {"ad_storage": "granted"},
        "user": {"email": f"buyer{i}@example.com"},
        "click_ids": {"msclkid": uuid.uuid4().hex},
        "properties": {"order_id": f"A-{i}", "items": 2},
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
        pending.extend(int(child) for child in children)
    return total


def load(url: str, bodies: list[bytes], per_request: int, key: str, threads: int, server: int) -> Figures:
    """Send every body once, from `threads` clients taking the next body in turn; time each request and count the
    CPU the `server` process (and its workers) spent meanwhile."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    queue = iter(range(len(bodies)))
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    index = next(queue, None)
                if index is None:
                    return
                started = time.perf_counter()
                try:
                    status = http.post(url, content=bodies[index], headers=headers).status_code
                except httpx.HTTPError:
                    status = 0  # counted, shown in the table; the run goes on
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[status] = statuses.get(status, 0) + 1

    workers = [threading.Thread(target=client) for _ in range(threads)]
    cpu_before = cpu_seconds(server)
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    return Figures(
        len(bodies), len(bodies) * per_request, elapsed, latencies, statuses, cpu_seconds(server) - cpu_before
    )


def serve(mode: str, workers: int, database_url: str, secret_key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", f"ingest_servers:{mode}", "--app-dir", str(Path(__file__).parent)]
    command += ["--factory"] if mode == "bingbridge" else []
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log"]
    env = {**os.environ, "INGEST_BENCH_DATABASE_URL": database_url, "INGEST_BENCH_SECRET_KEY": secret_key}
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit(f"the {mode} server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--singles", type=int, default=2000, help="requests of one event")
    parser.add_argument("--batches", type=int, default=200, help="requests of 100 events")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes per server, both alike")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        schema = None
        if not url.startswith("sqlite"):
            # PostgreSQL: a schema of its own, dropped at the end, so the bench leaves the database as it found it.
            schema = f"bingbridge_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine_for(url)
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            admin.dispose()
            url += ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
        secret = Fernet.generate_key().decode()
        engine = create_engine_for(url)
        migrate(engine)
        workspace, key = create_workspace(engine, f"bench-{uuid.uuid4().hex[:8]}", now=utcnow())
        destination = DestinationInput(
            customer_id=1, account_id=2, developer_token="t", client_id="c", client_secret="s", refresh_token="r"
        )
        save_destination(engine, SecretBox(secret.encode()), workspace.id, destination)
        run = uuid.uuid4().hex[:8]
        singles = [json.dumps(event(run, i)).encode() for i in range(args.singles)]
        batches = [
            json.dumps({"events": [event(run, 10_000_000 + b * 100 + i) for i in range(100)]}).encode()
            for b in range(args.batches)
        ]
        results: list[tuple[str, Figures]] = []
        for mode in ("bingbridge", "bare"):
            process, base = serve(mode, args.workers, url, secret)
            try:
                target = f"{base}/v1/events"
                pid = process.pid
                load(target, singles[:50], 1, key, args.threads, pid)  # warm-up (its events are duplicates later)
                results.append((f"{mode} single events", load(target, singles, 1, key, args.threads, pid)))
                results.append((f"{mode} batches of 100", load(target, batches, 100, key, args.threads, pid)))
            finally:
                process.terminate()
                process.wait(10)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).where(events.c.workspace_id == workspace.id)).scalar_one()
        engine.dispose()
        if schema is not None:
            admin = create_engine_for(args.database_url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    backend = url.split(":", 1)[0].split("+")[0]
    processes = "one process" if args.workers == 1 else f"{args.workers} worker processes"
    print(f"database: {backend}; {args.threads} client threads; loopback; uvicorn, {processes} per server")
    heads = ("requests", 8), ("events", 8), ("seconds", 8), ("events/s", 9), ("req/s", 8), ("p50 ms", 7), ("p99 ms", 7)
    heads += (("cpu ms/req", 11),)
    print(" " * 28 + "".join(f" {name:>{width}}" for name, width in heads))
    order = [0, 2, 1, 3]  # bingbridge and bare side by side per load
    for index in order:
        name, figures = results[index]
        print(figures.row(name))
    expected = args.singles + args.batches * 100
    print(f"events stored by bingbridge: {stored} of {expected} sent (every 2xx was committed)")


if __name__ == "__main__":
    main()
