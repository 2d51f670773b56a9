"""Run the emulator on a local port, in the foreground or in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from bingbridge.emulator.app import create_app
from bingbridge.emulator.state import EmulatorConfig, EmulatorState


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningEmulator:
    """An emulator serving in a background thread; `url` is what BINGBRIDGE_API_BASE_URL should be."""

    url: str
    state: EmulatorState
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_in_thread(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningEmulator:
    """Start an emulator on `port` (0: a free one) and return once it accepts connections."""
    app = create_app(config)
    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"bingbridge-emulator-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"the emulator did not start on {host}:{port}")
        time.sleep(0.01)
    return RunningEmulator(url=f"http://{host}:{port}", state=app.state.emulator, _server=server, _thread=thread)


def serve_forever(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", lifespan="off")
