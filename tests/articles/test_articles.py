"""The rules of articles, on a real session: versions (none for an unchanged text), comparing and restoring,
publishing and withdrawing on the record and the audit trail, the index version the bot follows, what may be
cited and shown, and what residents read: lists, related articles, search and public images."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.articles.models import Article, ArticleEvent, ArticleStatus
from backend.articles.rendering import IMAGE_PATH
from backend.articles.services.checks import (
    IMAGE_MARK,
    ArticleInput,
    Citation,
    NewImage,
    check_article,
    load_rules,
    parse_citations,
    split_tags,
)
from backend.articles.services.published import index_version, published_articles
from backend.articles.services.reading import get_published, list_published, published_image, related_articles
from backend.articles.services.search import query_words, search_published, search_words
from backend.articles.services.studio import (
    ArticleFilter,
    DiffKind,
    article_image,
    compare_versions,
    list_articles,
)
from backend.articles.services.writing import (
    create_article,
    publish_article,
    restore_version,
    save_article,
    withdraw_article,
)
from backend.audit.models import AuditEntry
from backend.cases.workflow import Actor, Role
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.staff.services import create_staff, staff_actor
from backend.uploads.services import store_upload
from tests.support.accounts import make_resident
from tests.support.bot import CONTENT
from tests.support.mp_api import png_bytes

NOW = dt.datetime(2026, 7, 15, 2, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(hours=1)
RULES = load_rules(CONTENT)


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="t_article_editor", display_name="工作室小周", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def draft(**overrides: object) -> ArticleInput:
    fields: dict = {
        "title": "楼顶养蜂箱，邻居能管吗",
        "summary": "楼顶平台是共用部位，放蜂箱要先问问邻居和物业。",
        "body": "## 楼顶平台\n\n楼顶平台是全体业主的**共用部位**。\n\n放蜂箱前请先问物业。",
        "categories": ["common_area_occupation"],
        "tags": ["蜂箱", "楼顶"],
        "legal_basis": [Citation("上海市住宅物业管理规定", "第五十八条")],
        "audience": "居民",
    }
    return ArticleInput(**(fields | overrides))


def events_of(session: Session, article: Article) -> list[tuple[str, str]]:
    rows = session.scalars(
        select(ArticleEvent).where(ArticleEvent.article_id == article.id).order_by(ArticleEvent.id)
    )
    return [(e.action, e.note) for e in rows]


def audited(session: Session, article: Article) -> list[str]:
    rows = session.scalars(
        select(AuditEntry.action)
        .where(AuditEntry.target_type == "article", AuditEntry.target_id == str(article.id))
        .order_by(AuditEntry.id)
    )
    return list(rows)


# ------------------------------------------------------------------------------------------- versions


def test_a_draft_is_version_one_on_the_record_and_audited(session: Session, editor: Actor) -> None:
    article = create_article(session, editor, draft(), RULES, slug="bees-on-the-roof", now=NOW)
    assert (
        article.status == ArticleStatus.DRAFT and article.version == 1 and article.slug == "bees-on-the-roof"
    )
    assert [v.number for v in article.versions] == [1]
    assert article.versions[0].saved_by == editor.id
    assert article.legal_basis == [{"law": "上海市住宅物业管理规定", "article": "第五十八条"}]
    assert events_of(session, article) == [("create", "")]
    assert audited(session, article) == ["article.create"]
    made_up = create_article(session, editor, draft(title="另一篇"), RULES, now=NOW)
    assert made_up.slug.startswith("a20260715-")


def test_every_save_is_a_numbered_version_and_an_unchanged_text_makes_none(
    session: Session, editor: Actor
) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    _, second = save_article(
        session, editor, article.id, draft(title="楼顶放蜂箱，邻居能管吗"), RULES, now=LATER
    )
    assert second is not None and second.number == 2 and article.version == 2
    assert article.title == "楼顶放蜂箱，邻居能管吗"
    # the same text again, even as a browser sends it (CRLF line breaks, spaces around it): no version
    same = draft(title=" 楼顶放蜂箱，邻居能管吗 ", body=draft().body.replace("\n", "\r\n"))
    _, none = save_article(session, editor, article.id, same, RULES, base_version=2, now=LATER)
    assert none is None and article.version == 2 and len(article.versions) == 2
    assert [e for e, _ in events_of(session, article)] == ["create", "save"]
    assert audited(session, article) == ["article.create", "article.save"]


def test_a_save_over_someone_elses_newer_version_is_refused(session: Session, editor: Actor) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    save_article(session, editor, article.id, draft(summary="第二版摘要"), RULES, base_version=1, now=LATER)
    with pytest.raises(Conflict) as refused:
        save_article(
            session, editor, article.id, draft(summary="基于第一版的修改"), RULES, base_version=1, now=LATER
        )
    assert "第 2 版" in refused.value.message
    assert article.summary == "第二版摘要" and article.version == 2


def test_two_versions_are_compared_field_by_field_and_line_by_line(session: Session, editor: Actor) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    body = draft().body.replace("放蜂箱前请先问物业。", "放蜂箱前请先问物业和邻居。\n\n新的一段。")
    save_article(session, editor, article.id, draft(body=body, tags=["蜂箱"]), RULES, now=LATER)
    comparison = compare_versions(session, editor, article.id, 1, 2)
    assert [(f.label, f.before, f.after) for f in comparison.fields] == [("标签", "蜂箱、楼顶", "蜂箱")]
    removed = [line.text for line in comparison.lines if line.kind is DiffKind.REMOVED]
    added = [line.text for line in comparison.lines if line.kind is DiffKind.ADDED]
    assert removed == ["放蜂箱前请先问物业。"] and added == ["放蜂箱前请先问物业和邻居。", "", "新的一段。"]
    assert comparison.lines[0].kind is DiffKind.HUNK
    assert compare_versions(session, editor, article.id, 2, 2).same
    with pytest.raises(NotFound):
        compare_versions(session, editor, article.id, 1, 9)


def test_an_old_version_is_restored_as_a_new_one(session: Session, editor: Actor) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    save_article(session, editor, article.id, draft(title="第二版标题"), RULES, now=LATER)
    restored = restore_version(session, editor, article.id, 1, RULES, now=LATER)
    assert restored.number == 3 and restored.note == "恢复第 1 版"
    assert article.title == draft().title and article.version == 3 and len(article.versions) == 3
    assert events_of(session, article)[-1] == ("restore", "恢复第 1 版")
    assert audited(session, article)[-1] == "article.restore"
    with pytest.raises(Conflict):  # version 1 is what it says now
        restore_version(session, editor, article.id, 1, RULES, now=LATER)
    with pytest.raises(NotFound):
        restore_version(session, editor, article.id, 7, RULES, now=LATER)


# ------------------------------------------------------------------------------ publishing and the bot


def test_publishing_withdrawing_and_saving_a_published_text_move_the_index_version(
    session: Session, editor: Actor
) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    start = index_version(session)
    save_article(session, editor, article.id, draft(summary="草稿的修改"), RULES, now=NOW)
    assert index_version(session) == start  # a draft is nobody's answer
    publish_article(session, editor, article.id, RULES, now=LATER)
    assert article.status == ArticleStatus.PUBLISHED and article.published_at == LATER
    assert index_version(session) == start + 1
    assert article.id in {a.id for a in published_articles(session)}
    save_article(session, editor, article.id, draft(summary="已发布后的修改"), RULES, now=LATER)
    assert index_version(session) == start + 2
    with pytest.raises(Conflict):
        publish_article(session, editor, article.id, RULES, now=LATER)

    with pytest.raises(ValidationFailed) as refused:
        withdraw_article(session, editor, article.id, "  ", now=LATER)
    assert refused.value.errors[0].field == "reason"
    withdraw_article(session, editor, article.id, "法规已修订，待更新", now=LATER)
    assert article.status == ArticleStatus.WITHDRAWN and article.withdrawn_at == LATER
    assert index_version(session) == start + 3
    assert article.id not in {a.id for a in published_articles(session)}
    with pytest.raises(Conflict):
        withdraw_article(session, editor, article.id, "再撤一次", now=LATER)
    publish_article(session, editor, article.id, RULES, now=LATER)  # published again
    assert index_version(session) == start + 4
    assert [e for e, _ in events_of(session, article)] == [
        "create", "save", "publish", "save", "withdraw", "publish"
    ]  # fmt: skip
    assert ("withdraw", "法规已修订，待更新") in events_of(session, article)
    assert audited(session, article)[-3:] == ["article.save", "article.withdraw", "article.publish"]


def test_the_bot_reads_published_articles_as_plain_text(session: Session, editor: Actor) -> None:
    body = "## 蜂箱\n\n楼顶**不能**放[蜂箱](https://example.com)。"
    article = create_article(session, editor, draft(body=body), RULES, now=NOW)
    publish_article(session, editor, article.id, RULES, now=NOW)
    mine = next(a for a in published_articles(session) if a.id == article.id)
    assert mine.body == "蜂箱\n楼顶不能放蜂箱。"
    assert mine.slug == article.slug and mine.categories == ("common_area_occupation",)
    assert mine.tags == ("蜂箱", "楼顶") and mine.summary == article.summary


@pytest.mark.parametrize(
    "role", [Role.SUPERVISOR, Role.ADMIN, Role.OFFICER, Role.PROPERTY_STAFF, Role.RESIDENT]
)
def test_only_a_studio_editor_writes_publishes_and_withdraws(
    session: Session, editor: Actor, role: Role
) -> None:
    article = create_article(session, editor, draft(), RULES, now=NOW)
    other = Actor(role, editor.id, "别人")
    for attempt in (
        lambda: create_article(session, other, draft(), RULES, now=NOW),
        lambda: save_article(session, other, article.id, draft(title="改"), RULES, now=NOW),
        lambda: restore_version(session, other, article.id, 1, RULES, now=NOW),
        lambda: publish_article(session, other, article.id, RULES, now=NOW),
        lambda: withdraw_article(session, other, article.id, "原因", now=NOW),
    ):
        with pytest.raises(Forbidden):
            attempt()
    readable = role in (Role.SUPERVISOR, Role.ADMIN)
    if readable:
        assert list_articles(session, other, ArticleFilter(q="养蜂")).total >= 1
    else:
        with pytest.raises(Forbidden):
            list_articles(session, other, ArticleFilter())


# ------------------------------------------------------------------------------------ what it may say


REFUSED = [
    ({"title": "  "}, "title", "请填写标题"),
    ({"title": "长" * 129}, "title", "最多 128"),
    ({"summary": ""}, "summary", "请填写摘要"),
    ({"body": "\n\n"}, "body", "请填写正文"),
    ({"body": "字" * 20_001}, "body", "最多 20000"),
    ({"body": "![x](https://evil.example/x.png)"}, "body", "只能是本系统上传的图片"),
    ({"categories": ["noise"]}, "categories", "没有这个类别：noise"),
    ({"tags": [f"标签{i}" for i in range(11)]}, "tags", "最多 10 个标签"),
    ({"tags": ["长" * 17]}, "tags", "最多 16"),
    ({"audience": "游客"}, "audience", "居民、物业、业主与施工单位"),
    ({"legal_basis": [Citation("上海市养蜂条例")]}, "legal_basis", "法规目录中没有《上海市养蜂条例》"),
    (
        {"legal_basis": [Citation("上海市住宅物业管理规定", "第一百条")]},
        "legal_basis",
        "《上海市住宅物业管理规定》第一百条不在法规目录中",
    ),
    (  # a law listed without articles is cited by name only
        {"legal_basis": [Citation("上海市住房租赁条例", "第二十条")]},
        "legal_basis",
        "只能按名称引用",
    ),
    ({"cover_upload_id": "../../etc/passwd"}, "cover", "封面"),
]


@pytest.mark.parametrize("overrides, field, message", REFUSED, ids=[r[1] + ":" + r[2][:8] for r in REFUSED])
def test_what_cannot_be_kept_is_refused_beside_its_field(overrides: dict, field: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_article(draft(**overrides), RULES)
    assert refused.value.errors and refused.value.errors[0].field == field
    assert message in refused.value.message


def test_citations_are_kept_under_the_laws_own_names_once() -> None:
    citations = parse_citations(
        "《拆违规定》第七条\n上海市拆除违法建筑若干规定 第七条\n\n住房租赁条例；\n民法典第二百七十九条"
    )
    assert citations == [
        Citation("拆违规定", "第七条"),
        Citation("上海市拆除违法建筑若干规定", "第七条"),
        Citation("住房租赁条例", None),
        Citation("民法典", "第二百七十九条"),
    ]
    checked = check_article(draft(legal_basis=citations), RULES).legal_basis
    assert [str(c) for c in checked] == [
        "《上海市拆除违法建筑若干规定》第七条",
        "《上海市住房租赁条例》",
        "《中华人民共和国民法典》第二百七十九条",
    ]
    assert split_tags("#阳光房，拆违, 楼顶  楼顶") == ["阳光房", "拆违", "楼顶", "楼顶"]
    assert check_article(draft(tags=split_tags("阳光房，楼顶 楼顶")), RULES).tags == ["阳光房", "楼顶"]


def test_images_are_uploads_the_console_stored_never_a_residents_photo(
    app, session: Session, editor: Actor
) -> None:
    storage = app.extensions["storage"]
    ours = store_upload(session, storage, None, png_bytes("blue"))
    resident, _ = make_resident(session, "article-photo")
    theirs = store_upload(session, storage, resident.id, png_bytes("green"))
    article = create_article(
        session,
        editor,
        draft(body=f"开头\n\n{IMAGE_MARK}\n\n结尾"),
        RULES,
        image=NewImage(ours.id, "蜂箱的位置"),
        now=NOW,
    )
    assert f"开头\n\n![蜂箱的位置]({IMAGE_PATH}{ours.id})\n\n结尾" == article.body
    for body, cover in ((f"![x]({IMAGE_PATH}{theirs.id})", None), (draft().body, theirs.id)):
        with pytest.raises(ValidationFailed) as refused:
            save_article(session, editor, article.id, draft(body=body, cover_upload_id=cover), RULES, now=NOW)
        assert refused.value.errors[0].field == ("cover" if cover else "body")
    _, version = save_article(session, editor, article.id, draft(cover_upload_id=ours.id), RULES, now=NOW)
    assert version is not None and article.cover_upload_id == ours.id
    # the console shows any article's image; the public only those of a published article
    assert article_image(session, editor, ours.id) == ours
    with pytest.raises(NotFound):
        article_image(session, editor, theirs.id)
    with pytest.raises(NotFound):
        published_image(session, ours.id)
    publish_article(session, editor, article.id, RULES, now=NOW)
    assert published_image(session, ours.id) == ours
    with pytest.raises(NotFound):
        published_image(session, theirs.id)
    withdraw_article(session, editor, article.id, "撤回", now=NOW)
    with pytest.raises(NotFound):
        published_image(session, ours.id)


# ------------------------------------------------------------------------------------------- reading


def published(session: Session, editor: Actor, **overrides: object) -> Article:
    article = create_article(session, editor, draft(**overrides), RULES, now=NOW)
    publish_article(session, editor, article.id, RULES, now=NOW)
    return article


def test_residents_read_only_published_articles(session: Session, editor: Actor) -> None:
    shown = published(session, editor, tags=["蜂箱试验标签"])
    hidden = create_article(session, editor, draft(tags=["蜂箱试验标签"]), RULES, now=NOW)
    gone = published(session, editor, tags=["蜂箱试验标签"])
    withdraw_article(session, editor, gone.id, "过时", now=NOW)
    page = list_published(session, tag="蜂箱试验标签")
    assert [a.id for a in page.items] == [shown.id] and page.total == 1
    assert get_published(session, shown.slug) == shown
    for article in (hidden, gone):
        with pytest.raises(NotFound):
            get_published(session, article.slug)
    by_category = list_published(session, category="common_area_occupation", per_page=100)
    assert shown.id in {a.id for a in by_category.items}
    assert all("common_area_occupation" in a.categories for a in by_category.items)
    first, second = (list_published(session, tag="蜂箱试验标签", page=p, per_page=1) for p in (1, 2))
    assert first.pages == 1 and second.items == []


def test_related_articles_share_categories_most_first(session: Session, editor: Actor) -> None:
    both = published(session, editor, categories=["green_space_damage", "garbage_sorting"], title="两类都有")
    one = published(session, editor, categories=["green_space_damage"], title="只有一类")
    related = [a.id for a in related_articles(session, ["green_space_damage", "garbage_sorting"], limit=50)]
    assert related.index(both.id) < related.index(one.id)
    assert all(
        {"green_space_damage", "garbage_sorting"} & set(a.categories)
        for a in related_articles(session, ["green_space_damage", "garbage_sorting"], limit=50)
    )
    alone = [a.id for a in related_articles(session, ["green_space_damage"], exclude=both.id, limit=50)]
    assert one.id in alone and both.id not in alone
    assert len(related_articles(session, ["green_space_damage"])) <= 3
    assert related_articles(session, [None]) == []


def test_search_ranks_the_title_first_and_highlights_the_words(session: Session, editor: Actor) -> None:
    words = search_words(CONTENT)
    in_body = published(session, editor, title="小区里的一件事", body="说到蜂箱，楼顶平台上不能放蜂箱。")
    in_title = published(session, editor, title="楼顶放蜂箱，邻居能管吗")
    hidden = create_article(session, editor, draft(title="蜂箱草稿"), RULES, now=NOW)
    searched, page = search_published(session, "楼顶放蜂箱会怎样？", words)
    assert "蜂箱" in searched and "楼顶" in searched
    ids = [hit.article.id for hit in page.items]
    assert ids.index(in_title.id) < ids.index(in_body.id) and hidden.id not in ids
    hit = page.items[ids.index(in_title.id)]
    assert "<em>蜂箱</em>" in hit.title_html and "<em>楼顶</em>" in hit.title_html
    body_hit = page.items[ids.index(in_body.id)]
    assert "<em>蜂箱</em>" in body_hit.excerpt_html
    assert hit.score > body_hit.score > 0


def test_a_search_query_is_split_into_words_without_filler() -> None:
    words = search_words(CONTENT)
    assert query_words("楼顶搭阳光房会被拆吗", words) == ["楼顶", "阳光房"]
    assert query_words("拆", words) == ["拆"]
    assert query_words("的", words) == ["的"]  # nothing but filler: searched as typed
    assert query_words("  ", words) == []


def test_a_search_cannot_inject_markup_or_wildcards(session: Session, editor: Actor) -> None:
    words = search_words(CONTENT)
    published(session, editor, title="百分之百<b>蜂箱</b>指南")
    _, page = search_published(session, "%", words)
    assert page.total == 0  # a LIKE wildcard is a character, not "anything"
    _, page = search_published(session, "蜂箱", words)
    titles = [hit.title_html for hit in page.items]
    assert "百分之百&lt;b&gt;<em>蜂箱</em>&lt;/b&gt;指南" in titles


def test_a_slug_is_checked(session: Session, editor: Actor) -> None:
    create_article(session, editor, draft(), RULES, slug="bee-article", now=NOW)
    for slug in ("bee-article", "Bee", "search", "-x", "中文"):
        with pytest.raises(ValidationFailed) as refused:
            create_article(session, editor, draft(), RULES, slug=slug, now=NOW)
        assert refused.value.errors[0].field == "slug"


def test_the_form_of_an_input_round_trips() -> None:
    data = check_article(draft(), RULES)
    assert dataclasses.replace(data) == data
