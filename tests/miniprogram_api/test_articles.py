"""Articles in the mini-program over HTTP: anyone reads them without logging in, only published ones are ever
answered (a draft or a withdrawn article is 404), lists by category and tag, ranked and highlighted search,
detail with sanitised HTML, related articles, public images, and the related articles of a filed report."""

from __future__ import annotations

import datetime as dt
import io
from html.parser import HTMLParser

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from backend.articles.models import Article
from backend.articles.rendering import ALLOWED_TAGS, IMAGE_PATH
from backend.articles.services.checks import ArticleInput, Citation, load_rules
from backend.articles.services.writing import create_article, publish_article, withdraw_article
from backend.cases.workflow import Actor
from backend.staff.services import create_staff, staff_actor
from backend.uploads.services import store_upload
from tests.support.bot import CONTENT
from tests.support.mp_api import API, auth, png_bytes, valid_report

RULES = load_rules(CONTENT)
NOW = dt.datetime.now(dt.UTC)


@pytest.fixture
def editor(session: Session) -> Actor:
    staff = create_staff(
        session, username="t_mp_editor", display_name="编辑", role="editor", password="x" * 12
    )
    session.flush()
    return staff_actor(staff)


def an_article(session: Session, editor: Actor, *, publish: bool = True, **overrides: object) -> Article:
    fields: dict = {
        "title": "蜂箱放楼顶，邻居能管吗",
        "summary": "楼顶平台是共用部位，放蜂箱要先问物业。",
        "body": "## 楼顶平台\n\n楼顶是**共用部位**。\n\n<script>alert(1)</script>",
        "categories": ["common_area_occupation"],
        "tags": ["蜂箱测试"],
        "legal_basis": [Citation("上海市住宅物业管理规定", "第五十八条")],
    }
    article = create_article(session, editor, ArticleInput(**(fields | overrides)), RULES, now=NOW)
    if publish:
        publish_article(session, editor, article.id, RULES, now=NOW)
    session.commit()
    return article


class Tags(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, dict(attrs)))


def test_anyone_reads_articles_without_logging_in(
    client: FlaskClient, session: Session, editor: Actor
) -> None:
    article = an_article(session, editor)
    for path in (
        "/articles",
        "/articles?category=common_area_occupation",
        "/articles/search?q=蜂箱",
        "/articles/related?category=common_area_occupation",
        f"/articles/{article.slug}",
    ):
        response = client.get(API + path)
        assert response.status_code == 200, (path, response.get_json())


def test_the_list_is_published_articles_by_category_and_tag_paginated(
    client: FlaskClient, session: Session, editor: Actor
) -> None:
    shown = [an_article(session, editor, title=f"标签文章{i}") for i in range(3)]
    an_article(session, editor, publish=False, title="草稿不出现")
    withdrawn = an_article(session, editor, title="撤回的不出现")
    withdraw_article(session, editor, withdrawn.id, "过时", now=NOW)
    session.commit()
    body = client.get(API + "/articles", query_string={"tag": "蜂箱测试", "per_page": 2}).get_json()
    assert body["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    second = client.get(
        API + "/articles", query_string={"tag": "蜂箱测试", "per_page": 2, "page": 2}
    ).get_json()
    slugs = [a["slug"] for a in body["data"] + second["data"]]
    assert sorted(slugs) == sorted(a.slug for a in shown)
    card = body["data"][0]
    [category] = card["categories"]
    assert category["code"] == "common_area_occupation" and "共用部位" in category["name"]
    assert card["cover_url"] is None and card["tags"] == ["蜂箱测试"]
    everything = client.get(API + "/articles", query_string={"per_page": 100}).get_json()
    assert everything["pagination"]["total"] >= 20  # the repository's articles, seeded
    garbage = client.get(API + "/articles", query_string={"category": "garbage_sorting"}).get_json()
    assert garbage["data"] and all(
        "garbage_sorting" in [c["code"] for c in a["categories"]] for a in garbage["data"]
    )
    wrong = client.get(API + "/articles", query_string={"category": "noise"})
    assert wrong.status_code == 400 and wrong.get_json()["errors"][0]["field"] == "category"


def test_the_detail_is_sanitised_html_with_its_basis_and_related_articles(
    client: FlaskClient, session: Session, editor: Actor, app
) -> None:
    upload = store_upload(session, app.extensions["storage"], None, png_bytes())
    article = an_article(
        session,
        editor,
        body=f"## 楼顶平台\n\n![现场]({IMAGE_PATH}{upload.id})\n\n<script>alert(1)</script>\n\n[x](javascript:alert(1))",
        cover_upload_id=upload.id,
    )
    body = client.get(f"{API}/articles/{article.slug}").get_json()
    assert body["title"] == article.title and body["audience"] == "居民" and body["version"] == 1
    assert body["legal_basis"] == [{"law": "上海市住宅物业管理规定", "article": "第五十八条"}]
    assert "<h2>楼顶平台</h2>" in body["html"] and "<script>" not in body["html"]
    for tag, attrs in Tags(body["html"]).tags:
        assert tag in ALLOWED_TAGS and not any(name.startswith("on") or name == "style" for name in attrs)
        assert tag != "a" or "href" not in attrs
    image = f"http://localhost{IMAGE_PATH}{upload.id}"
    assert f'<img src="{image}" alt="现场">' in body["html"] and body["cover_url"] == image
    assert client.get(image).status_code == 200
    assert body["related"] and all(
        "common_area_occupation" in [c["code"] for c in r["categories"]] for r in body["related"]
    )
    assert article.slug not in [r["slug"] for r in body["related"]] and len(body["related"]) <= 3


def test_a_draft_or_withdrawn_article_and_its_images_are_not_found(
    client: FlaskClient, session: Session, editor: Actor, app
) -> None:
    upload = store_upload(session, app.extensions["storage"], None, png_bytes("blue"))
    draft = an_article(session, editor, publish=False, body=f"![x]({IMAGE_PATH}{upload.id})")
    response = client.get(f"{API}/articles/{draft.slug}")
    assert response.status_code == 404 and response.get_json()["code"] == "article_not_found"
    assert client.get(f"{API}/articles/images/{upload.id}").status_code == 404
    publish_article(session, editor, draft.id, RULES, now=NOW)
    session.commit()
    assert client.get(f"{API}/articles/{draft.slug}").status_code == 200
    assert client.get(f"{API}/articles/images/{upload.id}").status_code == 200
    withdraw_article(session, editor, draft.id, "撤回", now=NOW)
    session.commit()
    assert client.get(f"{API}/articles/{draft.slug}").status_code == 404
    assert client.get(f"{API}/articles/images/{upload.id}").status_code == 404
    found = client.get(API + "/articles/search", query_string={"q": draft.title}).get_json()["data"]
    assert draft.slug not in [hit["slug"] for hit in found]
    assert client.get(f"{API}/articles/Not_A_Slug").status_code == 400


def test_a_residents_own_photo_is_never_served_as_an_article_image(
    client: FlaskClient, session: Session, resident
) -> None:
    _user, token = resident
    photo = client.post(
        API + "/uploads", data={"file": (io.BytesIO(png_bytes()), "x.png")}, headers=auth(token)
    ).get_json()["id"]
    assert client.get(f"{API}/articles/images/{photo}").status_code == 404


def test_search_is_ranked_and_highlighted(client: FlaskClient, session: Session, editor: Actor) -> None:
    in_title = an_article(session, editor, title="养蜂人在楼顶放蜂箱，违法吗")
    in_body = an_article(session, editor, title="一件小区里的事", body="楼顶平台上有人养蜂，放了三个蜂箱。")
    body = client.get(API + "/articles/search", query_string={"q": "楼顶放蜂箱违法吗？"}).get_json()
    assert "蜂箱" in body["words"] and "楼顶" in body["words"]
    slugs = [hit["slug"] for hit in body["data"]]
    assert slugs.index(in_title.slug) < slugs.index(in_body.slug)
    hit = body["data"][slugs.index(in_title.slug)]
    assert "<em>蜂箱</em>" in hit["title_html"] and "<em>楼顶</em>" in hit["title_html"]
    assert [t for t, _ in Tags(hit["title_html"] + hit["excerpt_html"]).tags] == ["em"] * (
        hit["title_html"].count("<em>") + hit["excerpt_html"].count("<em>")
    )
    scores = [h["score"] for h in body["data"]]
    assert scores == sorted(scores, reverse=True)
    assert client.get(API + "/articles/search").status_code == 400
    long = client.get(API + "/articles/search", query_string={"q": "长" * 51})
    assert long.status_code == 400 and long.get_json()["errors"][0]["field"] == "q"


def test_related_articles_for_a_category(client: FlaskClient, session: Session, editor: Actor) -> None:
    body = client.get(API + "/articles/related", query_string={"category": "group_rental"}).get_json()
    assert 1 <= len(body["data"]) <= 3
    assert all("group_rental" in [c["code"] for c in a["categories"]] for a in body["data"])
    five = client.get(
        API + "/articles/related", query_string={"category": "group_rental", "limit": 5}
    ).get_json()
    assert len(five["data"]) >= len(body["data"])
    assert client.get(API + "/articles/related").status_code == 400


def test_a_filed_report_answers_with_related_articles(
    client: FlaskClient, session: Session, resident, editor: Actor
) -> None:
    _user, token = resident
    response = client.post(API + "/reports", json=valid_report(session), headers=auth(token))
    assert response.status_code == 201
    related = response.get_json()["related_articles"]
    assert 1 <= len(related) <= 3
    assert set(related[0]) == {"slug", "title", "summary"}
    for ref in related:
        detail = client.get(f"{API}/articles/{ref['slug']}").get_json()
        assert "illegal_construction" in [c["code"] for c in detail["categories"]]
    # reading the report back does not repeat them
    again = client.get(f"{API}/reports/{response.get_json()['tracking_no']}", headers=auth(token)).get_json()
    assert again["related_articles"] == []
