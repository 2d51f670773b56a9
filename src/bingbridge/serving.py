"""Serving an ASGI app on a local port in a background thread (the emulator, the demo, tests)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class BackgroundServer:
    """An app served by uvicorn in a daemon thread until `stop()`."""

    url: str
    server: uvicorn.Server = field(repr=False)
    thread: threading.Thread = field(repr=False)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve_in_thread(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, lifespan: Literal["on", "off"] = "on"
) -> BackgroundServer:
    """Start serving `app` on `port` (0: a free one); returns once it accepts connections."""
    port = port or free_port(host)
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-* from loopback (the app decides, see web.app).
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan, proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"bingbridge-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"nothing started serving on {host}:{port}")
        time.sleep(0.01)
    return BackgroundServer(f"http://{host}:{port}", server, thread)
