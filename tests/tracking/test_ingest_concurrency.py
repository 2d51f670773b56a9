"""Many clients at once over real HTTP: every valid request is answered 200 and every event is stored once."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from sqlalchemy import Engine, func, select

from bingbridge.serving import serve_in_thread
from bingbridge.settings import Secret, Settings
from bingbridge.store import utcnow
from bingbridge.store.schema import dispatches, events
from bingbridge.tracking.destinations import save_destination
from bingbridge.tracking.secrets import SecretBox
from bingbridge.tracking.workspaces import create_workspace
from bingbridge.web import create_app
from tests.tracking.conftest import destination_input
from tests.tracking.ingest_support import make_event

CLIENTS = 30
REQUESTS = 3
EVENTS = 1000


def test_30_clients_sending_3_batches_of_1000_all_get_200_and_every_event_is_stored_once(
    any_engine: Engine, tmp_path: Path
) -> None:
    key_text = Fernet.generate_key().decode()
    workspace, key = create_workspace(any_engine, "Busy shop", now=utcnow())
    save_destination(any_engine, SecretBox(key_text.encode()), workspace.id, destination_input())
    settings = Settings(secret_key=Secret(key_text), api_base_url="http://127.0.0.1:9", token_file=tmp_path / "t")
    server = serve_in_thread(create_app(settings, any_engine))
    bodies = {
        (c, r): json.dumps({"events": [make_event(f"{c}-{r}-{i}") for i in range(EVENTS)]}).encode()
        for c in range(CLIENTS)
        for r in range(REQUESTS)
    }
    answers: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(c: int) -> None:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            start.wait()
            for r in range(REQUESTS):
                response = http.post("/v1/events", content=bodies[(c, r)], headers={"Authorization": f"Bearer {key}"})
                with lock:
                    answers[response.status_code] += 1
                assert response.status_code != 200 or len(response.json()["accepted"]) == EVENTS

    try:
        threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        server.stop()
    assert answers == Counter({200: CLIENTS * REQUESTS})
    with any_engine.connect() as conn:
        stored = conn.execute(select(func.count(), func.count(events.c.event_id.distinct()))).one()
        pending = conn.execute(select(func.count()).select_from(dispatches)).scalar_one()
    assert tuple(stored) == (CLIENTS * REQUESTS * EVENTS,) * 2
    assert pending == CLIENTS * REQUESTS * EVENTS  # one dispatch row per event for the one destination
