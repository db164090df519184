"""The studio's article pages: who may read and who may write them, an editor writing, previewing, saving,
comparing, restoring, publishing and withdrawing, refused forms that keep what was typed, and images."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, and_, delete, or_, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from backend import create_app
from backend.articles.models import Article, ArticleEvent, ArticleStatus, ArticleVersion
from backend.articles.rendering import IMAGE_PATH
from backend.articles.services.checks import ArticleInput, Citation, load_rules
from backend.articles.services.writing import create_article
from backend.audit.models import AuditEntry
from backend.staff.models import StaffUser
from backend.staff.services import create_staff, staff_actor
from backend.uploads.services import store_upload
from tests.support.bot import CONTENT
from tests.support.console import csrf_token, login
from tests.support.mp_api import png_bytes

RULES = load_rules(CONTENT)
ROLES = ["anonymous", "officer", "leader", "supervisor", "admin", "editor", "property"]
READERS = {"editor", "supervisor", "admin"}
WRITERS = {"editor"}

FORM = {
    "title": "楼道里堆放杂物，物业该不该管？",
    "summary": "楼道是消防通道，堆放杂物既占用共用部位也有火灾隐患。",
    "body": "## 楼道是谁的\n\n楼道是**共用部位**。\n\n- 先和邻居说\n- 再找物业",
    "categories": ["common_area_occupation"],
    "tags": "楼道，杂物",
    "legal_basis": "《上海市住宅物业管理规定》第五十八条",
    "audience": "居民",
}


def client_as(app, role: str, accounts) -> FlaskClient:
    client = app.test_client()
    if role != "anonymous":
        login(client, accounts[role].username)
    return client


def send(client: FlaskClient, path: str, data: dict | None = None, **kw) -> object:
    """A console form posted with the signed-in (or anonymous) client's own CSRF token."""
    token = csrf_token(client, "/console/login")
    return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)


def an_article(session: Session, accounts, **overrides: object) -> Article:
    fields: dict = {
        "title": "测试文章：楼顶蜂箱",
        "summary": "楼顶平台是共用部位。",
        "body": "第一段。\n\n第二段。",
        "categories": ["common_area_occupation"],
        "legal_basis": [Citation("上海市住宅物业管理规定", "第五十八条")],
    }
    article = create_article(
        session,
        staff_actor(accounts["editor"]),
        ArticleInput(**(fields | overrides)),
        RULES,
        now=dt.datetime.now(dt.UTC),
    )
    session.commit()
    return article


def fresh(session: Session, article_id: int) -> Article:
    session.expire_all()
    return session.get(Article, article_id)


# ------------------------------------------------------------------------------------------ who may


PAGES = {
    "/console/articles": READERS,
    "/console/articles/new": WRITERS,
    "/console/articles/{id}": READERS,
    "/console/articles/{id}/edit": WRITERS,
    "/console/articles/{id}/versions": READERS,
    "/console/articles/{id}/versions?a=1&b=1": READERS,
    "/console/articles/images/{upload}": READERS,
}


@pytest.mark.parametrize(("path", "allowed"), PAGES.items(), ids=list(PAGES))
def test_pages(app, session: Session, accounts, path: str, allowed: set[str]) -> None:
    upload = store_upload(session, app.extensions["storage"], None, png_bytes())
    article = an_article(session, accounts, body=f"![图]({IMAGE_PATH}{upload.id})")
    url = path.format(id=article.id, upload=upload.id)
    for role in ROLES:
        response = client_as(app, role, accounts).get(url)
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        elif role in allowed:
            assert response.status_code == 200, (path, role, response.status_code)
        else:
            assert response.status_code == 403, (path, role, response.status_code)


ACTIONS = [
    ("/console/articles", FORM),
    ("/console/articles/preview", FORM),
    ("/console/articles/{id}", FORM),
    ("/console/articles/{id}/preview", FORM),
    ("/console/articles/{id}/publish", {}),
    ("/console/articles/{id}/withdraw", {"reason": "过时"}),
    ("/console/articles/{id}/versions/1/restore", {}),
]


@pytest.mark.parametrize(("path", "form"), ACTIONS, ids=[a[0] for a in ACTIONS])
def test_only_an_editor_writes(app, session: Session, accounts, path: str, form: dict) -> None:
    for role in ROLES:
        article = an_article(session, accounts)
        if path.endswith(("/withdraw", "/restore")):  # make the action possible for the one allowed
            send(client_as(app, "editor", accounts), f"/console/articles/{article.id}/publish")
            send(client_as(app, "editor", accounts), f"/console/articles/{article.id}", {**FORM})
        before = (fresh(session, article.id).version, fresh(session, article.id).status)
        newest = session.scalar(select(Article.id).order_by(Article.id.desc()).limit(1))
        response = send(client_as(app, role, accounts), path.format(id=article.id), form)
        after = (fresh(session, article.id).version, fresh(session, article.id).status)
        created = session.scalar(select(Article.id).order_by(Article.id.desc()).limit(1)) != newest
        if role == "anonymous":
            assert response.status_code == 302 and "/console/login" in response.location, (path, role)
        elif role in WRITERS:
            assert response.status_code in {200, 302}, (path, role, response.get_data(as_text=True)[-500:])
            if "preview" not in path:
                assert after != before or created, (path, "nothing changed")
        else:
            assert response.status_code == 403, (path, role, response.status_code)
        if role not in WRITERS:
            assert after == before and not created, (path, role, "a refused action changed something")


def test_an_editor_lands_on_the_articles_and_the_nav_links_them(app, accounts) -> None:
    client = client_as(app, "editor", accounts)
    home = client.get("/console/")
    assert home.status_code == 302 and home.location.endswith("/console/articles")
    page = client.get("/console/articles").get_data(as_text=True)
    assert 'href="/console/articles">普法文章</a>' in page and "新建文章" in page
    bureau = client_as(app, "supervisor", accounts).get("/console/articles").get_data(as_text=True)
    assert "区局只读" in bureau and "新建文章" not in bureau


# ------------------------------------------------------------------------------------ the editor's walk


def test_an_editor_previews_saves_compares_restores_publishes_and_withdraws(
    app, session: Session, accounts
) -> None:
    client = client_as(app, "editor", accounts)
    # 预览: the text rendered through the sanitiser, the form kept, nothing saved
    hostile = FORM | {"body": FORM["body"] + "\n\n<script>alert(1)</script>\n\n[点我](javascript:alert(1))"}
    count = session.scalar(select(Article.id).order_by(Article.id.desc()).limit(1))
    preview = send(client, "/console/articles/preview", hostile)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200
    shown = html.split('data-testid="preview"')[1]
    assert "<h2>楼道是谁的</h2>" in shown and "<strong>共用部位</strong>" in shown
    assert "<script>alert(1)" not in shown and 'href="javascript' not in shown
    assert (
        FORM["title"] in html
        and "&lt;script&gt;alert(1)&lt;/script&gt;" in html.split('data-testid="body"')[1]
    )
    assert session.scalar(select(Article.id).order_by(Article.id.desc()).limit(1)) == count

    # 保存: a draft, version 1
    created = send(client, "/console/articles", FORM | {"slug": "corridor-clutter"})
    assert created.status_code == 302, created.get_data(as_text=True)[-800:]
    article = session.scalars(select(Article).where(Article.slug == "corridor-clutter")).one()
    assert article.status == ArticleStatus.DRAFT and article.version == 1
    page = client.get(created.location).get_data(as_text=True)
    assert "草稿" in page and "<h2>楼道是谁的</h2>" in page and "《上海市住宅物业管理规定》第五十八条" in page
    assert "{# push #}" not in page  # the pushing form's place is a template comment

    edit = client.get(f"/console/articles/{article.id}/edit").get_data(as_text=True)
    assert 'name="base_version" value="1"' in edit and "楼道，杂物" in edit
    changed = FORM | {
        "body": FORM["body"].replace("再找物业", "再找物业，物业不管就反映"),
        "base_version": "1",
    }
    saved = send(client, f"/console/articles/{article.id}", changed | {"note": "补充反映渠道"})
    assert saved.status_code == 302
    unchanged = send(
        client, f"/console/articles/{article.id}", changed | {"base_version": "2"}, follow_redirects=True
    )
    assert "内容没有变化，未生成新版本" in unchanged.get_data(as_text=True)
    assert fresh(session, article.id).version == 2

    versions = client.get(f"/console/articles/{article.id}/versions?a=1&b=2").get_data(as_text=True)
    assert "补充反映渠道" in versions
    diff = versions.split('data-testid="comparison"')[1]
    assert '<span class="removed">- - 再找物业</span>' in diff
    assert '<span class="added">+ - 再找物业，物业不管就反映</span>' in diff

    restored = send(client, f"/console/articles/{article.id}/versions/1/restore", follow_redirects=True)
    assert "已恢复第 1 版，保存为第 3 版" in restored.get_data(as_text=True)
    assert "物业不管就反映" not in fresh(session, article.id).body

    published = send(client, f"/console/articles/{article.id}/publish", follow_redirects=True)
    assert "已发布第 3 版" in published.get_data(as_text=True)
    assert fresh(session, article.id).status == ArticleStatus.PUBLISHED

    refused = send(client, f"/console/articles/{article.id}/withdraw", {"reason": ""})
    assert refused.status_code == 400 and "请填写撤回原因" in refused.get_data(as_text=True)
    withdrawn = send(
        client, f"/console/articles/{article.id}/withdraw", {"reason": "条文待核对"}, follow_redirects=True
    )
    text = withdrawn.get_data(as_text=True)
    assert "已撤回" in text and "条文待核对" in text
    record = re.findall(r'data-event="(\w+)"', text)
    assert record == ["create", "save", "restore", "publish", "withdraw"]


def test_a_refused_form_keeps_what_was_typed_with_the_reason_beside_the_field(
    app, session: Session, accounts
) -> None:
    client = client_as(app, "editor", accounts)
    typed = FORM | {"legal_basis": "《上海市养蜂条例》第三条", "title": "我写了很久的标题"}
    response = send(client, "/console/articles", typed)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'data-testid="refused"' in html
    assert "法规目录中没有《上海市养蜂条例》" in html.split('name="legal_basis"')[1].split("</label>")[0]
    assert 'value="我写了很久的标题"' in html and "《上海市养蜂条例》第三条</textarea>" in html
    assert 'value="common_area_occupation" checked' in html
    # the preview says the same without saving, and keeps the text too
    preview = send(client, "/console/articles/preview", typed).get_data(as_text=True)
    assert "法规目录中没有《上海市养蜂条例》" in preview and 'value="我写了很久的标题"' in preview
    # a field the form itself refuses (too long to be a title) is said beside it too, the text kept
    long = send(client, "/console/articles/preview", FORM | {"title": "长" * 129}).get_data(as_text=True)
    assert "最多 128 个字符" in long.split('name="title"')[1].split("</label>")[0]
    assert "楼道是谁的" in long.split('data-testid="body"')[1] and "<h2>楼道是谁的</h2>" in long


def test_a_save_over_a_newer_version_is_refused_keeping_the_text(app, session: Session, accounts) -> None:
    article = an_article(session, accounts)
    client = client_as(app, "editor", accounts)
    send(client, f"/console/articles/{article.id}", FORM | {"base_version": "1", "summary": "别人先保存"})
    mine = FORM | {"base_version": "1", "summary": "我的修改"}
    response = send(client, f"/console/articles/{article.id}", mine)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "已被保存为第 2 版" in html
    assert (
        "我的修改</textarea>" in html and 'name="base_version" value="2"' in html
    )  # a second 保存 is knowing
    assert fresh(session, article.id).summary == "别人先保存"
    again = send(client, f"/console/articles/{article.id}", mine | {"base_version": "2"})
    assert again.status_code == 302 and fresh(session, article.id).summary == "我的修改"


def test_an_image_and_a_cover_go_through_the_upload_pipeline(app, session: Session, accounts) -> None:
    article = an_article(session, accounts, body="开头\n\n[[图片]]\n\n结尾")
    client = client_as(app, "editor", accounts)
    form = FORM | {"body": "开头\n\n[[图片]]\n\n结尾", "image_alt": "楼道现场", "base_version": "1"}
    files = {
        "image": (io.BytesIO(png_bytes("blue")), "a.png"),
        "cover": (io.BytesIO(png_bytes("red")), "c.png"),
    }
    response = send(
        client, f"/console/articles/{article.id}", form | files, content_type="multipart/form-data"
    )
    assert response.status_code == 302, response.get_data(as_text=True)[-800:]
    saved = fresh(session, article.id)
    match = re.search(rf"!\[楼道现场\]\({re.escape(IMAGE_PATH)}([0-9a-f]{{32}})\)", saved.body)
    assert match and saved.body.startswith("开头\n\n![楼道现场]") and saved.cover_upload_id
    image = client.get(f"/console/articles/images/{match.group(1)}")
    assert image.status_code == 200 and image.mimetype.startswith("image/")
    page = client.get(f"/console/articles/{article.id}").get_data(as_text=True)
    assert f'src="/console/articles/images/{match.group(1)}"' in page
    # not public until published
    assert app.test_client().get(f"{IMAGE_PATH}{match.group(1)}").status_code == 404
    send(client, f"/console/articles/{article.id}/publish")
    assert app.test_client().get(f"{IMAGE_PATH}{match.group(1)}").status_code == 200
    assert app.test_client().get(f"{IMAGE_PATH}{saved.cover_upload_id}").status_code == 200
    # a file that is not an image is refused beside its field
    bad = {"image": (io.BytesIO(b"not an image"), "x.png")}
    refused = send(
        client,
        f"/console/articles/{article.id}",
        form | bad | {"base_version": "2"},
        content_type="multipart/form-data",
    )
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "field-error" in html.split('name="image"')[1].split("</label>")[0]


def test_the_list_filters_by_status_category_and_title(app, session: Session, accounts) -> None:
    article = an_article(
        session, accounts, title="筛选测试：独一无二的标题", categories=["green_space_damage"]
    )
    client = client_as(app, "supervisor", accounts)
    found = client.get("/console/articles?q=独一无二&status=draft&category=green_space_damage").get_data(
        as_text=True
    )
    assert f'data-article="{article.id}"' in found
    for other in ("?q=独一无二&status=published", "?q=独一无二&category=garbage_sorting"):
        assert f'data-article="{article.id}"' not in client.get("/console/articles" + other).get_data(
            as_text=True
        )
    seeded = client.get("/console/articles?status=published").get_data(as_text=True)
    assert seeded.count('data-status="published"') >= 20


# ------------------------------------------------------------------------------------ in a real browser


@dataclass
class LiveStudio:
    url: str
    username: str
    engine: Engine


@pytest.fixture
def live_studio(app, database_url: str, tmp_path) -> Iterator[LiveStudio]:
    """The console served for real on the suite's database, with an editor of its own; what the walk commits
    is removed afterwards."""
    live = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path),
            "REDIS_URL": os.environ.get("TEST_REDIS_URL", ""),
            "CONSOLE_LOGIN_RATE": "10000 per minute",
        }
    )
    engine = live.extensions["db"].engine
    tag = uuid.uuid4().hex[:6]
    with Session(engine, info=app.extensions["db"].info) as session:
        staff = create_staff(
            session,
            username=f"b_ed_{tag}",
            display_name="工作室小陈",
            role="editor",
            password=BROWSER_PASSWORD,
        )
        session.commit()
        staff_id = staff.id
    server = make_server("127.0.0.1", 0, live, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveStudio(f"http://127.0.0.1:{server.server_port}", f"b_ed_{tag}", engine)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with engine.begin() as conn:
            ids = list(conn.scalars(select(Article.id).where(Article.slug == BROWSER_SLUG)))
            conn.execute(
                delete(AuditEntry).where(
                    or_(
                        and_(
                            AuditEntry.target_type == "article",
                            AuditEntry.target_id.in_([str(i) for i in ids]),
                        ),
                        and_(AuditEntry.actor_kind == "staff", AuditEntry.actor_id == staff_id),
                    )
                )
            )
            conn.execute(delete(ArticleEvent).where(ArticleEvent.article_id.in_(ids)))
            conn.execute(delete(ArticleVersion).where(ArticleVersion.article_id.in_(ids)))
            conn.execute(delete(Article).where(Article.id.in_(ids)))
            conn.execute(delete(StaffUser).where(StaffUser.id == staff_id))
        engine.dispose()


BROWSER_PASSWORD = "browser-test-password"
BROWSER_SLUG = "browser-walk-balcony-shed"


def test_an_editor_writes_previews_and_publishes_an_article_in_a_browser(
    browser, live_studio: LiveStudio, tmp_path
) -> None:
    page = browser.new_page()
    page.goto(f"{live_studio.url}/console/login")
    page.get_by_label("用户名").fill(live_studio.username)
    page.get_by_label("密码").fill(BROWSER_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()
    assert page.url.endswith("/console/articles")  # the studio's home

    page.get_by_test_id("new-article").click()
    page.wait_for_load_state()
    form = page.get_by_test_id("article-form")
    form.locator('[name="slug"]').fill(BROWSER_SLUG)
    form.locator('[name="title"]').fill("阳台外面搭铁皮棚，算违建吗？")
    form.locator('[name="summary"]').fill("在阳台外搭棚子改变了房屋外观，属于违法搭建，会被责令拆除。")
    form.locator('input[name="categories"][value="illegal_construction"]').check()
    form.locator('[name="tags"]').fill("阳台，铁皮棚")
    form.locator('[name="legal_basis"]').fill("《上海市拆除违法建筑若干规定》第十条\n《上海市养蜂条例》")
    form.get_by_test_id("body").fill(
        "## 为什么不行\n\n阳台外搭棚是**违法搭建**。\n\n<script>document.title='hacked'</script>"
    )
    form.get_by_test_id("preview-button").click()
    page.wait_for_load_state()
    preview = page.get_by_test_id("preview").locator(".article-body")
    assert preview.locator("h2").inner_text() == "为什么不行"
    assert preview.locator("strong").inner_text() == "违法搭建" and preview.locator("script").count() == 0
    assert page.title() != "hacked"
    assert "法规目录中没有《上海市养蜂条例》" in page.content()  # what a save would refuse, said beside it
    form = page.get_by_test_id("article-form")
    assert form.locator('[name="title"]').input_value() == "阳台外面搭铁皮棚，算违建吗？"
    form.locator('[name="legal_basis"]').fill("《上海市拆除违法建筑若干规定》第十条")
    page.screenshot(path=str(tmp_path / "article-preview.png"), full_page=True)

    form.get_by_test_id("save-button").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "草稿", page.content()[:800]
    page.get_by_test_id("publish").get_by_role("button", name="发布").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("status").inner_text() == "已发布"
    assert "已发布第 1 版" in page.content()

    resident = browser.new_page()  # a resident's view of it: the mini-program's API, without logging in
    resident.goto(f"{live_studio.url}/api/mp/v1/articles/{BROWSER_SLUG}")
    article = json.loads(resident.locator("body").inner_text())
    assert (
        article["title"] == "阳台外面搭铁皮棚，算违建吗？" and "<strong>违法搭建</strong>" in article["html"]
    )
    assert article["legal_basis"] == [{"law": "上海市拆除违法建筑若干规定", "article": "第十条"}]
