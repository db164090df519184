"""Reading the bot's content files (taxonomy, towns, estates, FAQ, laws, training data) into plain records."""

from __future__ import annotations

import csv
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INTENTS = ("report", "consult", "progress", "greeting", "other")
OUT_OF_SCOPE = "out_of_scope"


class ContentError(ValueError):
    """A content file is missing something the bot needs, or contradicts another file."""


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    group: str | None
    description: str
    keywords: tuple[str, ...]
    # hours to be on site when building is going on now (上海市拆除违法建筑若干规定 第七条), where that applies
    onsite_hours_in_progress: int | None = None


@dataclass(frozen=True)
class Town:
    code: str
    name: str
    squad: str
    short: str  # the name without 街道/镇, as residents often say it: 夏阳, 徐泾


@dataclass(frozen=True)
class Estate:
    name: str
    town: str  # a Town.name
    address: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    law: str
    article: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"law": self.law, "article": self.article}


@dataclass(frozen=True)
class Faq:
    id: str
    category: str
    questions: tuple[str, ...]
    answer: str
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Law:
    name: str
    aliases: tuple[str, ...]
    in_reference: bool
    articles: tuple[str, ...]  # article numbers as written: 第五十九条


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    category: str | None


@dataclass(frozen=True)
class Synonym:
    canonical: str
    variants: tuple[str, ...]
    # the variants are left as written in a message that contains any of these words (a bare 违章 in a
    # message about 交警 and 扣分 is a traffic offence, not an illegal building)
    unless: tuple[str, ...] = ()


@dataclass
class Content:
    """Everything under a content folder that the bot reads; optional files give empty lists."""

    categories: list[Category]
    towns: list[Town]
    estates: list[Estate]
    faqs: list[Faq] = field(default_factory=list)
    laws: list[Law] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)
    synonyms: list[Synonym] = field(default_factory=list)
    dictionary: Path | None = None

    @property
    def category_codes(self) -> list[str]:
        return [c.code for c in self.categories]

    @property
    def in_progress_categories(self) -> frozenset[str]:
        """Codes of the categories where building can be going on now (those with onsite_hours_in_progress)."""
        return frozenset(c.code for c in self.categories if c.onsite_hours_in_progress)


def _toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        return tomllib.load(f)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v).strip() for v in (value or []) if str(v).strip())


def load_content(content_dir: Path) -> Content:
    """Read and cross-check the content folder. Raises ContentError when the files contradict each other."""
    content_dir = Path(content_dir)
    taxonomy = _toml(content_dir / "taxonomy.toml")
    categories = [
        Category(
            code=c["code"],
            name=c.get("name", c["code"]),
            group=c.get("group"),
            description=c.get("description", ""),
            keywords=_strings(c.get("keywords")),
            onsite_hours_in_progress=c.get("onsite_hours_in_progress"),
        )
        for c in taxonomy["categories"]
    ]
    codes = {c.code for c in categories}
    if OUT_OF_SCOPE not in codes:
        raise ContentError("taxonomy.toml has no out_of_scope category")
    towns = [
        Town(code=t["code"], name=t["name"], squad=t["squad"], short=_short_town(t["name"]))
        for t in _toml(content_dir / "org.toml")["towns"]
    ]
    estates_path = content_dir / "key_estates.toml"
    estates = (
        [
            Estate(
                name=e["name"],
                town=e["town"],
                address=e.get("address", ""),
                aliases=_strings(e.get("aliases")),
            )
            for e in _toml(estates_path).get("estates", [])
        ]
        if estates_path.exists()
        else []
    )
    bot_dir = content_dir / "bot"
    content = Content(
        categories=categories,
        towns=towns,
        estates=estates,
        faqs=_load_faqs(bot_dir / "faq.toml"),
        laws=_load_laws(content_dir / "laws.toml"),
        examples=[
            example
            for path in sorted(bot_dir.glob("examples*.jsonl"))  # examples.jsonl, examples_extra.jsonl, …
            for example in _load_examples(path, codes)
        ],
        synonyms=_load_synonyms(bot_dir / "synonyms.toml"),
        dictionary=bot_dir / "dictionary.txt" if (bot_dir / "dictionary.txt").exists() else None,
    )
    check_content(content)
    return content


def _short_town(name: str) -> str:
    for suffix in ("街道", "镇"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


def _load_faqs(path: Path) -> list[Faq]:
    if not path.exists():
        return []
    faqs = []
    for item in _toml(path).get("faq", []):
        sources = tuple(
            Source(
                law=str(s["law"]).strip(),
                article=(str(s["article"]).strip() or None) if s.get("article") else None,
            )
            for s in item.get("sources", [])
        )
        faqs.append(
            Faq(
                id=str(item["id"]),
                category=item["category"],
                questions=_strings(item.get("questions")),
                answer=str(item.get("answer", "")).strip(),
                sources=sources,
            )
        )
    return faqs


def _load_laws(path: Path) -> list[Law]:
    if not path.exists():
        return []
    return [
        Law(
            name=str(law["name"]).strip(),
            aliases=_strings(law.get("aliases")),
            in_reference=bool(law.get("in_reference", False)),
            articles=tuple(str(a["number"]).strip() for a in law.get("articles", [])),
        )
        for law in _toml(path).get("laws", [])
    ]


def _load_examples(path: Path, codes: set[str]) -> list[Example]:
    if not path.exists():
        return []
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ContentError(f"{path.name}:{number}: not JSON ({exc.msg})") from exc
        text = str(row.get("text", "")).strip()
        intent = row.get("intent", "other")
        category = row.get("category") or None
        if not text or intent not in INTENTS or (category is not None and category not in codes):
            raise ContentError(
                f"{path.name}:{number}: needs text, an intent of {INTENTS} and a known category"
            )
        examples.append(Example(text=text, intent=intent, category=category))
    return examples


def _load_synonyms(path: Path) -> list[Synonym]:
    if not path.exists():
        return []
    return [
        Synonym(
            canonical=str(s["canonical"]).strip(),
            variants=_strings(s.get("variants")),
            unless=_strings(s.get("unless")),
        )
        for s in _toml(path).get("synonyms", [])
        if str(s.get("canonical", "")).strip()
    ]


def check_content(content: Content) -> None:
    """Every FAQ has a known category and cites only laws (and, where listed, articles) in laws.toml."""
    codes = set(content.category_codes)
    laws = law_index(content.laws)
    problems = []
    for faq in content.faqs:
        if faq.category not in codes:
            problems.append(f"faq {faq.id}: unknown category {faq.category}")
        if not faq.questions or not faq.answer:
            problems.append(f"faq {faq.id}: needs questions and an answer")
        for source in faq.sources:
            law = laws.get(source.law)
            if law is None:
                problems.append(f"faq {faq.id}: cites {source.law}, which laws.toml does not have")
            elif source.article and law.articles and source.article not in law.articles:
                problems.append(f"faq {faq.id}: cites {source.law} {source.article}, not listed in laws.toml")
    if problems:
        raise ContentError("; ".join(problems))


def law_index(laws: list[Law]) -> dict[str, Law]:
    """Laws by name and by every alias."""
    index: dict[str, Law] = {}
    for law in laws:
        for name in (law.name, *law.aliases):
            index[name] = law
    return index


_QUALIFIER = re.compile(r"[(（][^()（）]*[)）]|-[东西南北中]区$")


def load_gazetteer(path: Path, towns: list[Town]) -> list[Estate]:
    """Estates from an estate-import CSV: `estate,street_or_town,address[,aliases]` (aliases |-separated).

    Rows whose town is not one of ours are skipped: an estate we cannot route is no help."""
    by_name = {t.name: t.name for t in towns} | {t.short: t.name for t in towns}
    estates = []
    with Path(path).open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            name = (row.get("estate") or "").strip()
            town = by_name.get((row.get("street_or_town") or "").strip())
            if not name or town is None:
                continue
            aliases = _strings((row.get("aliases") or "").split("|"))
            estates.append(
                Estate(name=name, town=town, address=(row.get("address") or "").strip(), aliases=aliases)
            )
    return estates


def base_name(name: str) -> str:
    """The name without qualifiers residents leave out: 三友星墅(公寓) → 三友星墅, 瑞和锦庭-东区 → 瑞和锦庭."""
    previous = None
    while previous != name:
        previous, name = name, _QUALIFIER.sub("", name).strip()
    return name


_MARKUP = re.compile(r"!\[([^\]]*)\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|^#+\s*|^\s*[-*>]\s+|[*_`|]", re.MULTILINE)


@dataclass(frozen=True)
class ArticleFile:
    """A legal-education article as content/articles/<slug>.md has it: TOML front matter between +++
    lines, then Markdown (read into plain text here, roughly: the bot only indexes the words)."""

    slug: str
    title: str
    summary: str
    body: str
    categories: tuple[str, ...]


def load_article_files(folder: Path) -> list[ArticleFile]:
    """The articles of a folder as the embedded service seeds them (README.md aside), for measuring the bot
    as residents meet it; a file without front matter is skipped. The backend's loader checks them."""
    articles = []
    for path in sorted(Path(folder).glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        _, fence, rest = path.read_text(encoding="utf-8").partition("+++")
        front_text, fence_end, body = rest.partition("\n+++")
        if not fence or not fence_end:
            continue
        front = tomllib.loads(front_text)
        text = _MARKUP.sub(lambda m: m.group(1) or m.group(2) or "", body)
        articles.append(
            ArticleFile(
                slug=path.stem,
                title=str(front.get("title", "")),
                summary=str(front.get("summary", "")),
                body="\n".join(line.strip() for line in text.splitlines() if line.strip()),
                categories=_strings(front.get("categories")),
            )
        )
    return articles
