"""Run the emulator on a local port, in the foreground or in a background thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import uvicorn

from bingbridge.emulator.app import create_app
from bingbridge.emulator.state import EmulatorConfig, EmulatorState
from bingbridge.serving import BackgroundServer, free_port, serve_in_thread

__all__ = ["RunningEmulator", "free_port", "serve_forever", "start_in_thread"]


@dataclass
class RunningEmulator:
    """An emulator serving in a background thread; `url` is what BINGBRIDGE_API_BASE_URL should be."""

    url: str
    state: EmulatorState
    _server: BackgroundServer = field(repr=False)

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_in_thread(config: EmulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0) -> RunningEmulator:
    """Start an emulator on `port` (0: a free one) and return once it accepts connections."""
    app = create_app(config)
    server = serve_in_thread(app, host, port, lifespan="off")
    return RunningEmulator(url=server.url, state=app.state.emulator, _server=server)


def serve_forever(config: EmulatorConfig, host: str, port: int) -> None:
    """Serve in the foreground until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info", lifespan="off")
