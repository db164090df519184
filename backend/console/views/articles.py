"""The studio's articles in the console: write, edit, preview, publish and withdraw; every save a version to
compare and restore. Editors write; the bureau reads."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from backend.articles.models import Article, ArticleStatus
from backend.articles.rendering import render_html
from backend.articles.services.access import may_write
from backend.articles.services.checks import (
    AUDIENCES,
    BODY_MAX,
    REASON_MAX,
    STATUS_LABELS,
    SUMMARY_MAX,
    TITLE_MAX,
    ArticleInput,
    ArticleRules,
    Citation,
    NewImage,
    check_article,
    load_rules,
    parse_citations,
    split_tags,
)
from backend.articles.services.studio import (
    ArticleFilter,
    article_events,
    article_image,
    category_names,
    compare_versions,
    event_label,
    get_article,
    list_articles,
    version_authors,
)
from backend.articles.services.writing import (
    create_article,
    input_of,
    publish_article,
    restore_version,
    save_article,
    withdraw_article,
)
from backend.cases.workflow import Role
from backend.clock import now
from backend.config import get_config
from backend.console.blueprint import console_bp, current_actor, require
from backend.console.forms import Form, parse
from backend.console.refusal import NO_REFUSAL, Refusal, redisplay_when_refused
from backend.db import MAX_ROW_ID, get_session
from backend.errors import ValidationFailed
from backend.uploads.services import open_upload, store_upload

READERS = (Role.EDITOR, Role.SUPERVISOR, Role.ADMIN)  # the bureau reads the studio's articles, writes none
ARTICLE = f"/articles/<int(max={MAX_ROW_ID}):article_id>"


def _rules() -> ArticleRules:
    return load_rules(get_config().content_dir)


def _console_image(upload_id: str) -> str:
    return url_for("console.article_image_file", upload_id=upload_id)


class ArticleForm(Form):
    """The editor's form; the service says what is missing or wrong, beside each field."""

    slug: str = Field("", max_length=64)
    title: str = Field("", max_length=TITLE_MAX)
    summary: str = Field("", max_length=SUMMARY_MAX)
    body: str = Field("", max_length=BODY_MAX)
    categories: list[str] = Field(default_factory=list, max_length=20)
    tags: str = Field("", max_length=300)
    legal_basis: str = Field("", max_length=2000)
    audience: str = Field(AUDIENCES[0], max_length=32)
    cover_upload_id: str | None = Field(None, max_length=32)
    remove_cover: bool = False
    image_alt: str = Field("", max_length=64)
    note: str = Field("", max_length=128)
    base_version: int | None = Field(None, ge=1, le=MAX_ROW_ID)

    def to_input(self, cover_upload_id: str | None) -> ArticleInput:
        """The article as the service takes it (the one place this form becomes an ArticleInput)."""
        return ArticleInput(
            title=self.title,
            summary=self.summary,
            body=self.body,
            categories=self.categories,
            tags=split_tags(self.tags),
            legal_basis=parse_citations(self.legal_basis),
            audience=self.audience,
            cover_upload_id=cover_upload_id,
        )


def _stored(field: str) -> str | None:
    """The image chosen in file field `field`, cleaned and stored through the upload pipeline (no owner: the
    console's), or None if none was chosen."""
    file = request.files.get(field)
    if file is None or not file.filename:
        return None
    try:
        upload = store_upload(get_session(), current_app.extensions["storage"], None, file.stream.read())
    except ValidationFailed as exc:  # said beside the form's file field
        raise ValidationFailed.on(field, exc.message) from None
    return upload.id


def _submitted(form: ArticleForm) -> tuple[ArticleInput, NewImage | None]:
    cover = None if form.remove_cover else form.cover_upload_id
    cover = _stored("cover") or cover
    image_id = _stored("image")
    return form.to_input(cover), NewImage(image_id, form.image_alt) if image_id else None


# ------------------------------------------------------------------------------------------- the list


@console_bp.get("/articles")
@require(*READERS)
def articles() -> ResponseReturnValue:
    args = request.args
    status = args.get("status", "")
    category = args.get("category", "")
    db = get_session()
    names = category_names(db)
    filters = ArticleFilter(
        status=status if status in STATUS_LABELS else None,
        category=category if category in names else None,
        q=args.get("q", "")[:64],
    )
    page = list_articles(db, current_actor(), filters, page=args.get("page", 1, type=int), per_page=30)
    return render_template(
        "console/articles.html",
        page=page,
        filters=filters,
        names=names,
        status_labels=STATUS_LABELS,
        may_write=may_write(current_actor()),
    )


# ---------------------------------------------------------------------------------- writing and preview


def _form_page(
    refused: Refusal,
    article_id: int | None = None,
    *,
    typed: Refusal | None = None,
    preview: str = "",
    **_: Any,
) -> str:
    """The editor's form for a new article or for `article_id`, with what was typed (`typed`, or the refused
    form's) and, after 预览, the text as readers will see it."""
    db = get_session()
    article = get_article(db, current_actor(), article_id) if article_id is not None else None
    filled = _filled(article)
    action = (
        url_for("console.article_save", article_id=article.id)
        if article is not None
        else url_for("console.article_create")
    )
    return render_template(
        "console/article_form.html",
        article=article,
        action=action,
        filled=filled,
        typed=typed or refused,
        refused=refused,
        preview=preview,
        names=category_names(db),
        audiences=AUDIENCES,
        laws=_rules().law_names,
        status_labels=STATUS_LABELS,
    )


def _citation_lines(citations: list[Citation]) -> str:
    return "\n".join(f"《{c.law}》{c.article or ''}" for c in citations)


def _filled(article: Article | None) -> dict[str, Any]:
    """The form's fields as the article's latest version has them (empty for a new one)."""
    if article is None:
        return {"audience": AUDIENCES[0], "categories": [], "base_version": ""}
    data = input_of(article)
    return {
        "title": data.title,
        "summary": data.summary,
        "body": data.body,
        "categories": list(data.categories),
        "tags": "，".join(data.tags),
        "legal_basis": _citation_lines(list(data.legal_basis)),
        "audience": data.audience,
        "cover_upload_id": data.cover_upload_id or "",
        "base_version": str(article.version),
    }


@console_bp.get("/articles/new")
@require(Role.EDITOR)
def article_new() -> ResponseReturnValue:
    return _form_page(NO_REFUSAL)


@console_bp.post("/articles")
@require(Role.EDITOR)
@redisplay_when_refused(_form_page)
def article_create() -> ResponseReturnValue:
    form = parse(ArticleForm)
    data, image = _submitted(form)
    db = get_session()
    article = create_article(
        db, current_actor(), data, _rules(), slug=form.slug, image=image, note=form.note, now=now()
    )
    db.commit()
    flash("已保存为草稿（第 1 版）", "ok")
    return redirect(url_for("console.article", article_id=article.id))


@console_bp.get(ARTICLE + "/edit")
@require(Role.EDITOR)
def article_edit(article_id: int) -> ResponseReturnValue:
    return _form_page(NO_REFUSAL, article_id)


@console_bp.post(ARTICLE)
@require(Role.EDITOR)
@redisplay_when_refused(_form_page)
def article_save(article_id: int) -> ResponseReturnValue:
    form = parse(ArticleForm)
    data, image = _submitted(form)
    db = get_session()
    article, version = save_article(
        db,
        current_actor(),
        article_id,
        data,
        _rules(),
        base_version=form.base_version,
        image=image,
        note=form.note,
        now=now(),
    )
    db.commit()
    if version is None:
        flash("内容没有变化，未生成新版本", "ok")
    elif article.status == ArticleStatus.PUBLISHED:
        flash(f"已保存为第 {version.number} 版，已发布的文章即时更新", "ok")
    else:
        flash(f"已保存为第 {version.number} 版", "ok")
    return redirect(url_for("console.article", article_id=article_id))


def _preview(article_id: int | None) -> ResponseReturnValue:
    """The form drawn again with what was typed and the text rendered through the same sanitiser readers
    get; nothing is saved (a chosen image or cover is stored only by 保存). What a save would refuse is said
    beside its field."""
    action = (
        url_for("console.article_save", article_id=article_id)
        if article_id is not None
        else url_for("console.article_create")
    )
    typed = Refusal(form=action, values=request.form.copy())
    try:
        form = parse(ArticleForm)
        check_article(form.to_input(None if form.remove_cover else form.cover_upload_id), _rules())
    except ValidationFailed as exc:
        errors = {e.field: e.message for e in exc.errors or []}
        refused = Refusal(action, request.form.copy(), errors, "预览：保存前请按红字提示修改")
        body = request.form.get("body", "")
        return _form_page(refused, article_id, preview=render_html(body, image_url=_console_image))
    preview = render_html(form.body, image_url=_console_image)
    return _form_page(NO_REFUSAL, article_id, typed=typed, preview=preview)


@console_bp.post("/articles/preview")
@require(Role.EDITOR)
def article_preview_new() -> ResponseReturnValue:
    return _preview(None)


@console_bp.post(ARTICLE + "/preview")
@require(Role.EDITOR)
def article_preview(article_id: int) -> ResponseReturnValue:
    return _preview(article_id)


# --------------------------------------------------------------------------------------- the article


def _detail_page(refused: Refusal, article_id: int, **_: Any) -> str:
    db = get_session()
    actor = current_actor()
    article = get_article(db, actor, article_id)
    return render_template(
        "console/article.html",
        article=article,
        html=render_html(article.body, image_url=_console_image),
        events=article_events(db, actor, article_id),
        event_label=event_label,
        names=category_names(db),
        status_labels=STATUS_LABELS,
        may_write=may_write(actor),
        refused=refused,
        reason_max=REASON_MAX,
    )


@console_bp.get(ARTICLE)
@require(*READERS)
def article(article_id: int) -> ResponseReturnValue:
    return _detail_page(NO_REFUSAL, article_id)


@console_bp.post(ARTICLE + "/publish")
@require(Role.EDITOR)
@redisplay_when_refused(_detail_page)
def article_publish(article_id: int) -> ResponseReturnValue:
    db = get_session()
    article = publish_article(db, current_actor(), article_id, _rules(), now=now())
    db.commit()
    flash(f"已发布第 {article.version} 版：居民可以阅读，智能客服也会据此回答", "ok")
    return redirect(url_for("console.article", article_id=article_id))


class WithdrawForm(Form):
    reason: str = Field("", max_length=REASON_MAX)


@console_bp.post(ARTICLE + "/withdraw")
@require(Role.EDITOR)
@redisplay_when_refused(_detail_page)
def article_withdraw(article_id: int) -> ResponseReturnValue:
    form = parse(WithdrawForm)
    db = get_session()
    withdraw_article(db, current_actor(), article_id, form.reason, now=now())
    db.commit()
    flash("已撤回：居民不再看到这篇文章，智能客服也不再据此回答", "ok")
    return redirect(url_for("console.article", article_id=article_id))


# ------------------------------------------------------------------------------------------ versions


@console_bp.get(ARTICLE + "/versions")
@require(*READERS)
def article_versions(article_id: int) -> ResponseReturnValue:
    db = get_session()
    actor = current_actor()
    article = get_article(db, actor, article_id)
    older, newer = request.args.get("a", type=int), request.args.get("b", type=int)
    comparison = None
    if older is not None and newer is not None:
        comparison = compare_versions(db, actor, article_id, older, newer)
    latest = article.version
    return render_template(
        "console/article_versions.html",
        article=article,
        versions=list(reversed(article.versions)),
        authors=version_authors(db, article.versions),
        comparison=comparison,
        chosen=(older or max(latest - 1, 1), newer or latest),
        may_write=may_write(actor),
    )


@console_bp.post(ARTICLE + f"/versions/<int(max={MAX_ROW_ID}):number>/restore")
@require(Role.EDITOR)
def article_restore(article_id: int, number: int) -> ResponseReturnValue:
    db = get_session()
    version = restore_version(db, current_actor(), article_id, number, _rules(), now=now())
    db.commit()
    flash(f"已恢复第 {number} 版，保存为第 {version.number} 版", "ok")
    return redirect(url_for("console.article_versions", article_id=article_id))


@console_bp.get("/articles/images/<upload_id>")
@require(*READERS)
def article_image_file(upload_id: str) -> ResponseReturnValue:
    upload = article_image(get_session(), current_actor(), upload_id)
    response = current_app.response_class(
        open_upload(current_app.extensions["storage"], upload), mimetype=upload.content_type
    )
    response.headers["Cache-Control"] = "private, max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
