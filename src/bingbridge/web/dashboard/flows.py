"""Connect Microsoft Advertising flows waiting for Microsoft's sign-in page to send the browser back.

The state, the PKCE verifier and the card's fields (secrets included) are kept in the database, sealed with the
secret key (`SecretBox`), for at most `FLOW_SECONDS`; the session holds only the flow's random id, and the table
only that id's SHA-256. So a flow started by one `serve` process finishes in any other on the same database.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select

from bingbridge.auth.oauth import AuthorizationRequest
from bingbridge.errors import ConfigurationError
from bingbridge.store.schema import oauth_flows
from bingbridge.tracking.destinations import DestinationInput
from bingbridge.tracking.secrets import SecretBox

FLOW_SECONDS = 600


@dataclass(frozen=True)
class PendingFlow:
    """A Connect that went to Microsoft's sign-in page and has not come back yet."""

    auth: AuthorizationRequest
    data: DestinationInput
    workspace_id: int
    destination_id: int | None


class PendingFlows:
    """Pending flows by a random id, forgotten after FLOW_SECONDS or once taken (by whichever process)."""

    def __init__(self, engine: Engine, box: SecretBox, clock: Callable[[], datetime]) -> None:
        self.engine = engine
        self.box = box
        self.clock = clock

    @staticmethod
    def _hash(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    def put(self, flow: PendingFlow) -> str:
        key = secrets.token_urlsafe(24)
        now = self.clock()
        sealed = self.box.seal({"flow": json.dumps(asdict(flow))})
        with self.engine.begin() as conn:
            conn.execute(delete(oauth_flows).where(oauth_flows.c.created_at < now - timedelta(seconds=FLOW_SECONDS)))
            conn.execute(insert(oauth_flows).values(id_hash=self._hash(key), sealed=sealed, created_at=now))
        return key

    def take(self, key: object) -> PendingFlow | None:
        """The flow with this id, removed: each sign-in comes back once (the DELETE decides between racers)."""
        if not isinstance(key, str):
            return None
        f = oauth_flows.c
        fresh = f.created_at >= self.clock() - timedelta(seconds=FLOW_SECONDS)
        with self.engine.begin() as conn:
            sealed = conn.execute(select(f.sealed).where(f.id_hash == self._hash(key), fresh)).scalar()
            taken = conn.execute(delete(oauth_flows).where(f.id_hash == self._hash(key))).rowcount == 1
        if sealed is None or not taken:
            return None
        try:
            stored = json.loads(self.box.open(sealed)["flow"] or "{}")
        except ConfigurationError:  # sealed under another secret key: as good as unknown
            return None
        return PendingFlow(
            auth=AuthorizationRequest(**stored["auth"]),
            data=DestinationInput(**stored["data"]),
            workspace_id=stored["workspace_id"],
            destination_id=stored["destination_id"],
        )
