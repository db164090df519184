"""Intent, category, emergency and tracking-number detection on clear cases."""

from __future__ import annotations

import pytest

from bot.nlu import PROGRESS_ANSWER
from bot.rules import detect_emergency, find_tracking_no, is_greeting
from bot.text import normalise


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("你好", "greeting"),
        ("在吗？", "greeting"),
        ("谢谢你！", "greeting"),
        ("我的投诉QP20240501-0003处理得怎么样了", "progress"),
        ("上次举报的违建有进度了吗", "progress"),
        ("楼上邻居在露台搭阳光房，请城管来处理", "report"),
        ("举报：3号楼楼道里堆满了杂物", "report"),
        ("在自家露台搭阳光房违法吗？", "consult"),
        ("垃圾不分类会被罚款吗", "consult"),
        ("楼下着火了", "report"),
    ],
)
def test_intent(bot, text, intent):
    assert bot.understand(text).intent == intent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("隔壁在楼顶加盖了一层彩钢板房", "illegal_construction"),
        ("楼上装修把承重墙砸了", "structural_damage"),
        ("一楼住户把住宅改成了麻将馆，天天有人进出", "change_of_use"),
        ("楼道里堆满杂物，消防通道被堵死了", "common_area_occupation"),
        ("一楼住户在外墙上破墙开店", "facade_damage"),
        ("隔壁装修没有到物业登记就开工了", "unregistered_renovation"),
        ("对面一套房子打了好多隔断，住了十几个人", "group_rental"),
        ("有人把申请到的公租房转租给别人住", "subsidized_housing_rental"),
        ("中介把地下室隔成小间出租给人住", "agency_violation"),
        ("有人把装修垃圾倒在小区花坛边上，生活垃圾也不分类", "garbage_sorting"),
        ("有人把小区绿地挖了种菜，还砍了两棵树", "green_space_damage"),
        ("邻居搭违建，物业明明知道却不制止也不上报", "property_negligence"),
        ("物业把物业管理用房租出去开了小卖部", "property_duty_violation"),
        ("晚上广场舞太吵了，吵得睡不着", "out_of_scope"),
        ("小区门口乱停车，堵得出不去", "out_of_scope"),
    ],
)
def test_category_on_clear_cases(bot, text, category):
    understanding = bot.understand(text)
    assert understanding.category == category
    assert 0.0 < understanding.confidence <= 1.0
    assert understanding.out_of_scope == (category == "out_of_scope")


@pytest.mark.parametrize(
    ("text", "emergency"),
    [
        ("楼下着火了，冒了好多烟", "fire"),
        ("3楼有户人家厨房起火了", "fire"),
        ("楼道里闻到很重的煤气味", "gas"),
        ("小区门口有人打架，还动了刀", "fight"),
        ("有个老人在电梯口晕倒了", "injury"),
        ("有人站在楼顶要跳楼", "danger"),
        ("楼道堆物有火灾隐患", None),
        ("电瓶车停在楼道里，万一着火怎么办", None),
        ("担心群租房会失火", None),
        ("阳台搭了阳光房", None),
        ("着火了谁负责赔偿", None),
    ],
)
def test_emergency(bot, text, emergency):
    assert detect_emergency(normalise(text)) == emergency
    understanding = bot.understand(text)
    assert understanding.emergency == emergency
    if emergency:
        assert understanding.category == "out_of_scope"
        answer = bot.answer(text)
        assert answer.fallback is None
        assert any(number in answer.answer for number in ("110", "119", "120"))


@pytest.mark.parametrize(
    ("text", "tracking_no"),
    [
        ("我的案件QP20240501-0003怎么样了", "QP20240501-0003"),
        ("编号 qp20240501-0012", "QP20240501-0012"),
        ("ＱＰ２０２４０５０１－０００７", "QP20240501-0007"),
        ("QP202405010003", "QP20240501-0003"),
        ("电话13800138000", None),
        ("XQP20240501-0003", None),
    ],
)
def test_tracking_number(bot, text, tracking_no):
    assert find_tracking_no(normalise(text)) == tracking_no
    assert bot.understand(text).tracking_no == tracking_no


@pytest.mark.parametrize(
    ("text", "greeting"),
    [("您好", True), ("你好，在吗", True), ("hello!", True), ("你好，楼下有人搭违建", False), ("", False)],
)
def test_greeting(text, greeting):
    assert is_greeting(normalise(text)) is greeting


def test_greeting_and_progress_have_no_category(bot):
    assert bot.understand("你好").category is None
    assert bot.understand("我的投诉QP20240501-0003有进度吗").category is None


def test_understanding_is_plain_data(bot):
    data = bot.understand("宜达新居8号楼有人搭阳光房").as_dict()
    assert set(data) == {
        "intent", "category", "confidence", "emergency", "out_of_scope", "estate", "street", "squad",
        "candidates", "building", "unit", "room", "tracking_no", "in_progress", "evidence",
    }  # fmt: skip


def test_a_long_letter_is_read_sentence_by_sentence(bot):
    """A violation reported amid complaints about noise and smell stays in scope."""
    letter = (
        "尊敬的领导：您好！\n关于我们小区的问题。楼下的饭店每天吵到半夜。油烟也很大，窗户都不敢开。"
        "更严重的是，顶楼业主在楼顶私自加盖了一间彩钢板房，还在继续施工。希望有关部门尽快处理。"
    )
    assert bot.understand(letter).category == "illegal_construction"


def test_estate_names_say_nothing_about_the_category(bot):
    reading = bot.reader.read("青枫苑有人搭阳光房")
    assert "青枫" not in reading.folded
    assert bot.understand("青枫苑有人搭阳光房").estate == "青枫苑"


def test_a_message_is_read_once(bot):
    assert bot.reader.read("楼道里堆满杂物") is bot.reader.read("楼道里堆满杂物")


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "？？？", "123"])
def test_nothing_to_read(bot, text):
    u = bot.understand(text)
    assert (u.intent, u.category, u.confidence) == ("other", None, 0.0)
    assert bot.answer(text).fallback == "human"


@pytest.mark.parametrize(
    ("text", "folded", "kept"),
    [
        ("小区里违章太多了", "违建", "违章"),
        ("交警说我还有一条违章没处理，扣了三分", "违章", "违建"),
        ("楼上天天往楼下扔垃圾", "乱扔垃圾", "高空抛物"),
        ("楼上小孩往楼下扔玩具", "高空抛物", "乱扔垃圾"),
    ],
)
def test_synonyms_fold_by_context(bot, text, folded, kept):
    """A bare 违章 is an illegal building unless the message is about traffic; rubbish thrown from a
    window is dumped rubbish, anything else thrown is 高空抛物."""
    reading = bot.reader.read(text)
    assert folded in reading.folded
    assert kept not in reading.folded


def test_an_unless_word_keeps_only_its_own_group_as_written():
    from bot.content import Synonym
    from bot.text import SynonymFolder

    folder = SynonymFolder([Synonym("违建", ("违章",), unless=("交警",)), Synonym("乱停车", ("违停",))])
    assert folder.fold("交警说违章还有违停") == "交警说违章还有乱停车"
    assert folder.fold("违章还有违停") == "违建还有乱停车"


def test_a_long_letter_ending_nobody_cares_is_a_complaint_to_both_understand_and_answer(bot):
    """ "有没有人管" ends many complaints; only a short message asking it is a progress question."""
    letter = (
        "我们小区12号楼的顶楼业主去年在楼顶加盖了一间彩钢板房，今年又往外扩了一圈，"
        "下雨天楼下天花板一直渗水，跟物业说了好几次都没用，到现在还在施工，有没有人管？"
    )
    assert bot.understand(letter).intent == "report"
    assert bot.answer(letter).answer != PROGRESS_ANSWER
    assert bot.understand("上次举报的违建有没有人管").intent == "progress"
    assert bot.answer("上次举报的违建有没有人管").answer == PROGRESS_ANSWER
    assert bot.answer(letter + "编号QP20240501-0003").answer == PROGRESS_ANSWER
