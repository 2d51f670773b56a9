"""What every emulated operation receives: the state and who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bingbridge.emulator import faults
from bingbridge.emulator.state import EmulatorState


@dataclass(frozen=True)
class Caller:
    """Who is calling: the signed-in user and the CustomerId / CustomerAccountId headers."""

    user_id: int
    customer_id: int | None
    account_id: int | None


# An operation: (state, caller, parsed request model) -> response model; raises faults.Fault.
Handler = Callable[[EmulatorState, Caller, Any], Any]


def require_account(state: EmulatorState, caller: Caller) -> int:
    """The CustomerAccountId header as Microsoft checks it: present (1030) and visible to the user (106)."""
    if caller.account_id is None:
        raise faults.Fault(
            "ApiFaultDetail",
            [(1030, "CampaignServiceAccountIdHasToBeSpecified", "The CustomerAccountId header is required.")],
        )
    if caller.account_id not in state.visible_account_ids(caller.user_id):
        raise faults.ad_api(106)
    return caller.account_id
