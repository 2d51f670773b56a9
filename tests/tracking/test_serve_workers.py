"""`bingbridge serve --workers 2`: two processes answer HTTP on one SQLite file and behave as one, while the
dispatch worker runs once, in the process that started them; SIGTERM stops them all cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from bingbridge.emulator.server import free_port
from bingbridge.store import utcnow
from bingbridge.store.schema import events
from bingbridge.tracking.workspaces import create_workspace
from tests.tracking.worker_fixtures import TrackingWorld, conversion_key, conversions, world

__all__ = ["world"]

EVENTS = 120


@contextmanager
def serving(world: TrackingWorld, tmp_path: Path, *options: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """`python -m bingbridge serve` on a free port until it answers; the database comes by option only, so the
    child processes can know it from the supervisor's settings alone."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "BINGBRIDGE_SECRET_KEY": world.secret_key,
        "BINGBRIDGE_ADMIN_PASSWORD": "not-used-here",
    }
    port = free_port()
    command = [sys.executable, "-m", "bingbridge", "serve", "--port", str(port), "--database-url", world.database_url]
    command += ["--base-url", world.settings.api_base_url or "", *options]
    with (tmp_path / "serve.log").open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not answers(url):
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        yield process, url
    finally:
        process.kill()
        process.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def children(pid: int) -> list[int]:
    """The processes `pid` started with multiprocessing (not its resource tracker), read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return sorted(found)


def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_processes_store_every_event_once_and_the_supervisor_alone_dispatches(
    world: TrackingWorld, tmp_path: Path
) -> None:
    workspace, key = create_workspace(world.engine, "Web shop", now=utcnow())
    world.workspace_id = workspace.id
    destination = world.add_destination(world.accounts()[0])
    payloads = conversions(EVENTS)

    with serving(world, tmp_path, "--workers", "2", "--no-schedule") as (process, url):
        wait_for(lambda: len(children(process.pid)) == 2, 30, "two child processes")
        served_by = children(process.pid)

        def post(payload: dict[str, Any]) -> Any:
            with httpx.Client(timeout=30) as http:
                answer = http.post(f"{url}/v1/events", json=payload, headers={"Authorization": f"Bearer {key}"})
            return answer.status_code, answer.json()["accepted"]

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(post, payloads))
        assert replies == [(200, [p["event_id"]]) for p in payloads]
        wait_for(lambda: world.statuses()["sent"] == EVENTS, 60, "every event to be dispatched")
        assert children(process.pid) == served_by  # no child died and was replaced meanwhile

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    log = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in log, log
    assert not any(Path(f"/proc/{pid}").exists() for pid in served_by)

    with world.engine.connect() as conn:
        stored = conn.execute(
            select(func.count(), func.count(events.c.event_id.distinct())).where(events.c.workspace_id == workspace.id)
        ).one()
    assert tuple(stored) == (EVENTS, EVENTS)
    received = [conversion_key(item) for item in world.received(destination.account_id)]
    assert len(received) == len(set(received)) == EVENTS
    # One dispatch worker, the supervisor's: its id is hostname:pid:random, and every call to Microsoft is its.
    started = re.findall(r"worker (\S+) started", log)
    assert len(started) == 1, log
    assert started[0].startswith(f"{socket.gethostname()[:60]}:{process.pid}:"), started
    assert {call.worker for call in world.call_rows()} == {started[0]}
