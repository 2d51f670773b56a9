"""Database fixtures shared by the store and metrics tests: PostgreSQL when BINGBRIDGE_TEST_POSTGRES_URL is set.

`.ci/run` sets it when a server answers on 127.0.0.1:5432. Each test gets a fresh schema, dropped afterwards, so
reruns start clean; without the variable the tests skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from bingbridge.store import create_engine_for


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """An engine whose tables live in a fresh schema of the test server."""
    url = os.environ.get("BINGBRIDGE_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("set BINGBRIDGE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    schema = f"bingbridge_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine_for(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_engine_for(url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
