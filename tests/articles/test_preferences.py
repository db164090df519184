"""A resident's push preferences: estates (at most a handful), topics (empty: all), pushes on or off."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import ResidentEstate, ResidentPreference
from backend.articles.preferences import MAX_ESTATES, get_preferences, set_preferences
from backend.errors import ValidationFailed
from backend.messages.services import add_subscription_credit
from backend.org.models import Estate
from tests.support.accounts import make_resident

NOW = dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC)


def estate(session: Session, name: str) -> int:
    return session.scalar(select(Estate.id).where(Estate.name == name))


def test_a_resident_who_never_chose_gets_pushes_on_every_topic(session: Session) -> None:
    user, _ = make_resident(session, "prefdefault")
    chosen = get_preferences(session, user.id)
    assert (chosen.pushes, chosen.topics, chosen.estates, chosen.credits) == (True, [], [], 0)
    add_subscription_credit(session, user.id, "article")
    add_subscription_credit(session, user.id, "case_status")  # another kind of grant does not count
    assert get_preferences(session, user.id).credits == 1


def test_choices_are_saved_and_replaced_whole(session: Session) -> None:
    user, _ = make_resident(session, "prefsave")
    kanghong, zhaoshang, xinqingpu = (
        estate(session, "康虹花园"),
        estate(session, "徐泾北城招商悦庭"),
        estate(session, "新青浦花苑"),
    )
    chosen = set_preferences(
        session,
        user.id,
        pushes=True,
        topics=["illegal_construction", "group_rental", "illegal_construction"],
        estate_ids=[kanghong, zhaoshang, kanghong],
        now=NOW,
    )
    assert chosen.topics == ["illegal_construction", "group_rental"]  # repeated ones count once
    assert [e.id for e in chosen.estates] == [kanghong, zhaoshang]
    assert chosen.estates[0].town.name == "徐泾镇"

    again = set_preferences(
        session, user.id, pushes=False, topics=[], estate_ids=[xinqingpu, zhaoshang], now=NOW
    )
    session.commit()
    assert again.pushes is False and again.topics == []
    # the estate kept keeps its place; the one dropped is gone
    assert [e.id for e in again.estates] == [zhaoshang, xinqingpu]
    rows = session.scalars(select(ResidentEstate.estate_id).where(ResidentEstate.user_id == user.id)).all()
    assert sorted(rows) == sorted([zhaoshang, xinqingpu])
    stored = session.scalars(
        select(ResidentPreference)
        .where(ResidentPreference.user_id == user.id)
        .execution_options(populate_existing=True)
    ).one()
    assert (stored.pushes, stored.topics) == (False, [])
    assert get_preferences(session, user.id) == again


@pytest.mark.parametrize(
    ("topics", "estates", "field"),
    [
        (["out_of_scope"], [], "topics"),
        (["no_such_topic"], [], "topics"),
        ([], [2**31 - 1], "estate_ids"),
        ([], "six", "estate_ids"),
    ],
    ids=["out_of_scope is no topic", "unknown topic", "unknown estate", "too many estates"],
)
def test_refused_choices_change_nothing(session: Session, topics, estates, field: str) -> None:
    user, _ = make_resident(session, "prefrefuse")
    set_preferences(session, user.id, pushes=True, topics=["garbage_sorting"], estate_ids=[], now=NOW)
    if estates == "six":
        estates = list(session.scalars(select(Estate.id).order_by(Estate.id).limit(MAX_ESTATES + 1)))
        assert len(estates) == MAX_ESTATES + 1
    with pytest.raises(ValidationFailed) as refused:
        set_preferences(session, user.id, pushes=False, topics=topics, estate_ids=estates, now=NOW)
    assert refused.value.errors and refused.value.errors[0].field == field
    assert get_preferences(session, user.id).topics == ["garbage_sorting"]
    assert get_preferences(session, user.id).pushes is True


def test_at_most_max_estates(session: Session) -> None:
    user, _ = make_resident(session, "prefmax")
    ids = list(session.scalars(select(Estate.id).order_by(Estate.id).limit(MAX_ESTATES)))
    chosen = set_preferences(session, user.id, pushes=True, topics=[], estate_ids=ids, now=NOW)
    assert [e.id for e in chosen.estates] == ids
