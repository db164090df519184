"""Hand-written rules that must not depend on a model: emergencies, tracking numbers, greetings, progress
queries, and whether building work is going on now."""

from __future__ import annotations

import re
import unicodedata

# Each kind of emergency and the words that mean it is happening now (EMERGENCY_ANSWERS says whom to call).
EMERGENCIES: dict[str, str] = {
    "fire": r"着火|起火|失火|火灾(?!隐患)|烧起来|烧着了|火烧|火很大|大火|浓烟|冒烟|冒黑烟|冒火|火苗|爆炸|炸了",
    "gas": r"(?:煤气|燃气|天然气|液化气)(?:泄漏|泄露|漏了|漏气|味|罐漏)|漏气|闻到(?:一股)?(?:煤气|燃气)",
    "fight": r"打架|斗殴|打人|互殴|群殴|砍人|捅人|持刀|拿刀|动刀|行凶|扬言要杀|要杀人|打起来了|被打了",
    "injury": r"受伤(?!害)|流血|出血|晕倒|昏倒|昏迷|摔伤|砸伤|烧伤|烫伤|骨折|没有呼吸|没呼吸|没了意识|心脏病发|中风|抽搐|休克",
    "danger": r"跳楼|轻生|自杀|被困|困在|落水|溺水|掉进河|触电|坍塌|塌了|倒塌|要塌|悬在|挂在窗外|爬出窗|小孩在窗台",
}
_EMERGENCY_PATTERNS = {kind: re.compile(pattern) for kind, pattern in EMERGENCIES.items()}
# Words in the same clause that make a mention a worry, a question, a report or a past event rather
# than something happening now: 火灾隐患, 万一着火, 着火了谁负责, 去年发生过火灾, 各地起火事故频发.
_HEDGE = re.compile(
    r"隐患|风险|担心|害怕|怕|万一|一旦|一但|如果|假如|如发生|若|容易|可能|会不会|以免|防止|预防|避免|引发|导致|造成|以防|"
    r"高发|频发|事故|报道|新闻|曾经|以前|之前|去年|前年|上次|多年|早已|当年|怎么办|谁负责|谁承担|赔偿|责任|"
    r"处罚|罚款|违法吗|算不算|法律|起诉|判|案件|拘留|\d+年|\d+月|\d+日"
)
_CLAUSE_END = re.compile(r"[,，。.!！?？;；\n]")
# In a long message an emergency must also read as happening now.
_NOW = re.compile(r"正在|现在|马上|赶紧|快来|快点|救命|刚刚|刚才|此刻|眼下|了[!！]|啊[!！]")
LONG_MESSAGE = 100

EMERGENCY_ANSWERS = {
    "fire": "如果现在着火或冒烟，请立即拨打119火警电话，并尽快撤离到安全的地方，不要乘电梯。",
    "gas": "闻到燃气味请不要开关电器、不要点火，立即开窗通风、撤离，并在室外拨打119（也可拨打燃气公司抢修电话）。",
    "fight": "如果有人正在打架或有人身危险，请立即拨打110报警，并注意保护自己的安全。",
    "injury": "有人受伤或身体不适，请立即拨打120急救电话；情况危急时同时拨打110。",
    "danger": "有人处于危险中，请立即拨打110（火灾、被困也可拨打119），在确保自身安全的前提下等待救援。",
}

TRACKING_NO = re.compile(r"(?<![a-z0-9])qp\s*(\d{8})\s*-?\s*(\d{4,6})(?!\d)")

_PROGRESS = re.compile(
    r"进度|进展|处理(?:得|的)?(?:怎么样|如何|结果|到哪)|怎么样了|有结果|有没有(?:人)?(?:处理|管|来|回复)|"
    r"什么时候(?:处理|能处理|给回复|有结果)|查(?:询|一下|查)?(?:一下)?(?:我的)?(?:投诉|举报|工单|案件|单子)|"
    r"(?:投诉|举报|反映)(?:的|过的)?(?:事|问题)?(?:怎么样|有回音|有下文|处理了吗)|受理了吗|办结|催一下|催办|"
    r"(?:上次|之前|前几天|上周|上个月)(?:的)?(?:投诉|举报|反映)"
)
_GREETING = re.compile(
    r"^(?:(?:你好|您好|hi|hello|哈喽|嗨|在吗|在不在|有人吗|早上好|上午好|中午好|下午好|晚上好|早|谢谢|谢谢你|多谢|感谢|"
    r"好的|好|ok|再见|拜拜|辛苦了|知道了|明白了|收到)"
    r"(?:呀|啊|哈|呢|啦|哦|了)?)+$"
)
_PUNCT = re.compile(r"[\s!！?？,，。.~～、…:：;；\"'“”‘’()（）\-]+")


def detect_emergency(text: str) -> str | None:
    """The kind of emergency a normalised message reports as happening now ("fire", "gas", …), or None.

    Mentions hedged as a worry (火灾隐患, 万一着火) or framed as a legal question (着火了谁负责) do not count."""
    for kind, pattern in _EMERGENCY_PATTERNS.items():
        for match in pattern.finditer(text):
            clause = _clause(text, match.start(), match.end())
            if _HEDGE.search(clause):
                continue
            if len(text) > LONG_MESSAGE and not _NOW.search(clause):
                continue
            return kind
    return None


def _clause(text: str, start: int, end: int) -> str:
    """The clause around text[start:end], from the punctuation before it to the punctuation after it."""
    before = max((m.end() for m in _CLAUSE_END.finditer(text, 0, start)), default=0)
    after = _CLAUSE_END.search(text, end)
    return text[before : after.start() if after else len(text)]


def find_tracking_no(text: str) -> str | None:
    """A case tracking number (QPyyyymmdd-nnnn) in a normalised message, in the canonical spelling."""
    match = TRACKING_NO.search(text)
    return f"QP{match.group(1)}-{match.group(2)}" if match else None


def is_greeting(text: str) -> bool:
    """A message that is only a greeting, thanks or goodbye."""
    bare = _PUNCT.sub("", text)
    return bool(bare) and len(bare) <= 10 and bool(_GREETING.match(bare))


def asks_progress(text: str) -> bool:
    return bool(_PROGRESS.search(text))


# ---------------------------------------------------------------------------------------------------------
# Construction in progress: 上海市拆除违法建筑若干规定 第七条 gives squads 2 hours instead of 24 to be on site
# when the building is going on now (正在搭建). Read clause by clause; work going on now in any clause wins
# (a letter about last year's sun room that says "这几天又在加层" is about work in progress).

# Building work as a verb, not the word it begins (施工许可, 装修垃圾, 建议, 盖章, 敲门, 拆迁, 搭理 …) and not
# finished (建成, 搭好, 装修完: see _DONE). Longer words first.
_BUILD_WORDS = (
    r"搭建|加盖|加层|加建|扩建|改建|新建|建造|建设|翻建|施工|动工|开工|装修|改造|翻修|电焊|焊接|浇筑|"
    r"浇(?:水泥|混凝土)|打(?:墙|洞|孔|桩|地基|隔断)|做隔断|切割|干活|封(?:阳台|露台|天井)|"
    r"搭|建|盖|砌|敲|砸|凿|拆|焊|挖|钻"
)
_BUILD_NOUN_ENDINGS = (
    r"筑|议|群|立|档|行|章|子|印|门|迁|违|开|快递|包裹|理|配|讪|车|诈|定|锅|掘|苦|空|研|石|"
    r"手续|登记|申报|许可|备案|审批|证|方案|单位|队|公司|材料|垃圾|图|局|时间|费|合同"
)
# not negated (没搭, 没有施工, 不敢敲) and not the 建 of 违建
_BUILD = rf"(?<![没不未别勿莫违])(?<!没有)(?:{_BUILD_WORDS})(?!{_BUILD_NOUN_ENDINGS}|好|完|成)"
# Building words used as names of things, not of what someone is doing: 小区一直存在私搭乱建.
_BUILD_NOUNS = re.compile(r"私搭乱建|乱搭乱建|乱搭乱盖|违法建筑|违章建筑|建筑物|构筑物|搭建物|建材|工地")
# A short stretch within a clause that does not pass a 的, 了, 存在 or a negation.
_GAP = r"(?:(?!的|了|存在|没|不)[^,，。])"
_BUSY = (
    r"(?:偷偷摸摸|偷偷|悄悄|私自|擅自|违规|违法|加紧|抓紧|赶紧|连夜|拼命|继续|大肆|不停地?|乱|又|还|都|开始)*"
)

_ONGOING = [
    # 正在 / 还在 … building, a few words apart at most: 正在楼顶加盖, 工人现在还在施工
    re.compile(
        rf"(?:正在|还在|仍在|仍然在|依然在|依旧在|又在|一直在|都在|天天在|每天在|还是在){_GAP}{{0,8}}?{_BUILD}"
        r"(?!了[^,，。]|过)"
    ),
    # 在 or 正 right before the building (在搭, 正施工, 在偷偷加层); 在楼顶搭了 is a place, not a time
    re.compile(rf"(?<![存所实自好])[在正]{_BUSY}{_BUILD}"),
    # a time of now or of every day before the building, which is not then done (了 + more, 过, 的)
    re.compile(
        r"(?:连夜|今天|今晚|今早|这几天|这两天|这些天|这段时间|最近|近几天|近期|近来|天天|每天|每晚|整天|成天|"
        r"日夜|没日没夜|一直|现在|目前|此刻|眼下|这会儿|刚刚|又|开始|继续)"
        rf"{_GAP}{{0,6}}?{_BUILD}(?!了[^,，。]|过|的)"
    ),
    re.compile(
        r"施工中|装修中|搭建中|建设中|改造中|开工了|动工了|敲敲打打|叮叮当当|叮叮咚咚|乒乒乓乓|越(?:搭|建|盖)越|"
        r"(?:搭|建|盖|砌|装修)(?:了|到)?一半|(?:还没|还未|尚未)(?:有)?(?:搭|建|盖|砌|装修|完工|竣工|完)|"
        r"(?:快|快要|马上|就要|即将)(?:就)?(?:搭|建|盖|砌|装修|完)(?:好|完|成|工)|"
        r"(?:电钻|电锤|电镐|冲击钻|切割机|挖掘机|搅拌机|电锯|敲打|敲墙|砸墙)声|"
        rf"(?:机器|电钻|电锤|电镐|冲击钻|切割机|挖掘机|搅拌机|电锯){_GAP}{{0,4}}?(?:响|轰|吵|震)"
    ),
]
# The work has stopped or is not going on: 没有在施工, 不是正在搭, 已经停工, 不搭了, 搭到一半停了.
_STOPPED = re.compile(
    r"(?:没有|没|并没有|并没|不是|并不是|不再|没再|没人|没有人|不在)(?:在|正在|再)?"
    r"(?:搭建|加盖|施工|动工|装修|干活|搭|建|盖|砌|敲|砸|挖|焊)(?!筑|议|许可|证|手续|登记|申报|备案|审批|方案|单位|队|公司|垃圾|好|完|成)|"
    r"(?:已经|已|早就|早已|都|现在|目前|暂时)(?:停工|停止施工|停下来|停了|停止了)|停工了|停止施工了|"
    r"(?:施工|装修|工程|工地|工人)(?:已经|已|都)?(?:停了|停工|停下来|撤了|走了)|"
    r"不(?:施工|搭|建|盖|装修|干)了|没(?:有)?动静了|(?:一半|半截)(?:就)?(?:停|不搞|不弄|不干)|"
    r"(?:还没|还未|尚未)(?:有)?(?:开始|开工|动工)"
)
# The building is finished: 已经建好, 早就搭好, 建成多年, 已经完工.
_DONE = re.compile(
    r"(?<![快没未要将上])(?<!没有)(?:搭建|加盖|搭|建|盖|砌|装修)(?:好|完|成)(?!本|员|功|品|交|绩)|"
    r"(?<![没未快])(?:完工|竣工)|施工(?:完毕|结束)|已建(?!议)|(?:早就|早已)(?:已经)?(?:搭|建|盖|砌|装修|弄)"
)
# … or old: 建了好几年, 存在多年, 几年前盖的.
_OLD = re.compile(
    r"(?:建成|存在|建了|搭了|盖了|有|用了|住了)(?:好|快|近|十|很|好多|有)?(?:几|多|\d+|[一二两三四五六七八九十]+)多?年|"
    r"多年(?:前|了|之久)|(?:几|多|好几|\d+|[一二两三四五六七八九十]+)年前"
)
# Times that date what follows to the past, unless they begin a stretch that lasts till now (去年开始, 上个月起).
_PAST = re.compile(
    r"去年|前年|(?:几|多|好几|\d+|[一二两三四五六七八九十]+)年前|早年|以前|之前|从前|当年|当时|那时|那会|"
    r"上个?月|上半年|上次|曾经|前几天|前两天|前段时间|前阵子|前些天|前些日子|上周|上个?星期|上礼拜|年初|"
    r"刚入住|交房|买房"
)
_SINCE = re.compile(r"(?:就)?(?:开始|起|以来|至今|到现在|到今天)")
_PRESENT = re.compile(
    r"现在|目前|如今|今天|今晚|今早|今年|这几天|这两天|这些天|这段时间|最近|近期|近几天|近来|此刻|眼下|"
    r"这会儿|连夜|天天|每天|昨晚|昨天|刚刚|刚才"
)
_PAST_BUILT = re.compile(
    rf"(?:{_PAST.pattern}){_GAP}{{0,8}}?(?:搭建|加盖|加层|加建|扩建|施工|装修|改造|搭|建|盖|砌|挖)"
    rf"(?!{_BUILD_NOUN_ENDINGS})"
)
# Whether it is going on is what the writer asks or does not know: 不知道还在不在施工, 是不是在施工？
_UNSURE = re.compile(r"不知道|不清楚|不确定|不太清楚|说不清|说不准|是否|是不是|在不在|有没有在|吗|么$|[?？]$")
_CLAUSE = re.compile(r"[^,，。.!！;；、/\n\s?？]+[?？]?")


def construction_in_progress(text: str) -> bool | None:
    """Whether a message says building or renovation work is going on now (True), is finished, old or has
    stopped (False), or cannot tell or says nothing about building (None). Any text: it is folded (NFKC,
    lower case) here, so that callers outside the bot need not normalise it first."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    verdicts = [_clause_in_progress(_BUILD_NOUNS.sub("□", clause)) for clause in _CLAUSE.findall(text)]
    if True in verdicts:
        return True
    return False if False in verdicts else None


def _clause_in_progress(clause: str) -> bool | None:
    if _UNSURE.search(clause):
        return None
    if _STOPPED.search(clause):
        return False
    for pattern in _ONGOING:
        if any(not _dated_to_the_past(clause[: m.end()]) for m in pattern.finditer(clause)):
            return True
    if _DONE.search(clause) or _OLD.search(clause) or _PAST_BUILT.search(clause):
        return False
    return None


def _dated_to_the_past(before: str) -> bool:
    """The last time word up to here is one of the past (去年, 之前), not the start of a stretch till now."""
    past = [m for m in _PAST.finditer(before) if not _SINCE.match(before, m.end())]
    if not past:
        return False
    present = [m.start() for m in _PRESENT.finditer(before)]
    return past[-1].start() > max(present, default=-1)
