"""Named leases: one holder at a time across connections, taken over only once they run out."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from bingbridge.errors import LeaseHeld
from bingbridge.store import migrate, utcnow
from bingbridge.store.leases import Lease, current, kept, release, renew, take, waited_for

MINUTE = timedelta(minutes=1)


@pytest.fixture
def db(engine: Engine) -> Engine:
    migrate(engine)
    return engine


def test_one_holder_at_a_time_until_it_releases_or_runs_out(db: Engine) -> None:
    now = utcnow()
    assert take(db, "job", "a", length=MINUTE, now=now)
    assert not take(db, "job", "b", length=MINUTE, now=now + timedelta(seconds=59))
    assert take(db, "job", "a", length=MINUTE, now=now)  # its holder takes it again (a renewal)
    assert renew(db, "job", "a", length=MINUTE, now=now + timedelta(seconds=50))
    assert not take(db, "job", "b", length=MINUTE, now=now + timedelta(seconds=100))  # renewed to 110 s
    assert take(db, "job", "b", length=MINUTE, now=now + timedelta(seconds=111))  # a died: b takes over
    assert not renew(db, "job", "a", length=MINUTE, now=now + timedelta(seconds=112))
    release(db, "job", "a")  # not a's any more: nothing happens
    held = current(db, "job", now=now + timedelta(seconds=112))
    assert held is not None and held.holder == "b"
    release(db, "job", "b")
    assert current(db, "job", now=now + timedelta(seconds=112)) is None
    assert take(db, "other", "a", length=MINUTE, now=now)  # names are independent


def test_kept_refuses_while_held_and_frees_at_the_end(db: Engine) -> None:
    def busy(lease: Lease) -> LeaseHeld:
        return LeaseHeld(f"held by {lease.holder}", hint="wait")

    take(db, "import", "other-process", length=MINUTE, now=utcnow())
    with pytest.raises(LeaseHeld, match="held by other-process"), kept(db, "import", length=MINUTE, busy=busy):
        pass
    release(db, "import", "other-process")
    with kept(db, "import", length=timedelta(seconds=0.2), busy=busy) as mine:
        threading.Event().wait(0.5)  # longer than the lease: the renewals keep it
        held = current(db, "import", now=utcnow())
        assert held is not None and held.holder == mine.holder
    assert current(db, "import", now=utcnow()) is None


def test_waited_for_waits_for_the_holder(db: Engine) -> None:
    order: list[str] = []
    take(db, "refresh", "first", length=MINUTE, now=utcnow())

    def second() -> None:
        with waited_for(db, "refresh", length=MINUTE):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    threading.Event().wait(0.2)
    order.append("first done")
    release(db, "refresh", "first")
    thread.join(timeout=10)
    assert order == ["first done", "second"]
