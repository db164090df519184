"""Reading a resident's letter as the bureau reads it: which clauses say what is being done and where (the
subject), and which are background (earlier calls, the property company's or officials' inaction, greetings,
thanks), so that the category is decided by the subject; and the bureau's conventions for filing a letter
under one category (the violation wins over the inaction; the place decides common parts or green land).

Pure functions over normalised text; bot.reading cuts the clauses and bot.nlu weighs them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Role = Literal["subject", "plain", "request", "background"]

# Sentences end at these; a clause also at a comma or colon. jieba never joins words across any of them.
SENTENCE_END = re.compile(r"[。！？!?；;\n]+")
CLAUSE_END = re.compile(r"[,，:：]+")

# What a clause weighs in the letter's vote, by its role. Background still counts a little: a letter whose
# only matter is the company's inaction is filed under it (property_negligence).
ROLE_WEIGHTS: dict[Role, float] = {"subject": 1.0, "plain": 0.6, "request": 0.35, "background": 0.12}
# The k-th subject clause weighs 1 / (1 + FIRST_DECAY·k): the first problem a letter raises decides ties.
FIRST_DECAY = 0.1

# Background: what was done about it before, by whom, and with what (no) result; thanks and greetings.
_BACKGROUND = re.compile(
    "|".join(
        (
            # earlier calls and letters
            r"(?:多次|屡次|反复|一再|曾经?|之前|此前|早在|上次|去年|前年|几次|好几次|一直)(?:向|给|找|打|拨打|到|去)?"
            r".{0,12}(?:反映|投诉|举报|打电话|来电|信访|留言|求助|报警|上报)",
            r"(?:反映|投诉|举报|留言)(?:过|了)?(?:很多|多|好几|几|无数)次",
            r"12345|市民热线|热线电话|信访|市长信箱|网上留言|政务平台",
            r"(?:回复|答复|回电)(?:说|称|是)|得到的答复|给出的答复|至今|迄今|到现在(?:为止|还)?|石沉大海|不了了之|没有下文",
            # inaction, evasion
            r"不作为|不闻不问|置之不理|不理不睬|视而不见|睁一只眼|听之任之|熟视无睹|推诿|推脱|踢皮球|敷衍|互相推|相互推",
            r"(?:没有|没|无)(?:人|任何人|任何部门|部门)(?:来)?(?:管|处理|过问|理会|回应)",
            r"(?:物业|社区|居委|村委|街道|城管|有关部门|相关部门|管理处)(?:公司)?(?:也|都|根本|一直|始终|还是)?"
            r"(?:不管|不处理|管不了|没办法|无能为力|说管不了|不予理睬|没有(?:任何)?(?:作为|行动|回应|处理|制止))",
            r"(?:未|没有|没|并未|从未)(?:能)?(?:得到|见到|看到)(?:任何)?(?:解决|处理|回应|答复|结果)",
            r"(?:也|都|根本|一直|从来|始终)(?:不管|不理|不处理|没人管|没管|不予处理)",
            r"^(?:我|我们)?(?:也|还|又|都)?(?:去)?(?:找|问|联系|告诉|报告)(?:过|了)?(?:小区)?"
            r"(?:物业|社区|居委|村委|街道|城管|管理处|保安|中介|房东|开发商)",
            r"(?:物业|社区|居委会?|村委会?|街道|管理处|保安|城管)(?:的人|经理|公司|工作人员|那边)?(?:说|称|表示|回复|答复|告诉我们)",
            r"迟迟|无果|未果|(?:没有|没|毫无)(?:任何)?(?:效果|结果|进展|改善|改变|动静|作用)",
            r"说(?:他们|我们|这|这个|这事)?(?:管不了|没办法|不归.{0,6}管|不属于.{0,6}管)",
            # what is over: built and already pulled down, or long ago
            r"(?:已经?|早已|早就|都)(?:被)?(?:拆掉|拆除|拆了|整改|恢复|处理好|解决)",
            r"(?:以前|从前|早年|前几年|前两年|那几年|当年|曾经)(?:.{0,10})(?:搭|建|盖|拆|种|占)过",
            # the setting: who writes and what the estate is, before the matter
            r"^(?:我|我们|本人)(?:是|系)(?!.{0,4}(?:举报|投诉|反映))|^(?:我|我们|本人)?(?:家住|住在|居住在|居住于)|"
            r"^(?:我们|我们的|我家|本)?小区(?:是|系|位于|建于|于\d|始建)|交房以来|入住以来|建成以来",
            # courtesy
            r"谢谢|感谢|辛苦了|致敬|点赞|为民办实事|尊敬的|您好|你好|领导好|此致|敬礼",
        )
    )
)
# A request of the authorities: it names the matter again, but says less about it than the subject does.
_REQUEST = re.compile(
    r"^(?:特此|恳请|恳求|请求|强烈要求|要求|希望|盼|望|请|敬请|麻烦)|(?:尽快|早日|及时|彻底)(?:处理|解决|拆除|制止|查处|整治)|"
    r"还(?:我们|业主|小区|居民)|给(?:我们|业主|居民)?一个(?:说法|交代)"
)
# Something being done somewhere: building, cutting, occupying, renting out, running a business, damaging.
_DOING = re.compile(
    r"搭|建|盖|砌|拆|砸|凿|打通|打掉|开洞|开门|开窗|挖|砍|铲|围|圈|铺|占|堆|放|停放|种|养|改成|改为|改造|隔成|隔出|"
    r"分隔|出租|租给|群租|开店|开设|经营|办(?:了|起)?|住了|住着|装修|施工|倒|扔|丢"
)

# Money between private parties: fees, rent, deposits, prices, compensation. The bureau does not settle
# these (DOMAIN: fees and contracts between residents and companies or landlords are out of scope), so a part
# about money that names nothing being built, cut, let or occupied speaks for out_of_scope.
_MONEY = re.compile(
    r"物业费|管理费|停车费|车位费|租金|房租|押金|定金|订金|违约金|赔偿|赔钱|退款|退钱|退还|涨价|收费|欠费|"
    r"砍头息|中介费|服务费|维修资金|维修基金|装修款|工程款|尾款|工资|房款|首付|贷款|罚息|差价|"
    r"涨到|涨了|上涨|月租|年租|多少钱|退租|托管费|暴雷|跑路"
)
_NOT_MONEY = re.compile(
    r"搭|建|盖|砌|拆|砸|凿|打通|打掉|开洞|隔成|隔出|群租|占用|堆放|开店|经营|改成|改为|种菜"
)


# The letter is against the company itself: it asks for the company to be investigated or held to account,
# or complains of it by name. Then the company's failure is its subject (property_negligence), even when it
# names the violations the company let happen.
_AGAINST_THE_COMPANY = re.compile(
    r"(?:投诉|追究|调查|查处|处罚|问责|督促|整顿|约谈|曝光|举报)(?:一下)?(?:我们|这家|小区|该)?(?:小区)?的?物业|"
    r"物业(?:公司|服务企业)?的?(?:责任|失职|渎职|包庇|履职|不作为|监管责任)|对物业(?:公司)?(?:的)?(?:不作为|进行|予以|依法)"
)


# Someone in particular doing something: an owner, a tenant, a neighbour, a flat.
_SOMEONE = re.compile(
    r"有人|有户|业主|住户|租客|邻居|那户|那家|这户|这家|某户|楼上|楼下|隔壁|对门|\d+室|\d+号楼|\d+栋"
)
COMPANY_DUTIES = ("property_duty_violation", "property_negligence")
UPKEEP = frozenset({"green_space_damage", "garbage_sorting", "common_area_occupation"})


def names_someone(text: str) -> bool:
    """The text names someone in particular (an owner, a neighbour, a flat) as doing something."""
    return _SOMEONE.search(text) is not None


def against_the_company(text: str) -> bool:
    """The letter's subject is the property company's own failure (see _AGAINST_THE_COMPANY)."""
    return _AGAINST_THE_COMPANY.search(text) is not None


def about_money(part: str) -> bool:
    """The part is about money between private parties, and about nothing the bureau enforces."""
    return _MONEY.search(part) is not None and _NOT_MONEY.search(part) is None


# A business run in a home (DOMAIN: a shop or business in a flat, without new building, is change_of_use):
# the noise, smell or crowds a letter complains of are what it does, not a police matter of their own.
_HOME = (
    r"(?:住宅|居民楼|民房|住房|家里|套房|\d+室|\d+号楼|\d+栋|\d+幢|单元|一楼住户|楼上|楼下|隔壁|对门|业主家)"
)
_BUSINESS = (
    r"(?:培训机构|培训班|培训学校|辅导班|补习班|托管班|托管机构|琴行|舞蹈|画室|办学|餐馆|饭店|餐厅|小吃店|早餐店|"
    r"快餐|外卖|诊所|医院|棋牌室|麻将馆|麻将室|民宿|日租房|家庭旅馆|作坊|加工厂|仓库|网店仓|办公室|公司|美容院|"
    r"美甲|足浴|按摩|理发店|宠物店|养老院|幼儿园)"
)
_BUSINESS_IN_HOME = re.compile(
    f"{_HOME}.{{0,16}}{_BUSINESS}|{_BUSINESS}.{{0,10}}(?:开在|设在|办在|搬进)(?:了)?.{{0,6}}{_HOME}"
)
CHANGE_OF_USE = "change_of_use"


def business_in_home(part: str) -> bool:
    """The part tells of a business run in a home."""
    return _BUSINESS_IN_HOME.search(part) is not None


# Common parts of a building (上海市住宅物业管理规定: 共用部位), whatever is put there; and green land.
COMMON_PARTS = re.compile(
    r"楼顶|屋顶|顶楼平台|天台|屋面|露台|楼道|走廊|过道|楼梯|梯间|电梯厅|电梯间|前室|消防通道|消防楼梯|"
    r"安全出口|疏散通道|地下室|地下车库|架空层|设备层|公共部位|公共区域|公共通道"
)
GREEN_LAND = re.compile(r"绿地|绿化带|绿化地|草坪|草地|花坛|花圃|树木|树林|大树|行道树|苗木|公共绿化|绿化")
OUT_OF_SCOPE = "out_of_scope"
VIOLATIONS_OVER_INACTION = "property_negligence"
COMMON_AREA = "common_area_occupation"
GREEN_SPACE = "green_space_damage"
# Whose failure the inaction convention never overrides: the company's own duties, and out of scope.
NOT_VIOLATIONS = frozenset({"property_negligence", "property_duty_violation", "out_of_scope"})
# How much of a part's in-scope reading is its best category's odds against out_of_scope rather than its
# whole in-scope mass (see _in_scope): chosen on our held-back letters and complaints (0.1 keeps the most
# violations in scope; 0.3 recognises more of what is not ours but loses violations).
IN_SCOPE_ODDS = 0.1
# A violation must be at least this likely in the subject's own reading to win over the inaction.
VIOLATION_SUPPORT = 0.3


@dataclass(frozen=True)
class Clause:
    """A clause of a letter: its text as the models read it (estate names masked, synonyms folded), as
    the resident wrote it (normalised), its role, its sentence's number and where in that sentence (as read)
    it starts and ends."""

    text: str
    written: str
    role: Role
    sentence: int
    start: int = 0
    end: int = 0


def role_of(clause: str) -> Role:
    """What a clause does in a letter: the subject when it names something being done, unless it is about
    earlier calls or inaction (我们多次反映楼顶违建) or the setting, which are background; a request; or plain
    narration. Clauses are short, so 物业不管，楼顶又加了一层 is background, then the subject."""
    background = _BACKGROUND.search(clause) is not None
    doing = _DOING.search(clause) is not None
    if doing and not background:
        return "request" if _REQUEST.search(clause) else "subject"
    if background:
        return "background"
    if _REQUEST.search(clause):
        return "request"
    return "plain"


def sentences(text: str) -> list[str]:
    """A text's sentences, stripped, the empty ones left out."""
    return [s for s in (p.strip() for p in SENTENCE_END.split(text)) if s]


def clause_spans(sentence: str) -> list[tuple[int, int]]:
    """Where each clause of a sentence starts and ends, its surrounding spaces left out, empty ones too."""
    spans = []
    for match in _CLAUSE.finditer(sentence):
        piece = match.group()
        start = match.start() + len(piece) - len(piece.lstrip())
        end = match.end() - (len(piece) - len(piece.rstrip()))
        if end > start:
            spans.append((start, end))
    return spans


_CLAUSE = re.compile(r"[^,，:：]+")


def clauses(folded: str, written: str) -> list[Clause]:
    """The letter cut into clauses with their roles. `written` is the same letter before estate names were
    masked and synonyms folded; it is cut the same way, and used for what is shown when the pieces match."""
    folded_sentences = sentences(folded)
    written_sentences = sentences(written)
    same = len(written_sentences) == len(folded_sentences)
    out: list[Clause] = []
    for number, sentence in enumerate(folded_sentences):
        spans = clause_spans(sentence)
        pieces = [sentence[a:b] for a, b in spans]
        shown = (
            [written_sentences[number][a:b] for a, b in clause_spans(written_sentences[number])]
            if same
            else []
        )
        if len(shown) != len(pieces):
            shown = pieces
        for (start, end), piece, as_written in zip(spans, pieces, shown, strict=True):
            out.append(Clause(piece, as_written, role_of(piece), number, start, end))
    return out


def weights(roles: Sequence[Role]) -> list[float]:
    """Each clause's weight in the vote: by role, the first subject clauses a little above later ones."""
    out, seen = [], 0
    for role in roles:
        weight = ROLE_WEIGHTS[role]
        if role == "subject":
            weight /= 1 + FIRST_DECAY * seen
            seen += 1
        out.append(weight)
    return out


def place_decides(category: str, clause: str) -> str:
    """Common parts or green land, by the place the deciding clause names: vegetables on a roof are common
    parts, a paved-over lawn is green land. Any other category is left as it is."""
    if category not in (COMMON_AREA, GREEN_SPACE):
        return category
    common = COMMON_PARTS.search(clause)
    green = GREEN_LAND.search(clause)
    if category == GREEN_SPACE and common and not green:
        return COMMON_AREA
    if category == COMMON_AREA and green and not common:
        return GREEN_SPACE
    return category


@dataclass(frozen=True)
class Letter:
    """A message as the models read it: its folded text, its parts (text as read, text as written, role),
    each part's category probabilities (one row per part, in the labels' order) and the probabilities of
    the message without its background."""

    text: str
    parts: Sequence[tuple[str, str, Role]]
    by_part: np.ndarray
    foreground: np.ndarray


def file_letter(labels: Sequence[str], letter: Letter) -> tuple[np.ndarray, int]:
    """The probability of each category for a letter, and which part decided.

    Which in-scope category: the parts' vote, each part weighing by its role (the subject above requests,
    background little) and by how sharp its reading is, averaged with the reading of the letter without its
    background. Whether in scope at all: the two told parts (not background) that most look in scope,
    averaged, so that a letter reporting a violation amid complaints about noise or smell stays in scope,
    while a passing mention of an in-scope word does not pull an unrelated matter in; a part about money
    between private parties counts half for out_of_scope. Then the conventions (`_conventions`)."""
    oos = list(labels).index(OUT_OF_SCOPE)
    roles = [role for _, _, role in letter.parts]
    by_part = letter.by_part.copy()
    for i, (text, _, _) in enumerate(letter.parts):
        if len(letter.parts) > 1 and about_money(text):
            by_part[i] *= 0.5
            by_part[i, oos] += 0.5
    if len(letter.parts) == 1:
        probabilities = by_part[0].copy()
    else:
        sharpness = by_part.max(axis=1) - 1.0 / len(labels) + 1e-9
        weight = sharpness * np.array(weights(roles))
        votes = (weight[:, None] * by_part).sum(axis=0) / weight.sum()
        blended = (votes + letter.foreground) / 2
        told = [i for i, role in enumerate(roles) if role != "background"] or list(range(len(roles)))
        in_scope = float(np.sort(_in_scope(by_part[told], oos))[-2:].mean())
        blended[oos] = 0.0
        probabilities = blended / blended.sum() * in_scope
        probabilities[oos] = 1.0 - in_scope
    return probabilities, _conventions(list(labels), probabilities, by_part, letter)


def _in_scope(by_part: np.ndarray, oos: int) -> np.ndarray:
    """How much each part speaks for the bureau: mostly its probability of being in scope at all, partly its
    likeliest in-scope category against out_of_scope (IN_SCOPE_ODDS). A part that says nothing in particular
    (这件事拜托了) spreads its probability thinly over the categories; its few per cent for each must not
    add up to a case."""
    mass: np.ndarray = 1.0 - by_part[:, oos]
    best: np.ndarray = np.delete(by_part, oos, axis=1).max(axis=1)
    odds: np.ndarray = best / (best + by_part[:, oos] + 1e-12)
    blended: np.ndarray = (1 - IN_SCOPE_ODDS) * mass + IN_SCOPE_ODDS * odds
    return blended


def _conventions(labels: list[str], probabilities: np.ndarray, by_part: np.ndarray, letter: Letter) -> int:
    """File the letter by the bureau's conventions, trading probabilities in place where one applies;
    returns the part that decided: the one that most speaks for the category, by role.

    - The violation wins over the inaction: a letter filed under property_negligence whose told parts name
      a violation (at least VIOLATION_SUPPORT in one of them) goes under that violation, unless the letter
      is against the company itself.
    - A letter against the company about upkeep (green land, rubbish, common parts) that names no one in
      particular is about the company's own duties.
    - A business run in a home is change_of_use, whatever noise or smell the letter complains of.
    - The place decides between common parts and green land."""
    roles = [role for _, _, role in letter.parts]
    told = [i for i, role in enumerate(roles) if role != "background"]
    best = int(np.argmax(probabilities))
    if labels[best] == VIOLATIONS_OVER_INACTION and told and not against_the_company(letter.text):
        violations = [j for j, label in enumerate(labels) if label not in NOT_VIOLATIONS]
        support = by_part[np.ix_(told, violations)]
        strongest = np.unravel_index(int(np.argmax(support)), support.shape)
        if support[strongest] >= VIOLATION_SUPPORT:
            best = _trade(probabilities, best, violations[int(strongest[1])])
    if (
        labels[best] in UPKEEP
        and against_the_company(letter.text)
        and not any(names_someone(letter.parts[i][0]) for i in told)
    ):
        # the company's own upkeep (weeds, rubbish, its lanes) in a letter against it: its duties
        best = _trade(
            probabilities, best, max((labels.index(c) for c in COMPANY_DUTIES), key=probabilities.__getitem__)
        )
    if labels[best] == OUT_OF_SCOPE and any(business_in_home(letter.parts[i][0]) for i in told):
        best = _trade(probabilities, best, labels.index(CHANGE_OF_USE))
    role_weight = np.array([ROLE_WEIGHTS[r] for r in roles])
    deciding = int(np.argmax(role_weight * by_part[:, best]))
    if labels[best] != OUT_OF_SCOPE and len(letter.parts) > 1 and about_money(letter.parts[deciding][0]):
        # what most speaks for the category is a quarrel about money: that is not the bureau's
        best = _trade(probabilities, best, labels.index(OUT_OF_SCOPE))
        deciding = int(np.argmax(role_weight * by_part[:, best]))
    placed = place_decides(labels[best], letter.parts[deciding][0])
    if placed != labels[best]:
        _trade(probabilities, best, labels.index(placed))
    return deciding


def _trade(probabilities: np.ndarray, best: int, instead: int) -> int:
    """File under `instead` rather than `best`: the two trade probabilities."""
    probabilities[best], probabilities[instead] = probabilities[instead], probabilities[best]
    return instead
