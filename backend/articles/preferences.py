"""What a resident wants pushed: the estates they live in or follow, the topics, and pushes on or off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, selectinload

from backend.articles.models import ResidentEstate, ResidentPreference
from backend.db import upsert
from backend.errors import ValidationFailed
from backend.messages.services import ARTICLE, subscription_credits
from backend.org.models import Estate
from backend.taxonomy.services import CATEGORY_CODES

MAX_ESTATES = 5  # a home, a parent's, a workplace …: more is following the district, which "everyone" covers
# a topic is a category a violation is filed under; out_of_scope is no topic anyone reads about
TOPIC_CODES: tuple[str, ...] = tuple(code for code in CATEGORY_CODES if code != "out_of_scope")


@dataclass(frozen=True)
class Preferences:
    """A resident's choices; a resident who never chose has pushes on, every topic and no estate."""

    pushes: bool
    topics: list[str]  # category codes; empty: every topic
    estates: list[Estate]  # in the order they were added, with their towns loaded
    credits: int  # subscribe messages of pushed articles they have granted and not yet received


def get_preferences(session: Session, user_id: int) -> Preferences:
    preference = session.scalars(
        select(ResidentPreference)
        .where(ResidentPreference.user_id == user_id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    return Preferences(
        pushes=preference.pushes if preference else True,
        topics=list(preference.topics) if preference else [],
        estates=followed_estates(session, user_id),
        credits=subscription_credits(session, user_id, ARTICLE),
    )


def followed_estates(session: Session, user_id: int) -> list[Estate]:
    """The estates the resident lives in or follows, in the order they were added."""
    return list(
        session.scalars(
            select(Estate)
            .join(ResidentEstate, ResidentEstate.estate_id == Estate.id)
            .where(ResidentEstate.user_id == user_id)
            .options(selectinload(Estate.town))
            .order_by(ResidentEstate.id)
        )
    )


def set_preferences(
    session: Session,
    user_id: int,
    *,
    pushes: bool,
    topics: Sequence[str],
    estate_ids: Sequence[int],
    now: dt.datetime,
) -> Preferences:
    """Replace the resident's choices. Estates kept keep their place; repeated ids and topics count once.
    Upserts, so two saves arriving together from the same resident neither fail nor duplicate a row."""
    wanted_topics = list(dict.fromkeys(topics))
    unknown = [t for t in wanted_topics if t not in TOPIC_CODES]
    if unknown:
        raise ValidationFailed.on("topics", "没有这个专题", description=f"topics: unknown {unknown}")
    wanted_estates = list(dict.fromkeys(estate_ids))
    if len(wanted_estates) > MAX_ESTATES:
        raise ValidationFailed.on("estate_ids", f"最多选择 {MAX_ESTATES} 个小区")
    found = set(session.scalars(select(Estate.id).where(Estate.id.in_(wanted_estates))))
    missing = [i for i in wanted_estates if i not in found]
    if missing:
        raise ValidationFailed.on("estate_ids", "没有这个小区", description=f"estate_ids: unknown {missing}")

    upsert(
        session,
        ResidentPreference,
        {"user_id": user_id, "pushes": pushes, "topics": wanted_topics, "updated_at": now},
        {"pushes": pushes, "topics": wanted_topics, "updated_at": now},
    )
    session.execute(
        delete(ResidentEstate)
        .where(ResidentEstate.user_id == user_id, ResidentEstate.estate_id.not_in(wanted_estates))
        .execution_options(synchronize_session=False)
    )
    for estate_id in wanted_estates:
        upsert(
            session,
            ResidentEstate,
            {"user_id": user_id, "estate_id": estate_id, "created_at": now},
            {"created_at": ResidentEstate.created_at},  # already followed: nothing changes
            key=["user_id", "estate_id"],
        )
    session.flush()
    return get_preferences(session, user_id)
