"""Pushing a published article to residents from the console, and what became of each delivery."""

from __future__ import annotations

from itertools import groupby
from operator import itemgetter
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from backend.articles.models import ArticleStatus
from backend.articles.pushes import (
    AUDIENCE_LABELS,
    Audience,
    PushTarget,
    article_to_push,
    audience_choices,
    create_push,
    get_push,
    list_pushes,
    push_deliveries,
)
from backend.cases.workflow import Role
from backend.clock import now
from backend.console.blueprint import BUREAU, console_bp, current_actor, require
from backend.console.forms import Form, client_ip, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, RowId, get_session

READERS = (Role.EDITOR, *BUREAU)  # the studio pushes; the bureau follows what its studios push
ROW = f"int(max={MAX_ROW_ID})"
ARTICLE_STATUS = {
    ArticleStatus.DRAFT: "草稿",
    ArticleStatus.PUBLISHED: "已发布",
    ArticleStatus.WITHDRAWN: "已撤回",
}


class PushForm(Form):
    audience: Audience
    town_id: RowId | None = None
    estate_id: RowId | None = None


def _page_no() -> int:
    return min(max(request.args.get("page", 1, type=int) or 1, 1), 10_000)


@console_bp.get("/pushes")
@require(*READERS)
def pushes() -> ResponseReturnValue:
    page = list_pushes(get_session(), page=_page_no(), per_page=30)
    return render_template("console/pushes.html", page=page)


@console_bp.get(f"/articles/<{ROW}:article_id>/pushes")
@require(*READERS)
def article_pushes(article_id: int) -> ResponseReturnValue:
    return _article_page(NO_REFUSAL, article_id=article_id)


def _article_page(refused: Refusal, article_id: int, **_: Any) -> str:
    db = get_session()
    article = article_to_push(db, article_id)
    choices = audience_choices(db)
    estate_groups = [
        (town_name, [(estate, followers) for estate, _town, followers in rows])
        for town_name, rows in groupby(choices.estates, key=itemgetter(1))
    ]
    return render_template(
        "console/push_article.html",
        article=article,
        status_label=ARTICLE_STATUS.get(ArticleStatus(article.status), article.status),
        may_push=current_actor().role is Role.EDITOR and article.status == ArticleStatus.PUBLISHED,
        page=list_pushes(db, article_id=article_id, page=_page_no(), per_page=30),
        choices=choices,
        estate_groups=estate_groups,
        audiences=AUDIENCE_LABELS,
        refused=refused,
    )


@console_bp.post(f"/articles/<{ROW}:article_id>/pushes")
@require(Role.EDITOR)
@redisplay_when_refused(_article_page)
def push_create(article_id: int) -> ResponseReturnValue:
    form = parse(PushForm)
    db = get_session()
    target = PushTarget(form.audience, town_id=form.town_id, estate_id=form.estate_id)
    push = create_push(db, current_actor(), article_id, target, now=now(), ip=client_ip())
    db.commit()
    flash("已开始推送：名单生成后分批发送", "ok")
    return redirect(url_for("console.push_page", push_id=push.id))


@console_bp.get(f"/pushes/<{ROW}:push_id>")
@require(*READERS)
def push_page(push_id: int) -> ResponseReturnValue:
    db = get_session()
    push = get_push(db, push_id)
    shown = "waiting" if request.args.get("show") == "waiting" else "failed"
    deliveries = push_deliveries(db, push_id, status=shown, page=_page_no(), per_page=50)
    return render_template("console/push.html", push=push, deliveries=deliveries, shown=shown)
