"""Connect Microsoft Advertising flows waiting for Microsoft's sign-in page to send the browser back.

The state, the PKCE verifier and the card's other fields stay in this process's memory (never in the cookie) for
at most `FLOW_SECONDS`; the session holds only the flow's id. So a flow must end in the process that started it:
`bingbridge serve` is one process.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from bingbridge.auth.oauth import AuthorizationRequest
from bingbridge.settings import Settings
from bingbridge.tracking.destinations import DestinationInput

FLOW_SECONDS = 600


@dataclass(frozen=True)
class PendingFlow:
    """A Connect that went to Microsoft's sign-in page and has not come back yet."""

    auth: AuthorizationRequest
    data: DestinationInput
    workspace_id: int
    destination_id: int | None
    oauth_settings: Settings
    started: float


class PendingFlows:
    """Pending flows by a random id, forgotten after FLOW_SECONDS or once taken."""

    def __init__(self) -> None:
        self._flows: dict[str, PendingFlow] = {}
        self._lock = threading.Lock()

    def _expire(self) -> None:
        cutoff = time.monotonic() - FLOW_SECONDS
        for key in [k for k, flow in self._flows.items() if flow.started < cutoff]:
            del self._flows[key]

    def put(self, flow: PendingFlow) -> str:
        with self._lock:
            self._expire()
            key = secrets.token_urlsafe(24)
            self._flows[key] = flow
            return key

    def take(self, key: object) -> PendingFlow | None:
        """The flow with this id, removed: each sign-in comes back once."""
        with self._lock:
            self._expire()
            return self._flows.pop(key, None) if isinstance(key, str) else None
