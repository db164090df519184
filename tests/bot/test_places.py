"""Places: estates by name, alias and road address; towns; shared names as candidates; building/unit/room."""

from __future__ import annotations

import pytest

from bot.evaluate import evaluate_places, place_messages
from bot.places import chinese_numbers_to_digits
from tests.support.shared_data import shared_file

# (message, estate, street, squad, candidate estates)
PLACES = [
    ("宜达新居8号楼楼顶在搭棚", "宜达新居", "夏阳街道", "夏阳中队", []),
    ("招商悦庭有人群租", "徐泾北城招商悦庭", "徐泾镇", "徐泾中队", []),
    ("青浦区新青浦花苑有人毁绿", "新青浦花苑", "夏阳街道", "夏阳中队", []),
    ("盈港东路8000弄5号302室楼道堆物", "宜达新居", "夏阳街道", "夏阳中队", []),
    ("沪青平公路１３５８弄门口乱倒垃圾", "康虹花园", "徐泾镇", "徐泾中队", []),
    ("民惠佳苑1期有人打隔断", "民惠佳苑一期", "香花桥街道", "香花桥中队", []),
    ("青枫小区有人搭阳光房", "青枫苑", "盈浦街道", "盈浦中队", []),
    ("青枫路88弄3号有人违建", "青枫苑", "盈浦街道", "盈浦中队", []),
    ("安居新村楼道堆物", "安居新村", "夏阳街道", "夏阳中队", []),
    ("华新街665弄有人种菜", "华新街665弄", "华新镇", "华新中队", []),
    # one name, two towns: candidates and no guess
    ("阳光花园有人违建", None, None, None, ["阳光花园", "阳光花园"]),
    # ... unless the message names the town
    ("白鹤镇阳光花园有人违建", "阳光花园", "白鹤镇", "白鹤中队", []),
    ("徐泾的阳光花园有人违建", "阳光花园", "徐泾镇", "徐泾中队", []),
    # one name, two estates of one town: the town is known, the estate is asked
    ("东湖别院有人群租", None, "朱家角镇", "朱家角中队", ["东湖别院(公寓)", "东湖别院(别墅)"]),
    # a town named directly
    ("徐泾这边有人违建", None, "徐泾镇", "徐泾中队", []),
    ("夏阳街道某小区楼道堆物", None, "夏阳街道", "夏阳中队", []),
    # an estate outside Qingpu's towns is not known; nothing named → nothing found
    ("不知名小区有人违建", None, None, None, []),
    ("楼下有人违建", None, None, None, []),
    ("今天天气不错", None, None, None, []),
]


@pytest.mark.parametrize(("text", "estate", "street", "squad", "candidates"), PLACES)
def test_place(bot, text, estate, street, squad, candidates):
    u = bot.understand(text)
    assert (u.estate, u.street, u.squad) == (estate, street, squad)
    assert sorted(c["estate"] for c in u.candidates) == sorted(candidates)


def test_candidates_name_their_towns(bot):
    u = bot.understand("阳光花园有人违建")
    assert sorted(c["street"] for c in u.candidates) == ["徐泾镇", "白鹤镇"]


@pytest.mark.parametrize(
    ("text", "building", "unit", "room"),
    [
        ("8号楼3单元1502室", "8", "3", "1502"),
        ("八号楼三单元1502", "8", "3", "1502"),
        ("12幢502室", "12", None, "502"),
        ("盈港东路8000弄5号302室", "5", None, "302"),
        ("12号楼2-1502", "12", "2", "1502"),
        ("8-2-1502", "8", "2", "1502"),
        ("住在15-301", "15", None, "301"),
        ("B栋楼下", "B", None, None),
        ("二十三号楼", "23", None, None),
        ("2024-05-01有人违建", None, None, None),
        ("电话13800138000", None, None, None),
        ("楼下有人违建", None, None, None),
    ],
)
def test_building_unit_room(bot, text, building, unit, room):
    u = bot.understand(text)
    assert (u.building, u.unit, u.room) == (building, unit, room)


@pytest.mark.parametrize(
    ("text", "converted"),
    [
        ("八号楼", "8号楼"),
        ("十二单元", "12单元"),
        ("二十三号", "23号"),
        ("一百零二室", "102室"),
        ("三期", "3期"),
    ],
)
def test_chinese_numbers(text, converted):
    assert chinese_numbers_to_digits(text) == converted


def test_right_town_for_generated_messages_naming_unambiguous_estates(district_bot):
    """Messages built from the public estate list in varied phrasings: the town must be right for ≥ 95%."""
    report = evaluate_places(district_bot, shared_file("data/qingpu_estates.csv"))
    assert report.rows > 500
    assert report.town_accuracy >= 0.95, report.misses[:10]
    assert report.ambiguous_with_candidates == 1.0 or report.ambiguous_rows == 0


def test_generated_place_messages_vary(district_bot):
    unambiguous, _ = place_messages(shared_file("data/qingpu_estates.csv"), district_bot)
    openings = {text[:2] for text, _ in unambiguous}
    assert len(openings) > 20
