"""Construction in progress (上海市拆除违法建筑若干规定 第七条: 2 hours on site instead of 24), read from the text."""

from __future__ import annotations

import pytest

from bot.rules import construction_in_progress
from bot.text import normalise


@pytest.mark.parametrize(
    ("text", "in_progress"),
    [
        # going on now
        ("康虹花园8号楼有人正在楼顶加盖房子，工人现在还在施工", True),
        ("楼上正在装修，天天敲敲打打", True),
        ("隔壁在敲承重墙，声音很大", True),
        ("有人在偷偷搭建阳光房", True),
        ("顶楼业主连夜施工，吵得睡不着", True),
        ("他们连夜搭彩钢板房", True),
        ("工人在干活，机器在响", True),
        ("这几天一直在挖地下室", True),
        ("每天早上七点就开始施工", True),
        ("隔壁没有到物业登记就开工了", True),
        ("楼下天天在砸墙", True),
        ("还在继续施工", True),
        ("今天又来了一批工人在搭", True),
        ("现在正施工呢", True),
        ("阳光房搭了一半", True),
        ("阳光房还没搭好，工人每天都来", True),
        ("快建好了，请赶紧来", True),
        ("楼顶的违建越搭越大", True),
        ("电钻声从早响到晚", True),
        ("敲敲打打好几天了", True),
        ("ＡＢ楼正在搭建彩钢房！", True),  # full-width, as residents type it
        ("已经在搭了", True),
        # a long letter: last year's building, this week's work
        ("去年搭的阳光房，这几天又在加层", True),
        ("去年搭的阳光房这几天又在加层", True),
        ("业主去年在楼顶加盖了一间彩钢板房，今年又往外扩了一圈，到现在还在施工，有没有人管？", True),
        ("从上个月开始一直在施工", True),
        # finished, old or stopped
        ("阳光房已经建好了", False),
        ("已建好的阳光房", False),
        ("早就搭好了", False),
        ("这个棚子是去年搭的", False),
        ("几年前盖的房子", False),
        ("阳光房建成多年", False),
        ("这个违建存在好几年了", False),
        ("已经完工了", False),
        ("阳光房搭好了", False),
        ("昨晚连夜搭好了", False),
        ("以前装修过", False),
        ("现在没有在施工", False),
        ("不是正在施工，是已经建好了", False),
        ("已经停工了", False),
        ("已经停工/建好了", False),
        ("工地已经停了", False),
        ("他们说不搭了", False),
        ("搭到一半就停了", False),
        ("前几天还在施工，现在已经停了", False),
        ("还没开工", False),
        ("没人施工", False),
        # cannot tell, or not about building
        ("在楼顶搭了一个棚子", None),  # 在 is where, not when
        ("有人在楼顶搭了个棚子", None),
        ("正在审批", None),
        ("物业说正在处理", None),
        ("他家正在办装修手续", None),
        ("隔壁一直在敲门", None),
        ("一直没拆", None),
        ("小区里一直存在私搭乱建", None),
        ("阳台上有个阳光房", None),
        ("群租，住了十几个人", None),
        ("不清楚", None),
        ("不知道还在不在施工", None),
        ("是不是还在施工？", None),
        ("正在搭阳光房违法吗", None),
        ("现在是施工时间吗", None),
        ("城管正在拆违", None),
        ("我在浇花", None),
        ("他建议我们找物业", None),
        ("没有施工许可证", None),
        ("希望城管责令停工", None),
        ("", None),
    ],
)
def test_construction_in_progress(text: str, in_progress: bool | None) -> None:
    assert construction_in_progress(normalise(text)) is in_progress


def test_the_bot_understands_it(bot) -> None:
    assert bot.understand("康虹花园8号楼有人正在楼顶加盖房子，工人现在还在施工").in_progress is True
    assert bot.understand("楼顶的阳光房去年就搭好了").in_progress is False
    assert bot.understand("对面一套房子打了好多隔断，住了十几个人").in_progress is None
