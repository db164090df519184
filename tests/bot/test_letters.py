"""Reading residents' letters (bot.letters): the subject above the background, the bureau's conventions for
filing a letter under one category (DOMAIN.md, "Filing a complaint under one category"), the words that
mislead, and the sentence that decided. The letters are our own, long as real ones are."""

from __future__ import annotations

import numpy as np
import pytest

from bot.content import load_content
from bot.letters import (
    Letter,
    about_money,
    against_the_company,
    business_in_home,
    clauses,
    file_letter,
    place_decides,
    role_of,
)
from bot.places import mask_brands

from .conftest import CONTENT

CODES = set(load_content(CONTENT).category_codes)


@pytest.mark.parametrize(
    "clause",
    [
        "我们已经多次打12345反映",
        "去年就向居委会投诉过",
        "物业公司不闻不问",
        "物业说管不了",
        "到现在也没有任何部门来处理",
        "社区和物业互相推诿",
        "感谢领导百忙之中看我的信",
        "尊敬的领导",
    ],
)
def test_background_clauses(clause):
    assert role_of(clause) == "background"


@pytest.mark.parametrize(
    "clause",
    ["顶楼业主在楼顶平台上搭了一间彩钢板房", "隔壁把承重墙打掉了一半", "一楼那户把住房改成了棋牌室在经营"],
)
def test_what_is_being_done_is_the_subject(clause):
    assert role_of(clause) == "subject"


def test_a_request_says_less_than_the_subject():
    assert role_of("希望有关部门尽快处理") == "request"
    assert role_of("恳请城管部门早日拆除") == "request"


def test_clauses_keep_what_the_resident_wrote_beside_what_the_models_read():
    written = "尊敬的领导，您好！青枫苑8号楼顶有人搭房，物业不管。"
    folded = "尊敬的领导，您好！小区8号楼顶有人搭房，物业不管。"
    cut = clauses(folded, written)
    assert [c.text for c in cut] == ["尊敬的领导", "您好", "小区8号楼顶有人搭房", "物业不管"]
    assert cut[2].written == "青枫苑8号楼顶有人搭房"
    assert [c.role for c in cut] == ["background", "background", "subject", "background"]
    assert [c.sentence for c in cut] == [0, 0, 1, 1]


def test_the_place_decides_between_common_parts_and_green_land():
    assert place_decides("green_space_damage", "楼顶平台上种满了蔬菜") == "common_area_occupation"
    assert place_decides("common_area_occupation", "楼前的草坪被铺成了水泥地停车") == "green_space_damage"
    assert place_decides("green_space_damage", "绿化带里种了菜") == "green_space_damage"
    assert place_decides("illegal_construction", "楼顶平台上搭了棚") == "illegal_construction"


def test_developer_names_inside_estate_names_are_masked_but_green_land_is_not():
    assert mask_brands("万科城3期有人搭阳光房") == "小区有人搭阳光房"
    assert mask_brands("绿地海外滩二期没交房就开裂了") == "小区二期没交房就开裂了"
    assert mask_brands("保利集团开发的楼盘") == "公司开发的楼盘"
    assert mask_brands("物业请了一家园林绿化工程有限公司来修剪") == "物业请了一家公司来修剪"
    for green in ("小区绿地被人挖了种菜", "占用绿地建停车位", "把公共绿地圈成自家花园", "楼下的绿地里种了菜"):
        assert mask_brands(green) == green


# Long letters, each with background around its subject, and the category the bureau files it under.
VIOLATION_OVER_INACTION = (
    "尊敬的城管领导：您好！我是夏阳街道青枫苑的业主，今天写信实在是没有办法了。我们楼的顶楼业主从上个月开始，"
    "在楼顶平台上用钢管和彩钢板搭了一间二十多平方的房子，现在还在往上加层。我们多次向物业反映，物业只说"
    "会去劝一劝，到现在一点动静都没有。也打过12345，回复说已经转给相关部门，可还是没有人来。物业不作为，"
    "社区也不管，我们真的很失望。恳请领导派人来看一看，早日拆除这个违法建筑。谢谢！"
)
COMPANY_FAILURE = (
    "领导您好，我想反映一下我们小区物业公司的问题。这家物业进驻三年了，从来没有见过保安巡逻，"
    "小区里有人装修、有人搭东西，物业从来不去劝阻，也不向城管报告，业主打电话给物业，物业总是说"
    "这不归他们管。去年我们业委会专门发函要求物业履行巡查和报告义务，物业根本不理睬。"
    "希望主管部门督促这家物业公司依法履行职责。"
)
ROOF_VEGETABLES = (
    "您好！我住在盈浦街道某某新村12号楼6楼。住在我们楼顶层的老人家，把整个楼顶平台都用泡沫箱"
    "和土铺满了，种满了青菜和丝瓜，还在上面浇粪施肥，臭味很大，下雨的时候楼顶还漏水。我们跟他说过好几次，"
    "他说楼顶空着也是空着。物业也来看过，说管不了。请问这种情况能不能处理？谢谢。"
)
LAWN_PAVED = (
    "尊敬的领导：我们小区5号楼前面原来有一大块草坪，前几天一楼的住户找了几个工人，把草坪挖掉，"
    "铺上了水泥，围起来做成了自家的停车位和晾衣场。小区里的老人孩子原来都在那里散步，现在都没地方去了。"
    "我们跟物业反映过，物业说已经劝过了，对方不听。希望城管部门来处理，恢复绿地。"
)
SEVERAL = (
    "领导好！我要举报我们楼202室的住户。他家装修的时候把客厅和卧室之间的承重墙打掉了，墙上的钢筋都露出来了，"
    "我们整栋楼的人都很担心房子的安全。后来他们又把承重墙旁边的圈梁也凿开了。另外他家还把装修垃圾堆在楼道里"
    "一个多月。我们打了好几次电话给物业，物业说已经发过整改通知。最要紧的是承重墙的事，请你们一定来查一查。"
)
SHOP_IN_FLAT = (
    "您好，我们是赵巷镇某某花园的居民。小区3号楼一楼的一户人家，没有任何改建，直接把住房改成了麻将馆，"
    "每天从中午开到半夜，来打牌的人进进出出，楼道里烟味很重。居委会说去劝过，没有用，物业也说没办法。"
    "住宅是用来住的，不是用来开店的，请求有关部门依法处理。"
)
FACADE = (
    "尊敬的领导：我们楼一楼的业主最近把自家卧室朝外的那面外墙砸开，新开了一扇门，直接通到小区路上，"
    "听说是准备开个小店。外墙是大家共有的，这样破墙开门既影响外观又不安全。我们打过12345，"
    "物业也说劝阻无效。希望尽快来处理，谢谢！"
)
BUILD_QUALITY = (
    "市长您好！我是徐泾镇某某湾的业主，去年刚交的房。入住不到一年，家里好几面墙都开裂了，卫生间还往楼下渗水，"
    "开发商派人来修了三次都没修好。物业说这是开发商的质量问题，让我们找开发商，开发商又推给施工单位。"
    "我们花了几百万买的新房子，现在住得提心吊胆，请政府帮我们主持公道。"
)
DEPOSIT = (
    "你好，我去年在华新镇租了一套房子，合同到期后我按时搬走了，房子也打扫干净了，"
    "可是房东以墙面有污渍为由，扣了我全部三千块押金，还说还要我赔钱。我找中介，中介也不管。"
    "请问这种情况应该怎么办？房东这样做合法吗？"
)
TRAFFIC = (
    "您好，我上周开车经过小区门口，被电子眼拍了违章，说我压线，扣了三分罚了两百。"
    "可是那条线早就磨得看不清了，我觉得很冤枉，请问应该怎么申诉？"
)
BRAND_ESTATE = (
    "尊敬的领导：我们是绿地新都会的业主，交房的时候开发商承诺小区旁边配建一所小学，"
    "现在交房两年了，学校的地块被拿去做了商业开发。我们多次找开发商，开发商一直推脱。"
    "希望政府督促开发商兑现承诺。"
)

UPKEEP_AGAINST_THE_COMPANY = (
    "尊敬的领导：徐泾镇某某苑的物业公司太不负责了。绿化带里的树死了好几棵也不补种，"
    "草坪被踩得光秃秃的没人管，楼道灯坏了也不修。请督促物业公司履行职责。"
)  # green land in the words, but no one damaged it: the company's own upkeep

LETTERS = [
    (VIOLATION_OVER_INACTION, "illegal_construction", "彩钢板"),
    (COMPANY_FAILURE, "property_negligence", None),
    (ROOF_VEGETABLES, "common_area_occupation", "楼顶平台"),
    (LAWN_PAVED, "green_space_damage", "草坪"),
    (SEVERAL, "structural_damage", "承重墙"),
    (SHOP_IN_FLAT, "change_of_use", "麻将馆"),
    (FACADE, "facade_damage", "外墙"),
    (UPKEEP_AGAINST_THE_COMPANY, "property_duty_violation", None),
    (BUILD_QUALITY, "out_of_scope", None),
    (DEPOSIT, "out_of_scope", None),
    (TRAFFIC, "out_of_scope", None),
    (BRAND_ESTATE, "out_of_scope", None),
]


@pytest.mark.parametrize(("letter", "category", "evidence"), LETTERS, ids=[c for _, c, _ in LETTERS])
def test_long_letters_are_filed_by_the_conventions(bot, letter, category, evidence):
    result = bot.classify(letter)
    assert result.category == category, (result.category, result.evidence)
    if evidence is not None:
        assert evidence in result.evidence
    assert result.evidence in bot.reader.read(letter).normalised.replace(",", "，")


def test_the_violation_wins_over_the_inaction_that_the_background_names(bot):
    scores = bot.category_scores(VIOLATION_OVER_INACTION)
    assert scores["illegal_construction"] > scores["property_negligence"]
    # the background alone is about the company's inaction: it is what the letter says besides
    background = "我们多次向物业反映，物业只说会去劝一劝，到现在一点动静都没有。物业不作为，社区也不管。"
    assert bot.classify(background).category in {"property_negligence", "out_of_scope"}


def test_the_deciding_sentence_is_shown_as_the_resident_wrote_it(bot):
    letter = (
        "您好！青枫苑8号楼的顶楼业主在楼顶平台上搭了一间彩钢板房。我们已经打了三次12345，物业也不管。谢谢！"
    )
    result = bot.classify(letter)
    assert result.category == "illegal_construction"
    assert "青枫苑" in result.evidence and "彩钢板房" in result.evidence
    assert bot.understand(letter).evidence == result.evidence


@pytest.mark.parametrize("text", ["你好", "谢谢", "QP20261101-0001 怎么样了", "？？？", "在吗"])
def test_classify_always_gives_one_of_the_codes(bot, text):
    result = bot.classify(text)
    assert result.category in CODES
    assert 0.0 <= result.confidence <= 1.0


def test_the_setting_of_a_letter_is_background():
    assert role_of("我是华新镇某某苑的业主") == "background"
    assert role_of("我们小区是2008年交房的老小区") == "background"
    assert role_of("我住在5号楼3楼") == "background"
    assert role_of("我要举报5号楼的住户") != "background"


def test_money_between_private_parties_is_told_apart_from_what_the_bureau_enforces():
    assert about_money("房东扣了我全部三千块押金")
    assert about_money("车位月租从三百涨到了五百")
    assert not about_money("房东把客厅隔成三间出租")  # 隔成: a group rental, whatever the rent
    assert not about_money("楼顶搭了一间房")


def test_a_letter_against_the_company_and_a_business_in_a_home():
    assert against_the_company("请执法局对物业公司的不作为进行调查处理")
    assert against_the_company("物业的责任谁来追究")
    assert not against_the_company("物业说管不了，请城管来拆除违建")
    assert business_in_home("3号楼一楼的住房改成了麻将馆")
    assert business_in_home("楼上住户家里办了个托管班")
    assert not business_in_home("小区门口商铺的饭店油烟很大")


LABELS = ["illegal_construction", "property_negligence", "change_of_use", "out_of_scope"]


def _letter(parts, by_part, text=""):
    by_part = np.array(by_part, dtype=float)
    return Letter(text or "，".join(p[0] for p in parts), parts, by_part, by_part.mean(axis=0))


def test_parts_that_say_nothing_in_particular_count_less_for_a_case():
    from bot.letters import _in_scope

    oos = LABELS.index("out_of_scope")
    sharp = np.array([[0.6, 0.05, 0.05, 0.3]])  # one violation stands out
    spread = np.array([[0.25, 0.25, 0.2, 0.3]])  # the same 30% out of scope, nothing standing out
    assert _in_scope(spread, oos)[0] < _in_scope(sharp, oos)[0] <= 0.7 + 1e-9


def test_the_violation_wins_over_the_inaction_unless_the_letter_is_against_the_company():
    parts = [
        ("顶楼业主在楼顶搭了一间房", "顶楼业主在楼顶搭了一间房", "subject"),
        ("物业一直不管", "物业一直不管", "background"),
        ("物业也没有上报", "物业也没有上报", "plain"),
    ]
    by_part = [[0.4, 0.5, 0.05, 0.05], [0.05, 0.9, 0.0, 0.05], [0.05, 0.85, 0.05, 0.05]]
    probabilities, deciding = file_letter(LABELS, _letter(parts, by_part))
    assert LABELS[int(np.argmax(probabilities))] == "illegal_construction" and deciding == 0
    against = _letter(parts, by_part, text="顶楼业主在楼顶搭了一间房，物业的责任谁来追究")
    probabilities, _ = file_letter(LABELS, against)
    assert LABELS[int(np.argmax(probabilities))] == "property_negligence"


def test_a_quarrel_about_money_decides_nothing_for_the_bureau():
    parts = [
        ("退租时房东扣了我的押金", "退租时房东扣了我的押金", "plain"),
        ("说隔断门坏了", "说隔断门坏了", "plain"),
    ]
    by_part = [[0.1, 0.1, 0.5, 0.3], [0.1, 0.1, 0.6, 0.2]]
    probabilities, _ = file_letter(LABELS, _letter(parts, by_part))
    assert LABELS[int(np.argmax(probabilities))] == "out_of_scope"
