"""Subscribe grants counted for real from many threads: each one counts, none fails, the cap holds."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import User
from backend.messages.models import SubscriptionCredit
from backend.messages.services import MAX_CREDITS, add_subscription_credit
from tests.support.cleanup import purge_users
from tests.support.concurrency import concurrently


def test_grants_arriving_together_all_count_and_the_cap_holds(app) -> None:
    engine = app.extensions["db"].engine
    with Session(engine) as session:
        user = User(openid=f"credits-{uuid.uuid4().hex[:12]}", nickname="订阅")
        session.add(user)
        session.commit()
        user_id = user.id

    def grant(i: int) -> int:
        with Session(engine) as session:
            credits = add_subscription_credit(session, user_id, "case_status")
            session.commit()
            return credits

    def stored() -> int:
        with Session(engine) as session:
            return session.scalar(
                select(SubscriptionCredit.credits).where(SubscriptionCredit.user_id == user_id)
            )

    try:
        results = concurrently(8, grant)  # the first grant creates the row: they race for it
        assert [r for r in results if isinstance(r, Exception)] == []
        assert sorted(results) == list(range(1, 9))  # each saw its own grant counted
        assert stored() == 8
        for _ in range(MAX_CREDITS):
            grant(0)
        assert stored() == MAX_CREDITS
    finally:
        purge_users(engine, [user_id])
