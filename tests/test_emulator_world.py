"""`bingbridge emulator --accounts N`: a deterministic world of N accounts under the seeded user."""

from __future__ import annotations

import pytest

from bingbridge.emulator.state import EmulatorConfig, EmulatorState


def _world(accounts: int, seed: int = 1) -> tuple[EmulatorState, list[int]]:
    state = EmulatorState(EmulatorConfig(seed=seed, accounts=accounts))
    return state, state.visible_account_ids(state.config.default_user_id)


def test_the_seeded_user_reaches_n_accounts_over_customers_and_time_zones() -> None:
    state, ids = _world(1000)
    accounts = [state.world.accounts[i] for i in ids]
    assert len(ids) == len(set(ids)) == 1000
    assert len({a.parent_customer_id for a in accounts}) >= 5
    assert len({a.time_zone for a in accounts}) == 6 and len({a.currency_code for a in accounts}) >= 4


def test_the_same_seed_builds_the_same_world() -> None:
    first, ids = _world(300)
    again, same = _world(300)
    assert ids == same
    assert [first.world.accounts[i].name for i in ids] == [again.world.accounts[i].name for i in same]
    assert _world(300, seed=2)[1] != ids


def test_fewer_accounts_than_the_seeded_world_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 7"):
        _world(5)
