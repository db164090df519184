"""Seeding the organisation, importing estates and finding them."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.org.models import Estate, EstateAlias, PropertyCompany, Squad, Town
from backend.org.services import find_estate, find_town, import_estates, search_estates
from backend.seed import seed_content
from backend.taxonomy.models import Category, LegalBasis
from tests.support.shared_data import shared_file

# The public list of Qingpu's estates lives beside the project (third-party data, never copied into it).
TOWNS = [
    "夏阳街道",
    "盈浦街道",
    "香花桥街道",
    "朱家角镇",
    "练塘镇",
    "金泽镇",
    "赵巷镇",
    "徐泾镇",
    "华新镇",
    "重固镇",
    "白鹤镇",
]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def snapshot(session: Session) -> list[tuple]:
    estates = session.execute(
        select(
            Estate.name, Estate.town_id, Estate.address, Estate.is_key, Estate.property_company_id
        ).order_by(Estate.id)
    ).all()
    aliases = session.execute(select(EstateAlias.estate_id, EstateAlias.alias).order_by(EstateAlias.id)).all()
    return [tuple(r) for r in estates] + [tuple(r) for r in aliases]


def test_seed_has_the_eleven_towns_with_their_squads(session: Session) -> None:
    towns = session.scalars(select(Town).order_by(Town.position)).all()
    assert [t.name for t in towns] == TOWNS
    squads = {s.town.name: s.name for s in session.scalars(select(Squad))}
    assert squads["徐泾镇"] == "徐泾中队"
    assert squads["香花桥街道"] == "香花桥中队"
    assert len(squads) == 11


def test_seed_has_the_seven_key_estates(session: Session) -> None:
    key = session.scalars(select(Estate).where(Estate.is_key).order_by(Estate.id)).all()
    assert {(e.name, e.town.name) for e in key} == {
        ("新青浦花苑", "夏阳街道"),
        ("宜达新居", "夏阳街道"),
        ("民惠佳苑一期", "香花桥街道"),
        ("徐泾北城招商悦庭", "徐泾镇"),
        ("康虹花园", "徐泾镇"),
        ("新华联雅苑", "赵巷镇"),
        ("茂政滨水雅苑", "赵巷镇"),
    }
    assert next(e for e in key if e.name == "新华联雅苑").address == "佳杰路88弄"


def test_seed_is_idempotent(app, session: Session) -> None:
    before = snapshot(session)
    categories = session.scalar(select(func.count()).select_from(LegalBasis))
    result = seed_content(session, app.config["QINGPU"].content_dir)
    assert (result.towns_changed, result.categories_changed) == (0, 0)
    assert result.key_estates.added == result.key_estates.updated == 0
    assert snapshot(session) == before
    assert session.scalar(select(func.count()).select_from(LegalBasis)) == categories
    assert session.scalar(select(func.count()).select_from(Category)) == 14


def test_find_town_by_code_full_and_short_name(session: Session) -> None:
    assert find_town(session, "xujing").name == "徐泾镇"
    assert find_town(session, "徐泾镇").code == "xujing"
    assert find_town(session, " 徐泾 ").code == "xujing"
    assert find_town(session, "夏阳").code == "xiayang"
    assert find_town(session, "浦东新区") is None
    assert find_town(session, "") is None


def test_find_estate_by_name_or_alias_within_its_town_and_never_a_guess(session: Session) -> None:
    xujing, zhaoxiang = (find_town(session, name) for name in ("徐泾镇", "赵巷镇"))
    assert xujing is not None and zhaoxiang is not None
    kanghong = find_estate(session, "康虹花园")
    assert kanghong is not None and kanghong.town is xujing
    assert find_estate(session, "康虹花园", xujing) is kanghong
    assert find_estate(session, "康虹花园", zhaoxiang) is None  # not in that town
    assert find_estate(session, "康虹") is None  # a part of a name is not a name

    session.add_all(
        [
            EstateAlias(estate=kanghong, alias="Kanghong Garden"),
            Estate(name="Kanghong Garden", town=zhaoxiang, address="某路1号"),  # another town's own name
            Estate(name="双名苑", town=xujing, address="某路2号", aliases=[EstateAlias(alias="同一名")]),
            Estate(name="双名苑二期", town=xujing, address="某路3号", aliases=[EstateAlias(alias="同一名")]),
        ]
    )
    session.flush()
    # what was just written is found at once (the estate index is rebuilt in the transaction that changed it),
    # as the database compares names: whatever the case
    named = find_estate(session, "kanghong garden")
    assert named is not None and named.town is zhaoxiang  # its own name wins over another's alias
    assert find_estate(session, "KANGHONG GARDEN", xujing) is kanghong  # in 徐泾 it is only the alias
    assert find_estate(session, "同一名") is None  # the alias of two estates names neither


def test_import_shared_list_twice_changes_nothing_the_second_time(session: Session) -> None:
    with shared_file("data/qingpu_estates.csv").open(encoding="utf-8") as fh:
        source = list(csv.DictReader(fh))
    first = import_estates(session, source)
    assert first.skipped == []
    assert first.added + first.updated + first.unchanged == len(source)
    assert first.added >= len(source) - 7
    once = snapshot(session)
    second = import_estates(session, source)
    assert (second.added, second.updated, second.skipped) == (0, 0, [])
    assert second.unchanged == len(source)
    assert snapshot(session) == once


def test_import_reports_what_it_skipped_and_why(session: Session) -> None:
    report = import_estates(
        session,
        rows(
            "estate,street_or_town,address\n"
            "测试苑,徐泾镇,测试路1弄\n"
            ",徐泾镇,无名路\n"
            "测试苑二期,浦东新区,\n"
            "测试苑三期,,\n"
            "测试苑,徐泾镇,\n"
        ),
    )
    assert report.added == 1
    assert report.skipped == [
        (3, "blank estate name"),
        (4, "unknown town '浦东新区'"),
        (5, "blank town"),
        (6, "repeats line 2 (测试苑, 徐泾镇)"),
    ]


def test_same_name_in_two_towns_is_two_estates(session: Session) -> None:
    report = import_estates(session, rows("estate,street_or_town,address\n同名苑,徐泾镇,\n同名苑,华新镇,\n"))
    assert report.added == 2
    towns = session.scalars(select(Town.name).join(Estate).where(Estate.name == "同名苑")).all()
    assert sorted(towns) == ["华新镇", "徐泾镇"]


def test_import_updates_address_aliases_and_company_but_blank_never_erases(session: Session) -> None:
    import_estates(session, rows("estate,street_or_town,address\n测试花园,赵巷镇,\n"))
    report = import_estates(
        session,
        rows(
            "estate,street_or_town,address,aliases,property_company\n"
            "测试花园,赵巷镇,测试路9弄,测花| 测试小区 |,测试物业有限公司\n"
        ),
    )
    assert report.updated == 1
    again = import_estates(
        session, rows("estate,street_or_town,address,aliases,property_company\n测试花园,赵巷,,,\n")
    )
    assert (again.updated, again.unchanged) == (0, 1)
    estate = session.scalar(select(Estate).where(Estate.name == "测试花园"))
    assert estate.address == "测试路9弄"
    assert sorted(a.alias for a in estate.aliases) == sorted(["测试小区", "测花"])
    assert estate.property_company.name == "测试物业有限公司"
    assert (
        session.scalar(
            select(func.count())
            .select_from(PropertyCompany)
            .where(PropertyCompany.name == "测试物业有限公司")
        )
        == 1
    )


def test_key_estate_keeps_its_address_when_the_list_has_none(session: Session) -> None:
    report = import_estates(session, rows("estate,street_or_town,address\n宜达新居,夏阳街道,\n"))
    assert report.unchanged == 1
    estate = session.scalar(select(Estate).where(Estate.name == "宜达新居"))
    assert (estate.address, estate.is_key) == ("盈港东路8000弄", True)


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("招商悦庭", "徐泾北城招商悦庭"),  # alias and substring of the name
        ("佳杰路", "新华联雅苑"),  # address
        ("青浦区新青浦花苑", "新青浦花苑"),  # alias only
    ],
)
def test_search_matches_name_address_and_alias(session: Session, q: str, expected: str) -> None:
    page = search_estates(session, q=q)
    assert expected in [e.name for e in page.items]


def test_search_puts_the_exact_name_first_and_filters_by_town(session: Session) -> None:
    import_estates(session, rows("estate,street_or_town,address\n康虹花园二期,徐泾镇,\n康虹花园,华新镇,\n"))
    page = search_estates(session, q="康虹花园")
    assert page.items[0].name == "康虹花园"
    xujing = find_town(session, "徐泾镇")
    only_xujing = search_estates(session, q="康虹花园", town=xujing)
    assert {e.town.name for e in only_xujing.items} == {"徐泾镇"}
    assert only_xujing.total == 2


def test_search_treats_like_wildcards_literally(session: Session) -> None:
    assert search_estates(session, q="%").total == 0
    assert search_estates(session, q="_").total == 0


def test_search_paginates(session: Session) -> None:
    import_estates(
        session,
        rows("estate,street_or_town,address\n" + "".join(f"翻页苑{i:02d},白鹤镇,\n" for i in range(25))),
    )
    first = search_estates(session, q="翻页苑", page=1, per_page=10)
    third = search_estates(session, q="翻页苑", page=3, per_page=10)
    assert (first.total, first.pages, len(first.items), len(third.items)) == (25, 3, 10, 5)
    assert not {e.id for e in first.items} & {e.id for e in third.items}
