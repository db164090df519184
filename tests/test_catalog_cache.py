"""The catalog kept per process (backend/cache.py): every way of writing categories, estates, towns, squads and
property companies is seen by the next read of GET /categories and GET /estates, in this process and in another;
the estate search answers exactly what the query it replaced answered; and a read while nothing changed reads
no catalog table."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Connection, Select, delete, event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from backend import cache
from backend.cases.services.filing import ReportInput, submit_report
from backend.config import PROJECT_ROOT, Config
from backend.db import create_db_engine
from backend.org.models import Estate, EstateAlias, PropertyCompany, Squad, Town
from backend.org.services import TownSeed, estate_index, find_town, import_estates, seed_towns
from backend.seed import load_toml
from backend.taxonomy.models import Category, CategoryGroup, CategoryKeyword, LegalBasis
from backend.taxonomy.services import TaxonomySeed, category_keywords, seed_taxonomy
from tests.support.accounts import make_resident
from tests.support.shared_data import shared_file
from tests.support.statements import Sent

CATALOG_TABLES = re.compile(
    r"\b(category|category_group|legal_basis|category_keyword|estate|estate_alias|town|squad|property_company)\b"
)


def estates(client: FlaskClient, **params: object) -> dict:
    response = client.get("/api/mp/v1/estates", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def categories(client: FlaskClient) -> dict[str, dict]:
    response = client.get("/api/mp/v1/categories")
    assert response.status_code == 200
    return {c["code"]: c for c in response.get_json()["data"]}


def rows(text_: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text_)))


def content_dir(app) -> Path:
    return app.config["QINGPU"].content_dir


@pytest.fixture
def statements(connection: Connection) -> Iterator[list[str]]:
    """Every statement sent on the test's connection from now on."""
    sent: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        sent.append(statement)

    event.listen(connection, "before_cursor_execute", record)
    yield sent
    event.remove(connection, "before_cursor_execute", record)


# -- reading once -------------------------------------------------------------------------------------------


def test_a_read_while_nothing_changed_reads_no_catalog_table(
    client: FlaskClient, statements, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(cache, "_clock", clock)
    monkeypatch.setattr(cache, "CHECK_SECONDS", Config.CACHE_CHECK_SECONDS)
    first_categories = client.get("/api/mp/v1/categories").get_data()
    first_estates = estates(client, q="花园", town="徐泾")
    statements.clear()
    # within CACHE_CHECK_SECONDS of the last read of the versions: no statement at all
    assert client.get("/api/mp/v1/categories").get_data() == first_categories
    assert estates(client, q="花园", town="徐泾") == first_estates
    assert statements == []
    # after it: the two versions, and nothing else
    clock.advance(cache.CHECK_SECONDS)
    assert client.get("/api/mp/v1/categories").get_data() == first_categories
    assert estates(client, q="花园", town="徐泾") == first_estates
    read = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(read) == 2 and all("cache_version" in s for s in read), statements
    assert not [s for s in statements if CATALOG_TABLES.search(s)]


def test_an_answer_names_its_version_and_an_unchanged_one_is_a_304(client: FlaskClient, session) -> None:
    first_tags = {}
    for path in ("/api/mp/v1/categories", "/api/mp/v1/estates?q=康虹", "/api/mp/v1/towns"):
        first = client.get(path)
        etag = first_tags[path] = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "no-cache"
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b""
    category = session.get_one(Category, "garbage_sorting")
    category.description = "垃圾分类，说法改过了"
    estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
    estate.address = "改过的地址"
    session.commit()
    etags = {}
    for path in ("/api/mp/v1/categories", "/api/mp/v1/estates?q=康虹"):
        changed = client.get(path, headers={"If-None-Match": first_tags[path]})
        assert changed.status_code == 200 and changed.headers["ETag"] != first_tags[path]
        etags[path] = changed.headers["ETag"]
        listed = client.get(path, headers={"If-None-Match": f'"not-it", {etags[path]}'})
        assert listed.status_code == 304


# -- every writer -------------------------------------------------------------------------------------------


def test_the_seed_changes_what_the_catalog_shows(app, client: FlaskClient, session: Session) -> None:
    categories(client), estates(client)  # held by this process now
    taxonomy = load_toml(content_dir(app) / "taxonomy.toml")
    for c in taxonomy["categories"]:
        if c["code"] == "garbage_sorting":
            c["name"] = "生活垃圾分类"
            c["legal_basis"] = [{"regulation": "上海市生活垃圾管理条例", "article": "第五十七条"}]
            c["keywords"] = [*c.get("keywords", []), "厨余乱倒"]
    assert seed_taxonomy(session, TaxonomySeed.model_validate(taxonomy)) > 0
    org = load_toml(content_dir(app) / "org.toml")
    for t in org["towns"]:
        if t["code"] == "xujing":
            t["name"], t["squad"] = "徐泾新镇", "徐泾新中队"
    assert seed_towns(session, [TownSeed.model_validate(t) for t in org["towns"]]) > 0
    session.commit()

    garbage = categories(client)["garbage_sorting"]
    assert garbage["name"] == "生活垃圾分类"
    assert garbage["legal_basis"] == [
        {"regulation": "上海市生活垃圾管理条例", "article": "第五十七条", "summary": ""}
    ]
    assert ("garbage_sorting", "厨余乱倒") in category_keywords(session)
    found = estates(client, q="康虹花园", town="徐泾新镇")["data"]
    assert found and found[0]["town"] == {"code": "xujing", "name": "徐泾新镇"}
    assert client.get("/api/mp/v1/estates", query_string={"town": "徐泾镇"}).status_code == 400


def test_a_squad_renamed_is_seen_in_the_towns(client: FlaskClient, session: Session) -> None:
    def xujing() -> dict:
        response = client.get("/api/mp/v1/towns")
        assert response.status_code == 200
        return next(t for t in response.get_json()["data"] if t["code"] == "xujing")

    assert xujing()["squad"]["name"] == "徐泾中队"
    session.scalar(select(Squad).where(Squad.code == "xujing")).name = "徐泾第一中队"
    session.commit()
    assert xujing()["squad"] == {"code": "xujing", "name": "徐泾第一中队"}


def test_the_estate_import_command_is_seen_at_once(cli_runner, client: FlaskClient, tmp_path: Path) -> None:
    assert estates(client, q="新导入苑")["data"] == []
    csv_file = tmp_path / "estates.csv"
    csv_file.write_text(
        "estate,street_or_town,address,aliases,property_company\n"
        "新导入苑,白鹤镇,白鹤镇鹤祥路1号,导入苑|新导入,导入物业有限公司\n"
        "康虹花园,徐泾镇,,康虹小区,\n",
        encoding="utf-8",
    )
    result = cli_runner.invoke(args=["estates", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    [made] = estates(client, q="新导入苑")["data"]
    assert made["aliases"] == ["导入苑", "新导入"] and made["address"] == "白鹤镇鹤祥路1号"
    assert made["property_company"] == {"name": "导入物业有限公司"}
    assert [e["name"] for e in estates(client, q="康虹小区")["data"]] == ["康虹花园"]  # an alias added


def test_orm_writes_of_every_table_are_seen(client: FlaskClient, session: Session) -> None:
    """Each table either set is built from, changed through the ORM in a request's transaction."""
    categories(client), estates(client)
    estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
    company = PropertyCompany(name="表内物业")
    session.add(company)
    estate.property_company = company
    estate.aliases.append(EstateAlias(alias="康虹别名"))
    session.commit()
    assert estates(client, q="康虹别名")["data"][0]["property_company"] == {"name": "表内物业"}
    company.name = "改名物业"
    session.commit()
    assert estates(client, q="康虹别名")["data"][0]["property_company"] == {"name": "改名物业"}
    session.scalar(select(Town).where(Town.code == "xujing")).name = "徐泾改名镇"
    session.commit()
    assert estates(client, q="康虹别名")["data"][0]["town"]["name"] == "徐泾改名镇"
    session.delete(session.scalar(select(EstateAlias).where(EstateAlias.alias == "康虹别名")))
    session.commit()
    assert estates(client, q="康虹别名")["data"] == []

    session.get_one(CategoryGroup, "housing_safety").name = "房屋安全（改）"
    session.commit()
    assert categories(client)["illegal_construction"]["group"]["name"] == "房屋安全（改）"
    basis = session.scalar(select(LegalBasis).where(LegalBasis.category_code == "illegal_construction"))
    basis.article = "第八条"
    session.commit()
    assert categories(client)["illegal_construction"]["legal_basis"][0]["article"] == "第八条"
    session.add(CategoryKeyword(category_code="green_space_damage", keyword="绿地里种菜了"))
    session.commit()
    assert ("green_space_damage", "绿地里种菜了") in category_keywords(session)


def test_bulk_and_text_statements_are_seen(client: FlaskClient, session: Session, connection) -> None:
    """Statements that bypass the ORM's unit of work: ORM and Core bulk statements, text(), driver SQL."""
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))

    def address() -> str:
        return estates(client, q="康虹花园")["data"][0]["address"]

    estates(client)
    session.execute(update(Estate).where(Estate.id == estate_id).values(address="甲"))
    session.commit()
    assert address() == "甲"
    connection.execute(update(Estate.__table__).where(Estate.id == estate_id).values(address="乙"))
    assert address() == "乙"
    connection.execute(text("UPDATE estate SET address = :a WHERE id = :i"), {"a": "丙", "i": estate_id})
    assert address() == "丙"
    placeholder = "?" if connection.dialect.name == "sqlite" else "%s"
    connection.exec_driver_sql(
        f"UPDATE `estate` SET address = {placeholder} WHERE id = {placeholder}", ("丁", estate_id)
    )
    assert address() == "丁"
    connection.execute(insert(EstateAlias).values(estate_id=estate_id, alias="批量别名"))
    assert "批量别名" in estates(client, q="批量别名")["data"][0]["aliases"]
    connection.execute(delete(EstateAlias).where(EstateAlias.alias == "批量别名"))
    assert estates(client, q="批量别名")["data"] == []

    categories(client)
    connection.execute(text("update category set name = '改过的名字' where code = 'agency_violation'"))
    assert categories(client)["agency_violation"]["name"] == "改过的名字"


def test_a_change_rolled_back_is_not_seen_afterwards(client: FlaskClient, session: Session) -> None:
    before = estates(client, q="康虹花园")["data"][0]["address"]
    with session.begin_nested() as savepoint:
        estate = session.scalar(select(Estate).where(Estate.name == "康虹花园"))
        estate.address = "从未发生"
        assert estate_index(session).search("康虹花园", None, 1, 20).items[0].address == "从未发生"
        savepoint.rollback()
    assert estates(client, q="康虹花园")["data"][0]["address"] == before


def test_writes_elsewhere_keep_the_catalog_as_it_is(client: FlaskClient, session: Session) -> None:
    """A report (with its timeline, counter and audit rows) changes no catalog table: nothing is rebuilt."""
    estates(client), categories(client)
    held = {name: cache.version(session, name) for name in (cache.CATEGORIES, cache.ESTATES)}
    user, _ = make_resident(session, "catalog-reader")
    estate_id = session.scalar(select(Estate.id).where(Estate.name == "康虹花园"))
    report = ReportInput(
        description="楼顶有人在搭建阳光房，已经搭了一半", category="illegal_construction", estate_id=estate_id
    )
    submit_report(session, user, report)
    session.commit()
    assert {name: cache.version(session, name) for name in held} == held


@pytest.mark.parametrize(
    ("statement", "sets"),
    [
        (insert(Estate), ("estates",)),
        (update(Town).values(name="x"), ("estates",)),
        (delete(Squad), ("estates",)),
        (update(PropertyCompany.__table__).values(name="x"), ("estates",)),
        (insert(CategoryKeyword), ("categories",)),
        (delete(LegalBasis.__table__), ("categories",)),
        (select(Estate), ()),
        (text("UPDATE estate SET address = ''"), ("estates",)),
        ("insert into `qingpu`.`estate_alias` (estate_id, alias) values (1, 'a')", ("estates",)),
        ("DELETE FROM \"category\" WHERE code = 'x'", ("categories",)),
        ("INSERT IGNORE INTO town VALUES (1)", ("estates",)),
        ("INSERT OR REPLACE INTO category_group VALUES ('a', 'b', 0)", ("categories",)),
        ("REPLACE INTO property_company (id) VALUES (1)", ("estates",)),
        ("TRUNCATE TABLE category_keyword", ("categories",)),
        ("  update\n legal_basis set summary = ''", ("categories",)),
        ("INSERT INTO estate_management (estate_id) VALUES (1)", ()),  # a table whose name begins alike
        ("UPDATE resident_estate SET estate_id = 1", ()),
        ("SELECT * FROM estate", ()),
        (text("SELECT 1"), ()),
    ],
)
def test_which_statements_announce_a_change(statement: object, sets: tuple[str, ...]) -> None:
    assert cache.sets_written_by(statement) == sets


class Clock:
    """backend.cache's clock, moved by hand; it starts past every deadline an earlier test left."""

    def __init__(self) -> None:
        self.now = time.monotonic() + 3600

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def test_a_change_committed_by_another_process_is_seen_within_the_check_interval(
    app, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (its own interpreter, engine and memory) commits a change; this process, holding the
    catalog already, goes on answering from it, without a query, until CACHE_CHECK_SECONDS have passed since
    it last read the version, and sees the change at its first read after."""
    clock = Clock()
    monkeypatch.setattr(cache, "_clock", clock)
    monkeypatch.setattr(cache, "CHECK_SECONDS", Config.CACHE_CHECK_SECONDS)  # the default, 1 s
    client = app.test_client()
    address = estates(client, q="康虹花园")["data"][0]["address"]
    garbage = categories(client)["garbage_sorting"]["name"]
    script = (
        "import sys\n"
        "from sqlalchemy import update\n"
        "from backend.db import create_db_engine\n"
        "from backend.org.models import Estate\n"
        "from backend.taxonomy.models import Category\n"
        "engine = create_db_engine(sys.argv[1])\n"
        "with engine.begin() as conn:\n"
        "    conn.execute(update(Estate).where(Estate.name == '康虹花园').values(address=sys.argv[2]))\n"
        "    conn.execute(update(Category).where(Category.code == 'garbage_sorting').values(name=sys.argv[3]))\n"
    )

    def other_process(new_address: str, new_name: str) -> None:
        subprocess.run(
            [sys.executable, "-c", script, database_url, new_address, new_name],
            cwd=PROJECT_ROOT,
            check=True,
            timeout=60,
        )

    other_process("另一进程写的地址", "另一进程写的名字")
    try:
        clock.advance(cache.CHECK_SECONDS - 0.01)
        with count_statements(app) as sent:
            assert estates(client, q="康虹花园")["data"][0]["address"] == address
            assert categories(client)["garbage_sorting"]["name"] == garbage
        assert sent == []  # neither the version nor the data was read
        clock.advance(0.01)
        assert estates(client, q="康虹花园")["data"][0]["address"] == "另一进程写的地址"
        assert categories(client)["garbage_sorting"]["name"] == "另一进程写的名字"
    finally:
        other_process(address, garbage)
    clock.advance(cache.CHECK_SECONDS)
    assert estates(client, q="康虹花园")["data"][0]["address"] == address
    assert categories(client)["garbage_sorting"]["name"] == garbage


@contextmanager
def count_statements(app) -> Iterator[list[str]]:
    """What the app's engine sends inside the block (the app commits for real here: no test connection)."""
    record = Sent()
    engine = app.extensions["db"].engine
    event.listen(engine, "before_cursor_execute", record)
    record.start()
    try:
        yield record.statements
    finally:
        record.stop()
        event.remove(engine, "before_cursor_execute", record)


def test_a_change_this_process_commits_is_seen_at_once_and_ends_the_trust(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change committed through this process (any of its engines, any of its threads) is seen by its next
    read, without waiting out CACHE_CHECK_SECONDS, and so is a rollback of it."""
    clock = Clock()
    monkeypatch.setattr(cache, "_clock", clock)
    monkeypatch.setattr(cache, "CHECK_SECONDS", Config.CACHE_CHECK_SECONDS)
    client = app.test_client()

    def read_in_another_thread() -> str:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(lambda: categories(app.test_client())["garbage_sorting"]["name"]).result()

    before = read_in_another_thread()
    with app.app_context(), app.extensions["db"].sessionmaker() as session:
        session.execute(
            update(Category).where(Category.code == "garbage_sorting").values(name="本进程改的名字")
        )
        session.commit()
    try:
        assert read_in_another_thread() == "本进程改的名字"
        assert categories(client)["garbage_sorting"]["name"] == "本进程改的名字"
        with app.app_context(), app.extensions["db"].sessionmaker() as session:
            session.execute(
                update(Category).where(Category.code == "garbage_sorting").values(name="撤销的名字")
            )
            # inside the changing transaction, its own change
            assert cache.current_version(session, cache.CATEGORIES) == session.scalar(
                select(cache.CacheVersion.version).where(cache.CacheVersion.name == cache.CATEGORIES)
            )
            session.rollback()
        assert categories(client)["garbage_sorting"]["name"] == "本进程改的名字"
    finally:
        with app.app_context(), app.extensions["db"].sessionmaker() as session:
            session.execute(update(Category).where(Category.code == "garbage_sorting").values(name=before))
            session.commit()
    assert categories(client)["garbage_sorting"]["name"] == before


def test_a_change_committed_through_another_engine_is_seen(app, database_url: str) -> None:
    client = app.test_client()
    before = estates(client, q="康虹花园")["data"][0]["is_key"]
    other = create_db_engine(database_url)
    try:
        with other.begin() as conn:
            conn.execute(text("UPDATE estate SET is_key = :k WHERE name = '康虹花园'"), {"k": not before})
        assert estates(client, q="康虹花园")["data"][0]["is_key"] is (not before)
    finally:
        with other.begin() as conn:
            conn.execute(text("UPDATE estate SET is_key = :k WHERE name = '康虹花园'"), {"k": before})
        other.dispose()
    assert estates(client, q="康虹花园")["data"][0]["is_key"] is before


# -- the keyword guess's words ------------------------------------------------------------------------------


def test_category_keywords_are_every_pair_in_the_categories_order(session: Session) -> None:
    pairs = category_keywords(session)
    stored = session.execute(
        select(CategoryKeyword.category_code, CategoryKeyword.keyword)
        .join(Category)
        .order_by(Category.position, CategoryKeyword.keyword)
    ).all()
    assert sorted(pairs) == sorted(tuple(r) for r in stored) and pairs
    positions = dict(session.execute(select(Category.code, Category.position)).all())
    order = [positions[code] for code, _ in pairs]
    assert order == sorted(order)
    assert category_keywords(session) is pairs  # kept, not read again


# -- the same answers as the query it replaced -----------------------------------------------------------------


def query_search(session: Session, q: str, town: Town | None) -> list[int]:
    """The SQL of the estate search before it was kept in memory (every match, in its order)."""
    query: Select = select(Estate.id)
    q = q.strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        alias_match = select(EstateAlias.id).where(
            EstateAlias.estate_id == Estate.id, EstateAlias.alias.like(pattern, escape="\\")
        )
        query = query.where(
            or_(
                Estate.name.like(pattern, escape="\\"),
                Estate.address.like(pattern, escape="\\"),
                alias_match.exists(),
            )
        )
    if town is not None:
        query = query.where(Estate.town_id == town.id)
    ordering = (
        [Estate.name != q, func.length(Estate.name), Estate.name, Estate.id]
        if q
        else [Estate.name, Estate.id]
    )
    return list(session.scalars(query.order_by(*ordering)))


ODD_ESTATES = (
    "estate,street_or_town,address,aliases\n"
    "康虹花园二期,徐泾镇,徐泾镇康虹路2号,\n"
    "康虹花园,华新镇,华新镇华志路100弄,\n"
    "A区花园,徐泾镇,,\n"
    "花园A区,华新镇,,a区\n"
    "50%公寓,白鹤镇,,百分之五十\n"
    "花_园,白鹤镇,,\n"
    "翠湖天地,徐泾镇,,康虹|翠湖\n"
    "Lakeside花园,赵巷镇,赵巷镇 lakeside 路,\n"
)
QUERIES = [
    "",
    "花园",
    "康虹",
    "康虹花园",
    "园",
    "a区",
    "A区",
    "%",
    "_",
    "华志路",
    "翠湖",
    "100",
    "lake",
    "无此",
]


@pytest.mark.parametrize("town_name", [None, "徐泾镇", "华新镇"])
def test_the_search_answers_as_the_query_did(session: Session, town_name: str | None) -> None:
    import_estates(session, rows(ODD_ESTATES))
    session.flush()
    town = find_town(session, town_name) if town_name else None
    index = estate_index(session)
    for q in QUERIES:
        expected = query_search(session, q, town)
        kept = index.search(q, town.id if town else None, 1, 10_000)
        assert [e.id for e in kept.items] == expected, q
        assert kept.total == len(expected)
        second = index.search(q, town.id if town else None, 2, 3)
        assert [e.id for e in second.items] == expected[3:6] and second.total == len(expected)


def test_the_search_answers_as_the_query_did_on_the_shared_list(session: Session) -> None:
    with shared_file("data/qingpu_estates.csv").open(encoding="utf-8-sig", newline="") as fh:
        import_estates(session, csv.DictReader(fh))
    session.flush()
    index = estate_index(session)
    assert len(index.estates) > 500
    for q in ["花园", "苑", "新村", "路", "一期", "青浦", "华新", "小区", "1", "a", ""]:
        assert [e.id for e in index.search(q, None, 1, 10_000).items] == query_search(session, q, None), q


def test_an_exact_name_comes_first_whatever_its_case_or_width(session: Session) -> None:
    """As MariaDB's collation compares (utf8mb4_unicode_ci): case and full width do not tell names apart."""
    import_estates(session, rows("estate,street_or_town,address\nABC花园,徐泾镇,\nABC花园一期,徐泾镇,\n"))
    session.flush()
    index = estate_index(session)
    for q in ("abc花园", "ＡＢＣ花园", "Abc花园"):
        assert [e.name for e in index.search(q, None, 1, 5).items] == ["ABC花园", "ABC花园一期"], q


def test_a_town_is_found_by_code_full_or_short_name(client: FlaskClient) -> None:
    by = {t: estates(client, town=t)["data"] for t in ("xujing", "XUJING", "徐泾镇", "徐泾")}
    assert by["xujing"] and all(found == by["xujing"] for found in by.values())
    assert estates(client, town="夏阳")["data"] == estates(client, town="夏阳街道")["data"]


def test_pages_past_the_last_are_empty_with_the_total(client: FlaskClient) -> None:
    body = estates(client, page=100_000, per_page=1)
    assert body["data"] == [] and body["pagination"]["total"] >= 7
