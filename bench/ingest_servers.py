"""The two servers of bench/ingest.py, importable by uvicorn (which needs an import string to run several workers).

`bare` reads the body and answers 202, nothing more; `bingbridge` is the ingestion API (`create_app`) on the
database and secret key the bench passes in INGEST_BENCH_DATABASE_URL and INGEST_BENCH_SECRET_KEY.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from bingbridge.settings import Secret, Settings
from bingbridge.web import create_app


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 202, "headers": headers})
    await send({"type": "http.response.body", "body": b"{}"})


def bingbridge() -> FastAPI:
    """The app factory of each bingbridge worker process."""
    database_url, secret_key = os.environ["INGEST_BENCH_DATABASE_URL"], os.environ["INGEST_BENCH_SECRET_KEY"]
    return create_app(Settings(database_url=database_url, secret_key=Secret(secret_key)))
