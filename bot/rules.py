"""Hand-written rules that must not depend on a model: emergencies, tracking numbers, greetings, progress."""

from __future__ import annotations

import re

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
