"""Finding the place in a message: estate (by name, alias or road address), town, building, unit and room."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import ahocorasick

from bot.content import Estate, Town, base_name
from bot.text import leftmost_longest, normalise

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CN_NUMBER = re.compile(r"[零〇一二两三四五六七八九十百]+(?=号楼|号|幢|栋|单元|室|楼|期|区|弄)")
_ROAD = re.compile(r"[\u4e00-\u9fff]{1,10}?(?:公路|大道|路|街|巷|浜)")
_ROAD_NUMBER = re.compile(r"\s*(\d+)(?:\s*-\s*(\d+))?\s*(弄|号)?")
_NEXT_NUMBER = re.compile(r"\s*[、,，和及]\s*(\d+)(?:\s*-\s*(\d+))?\s*(弄|号)?")
_QUALIFIER_TEXT = re.compile(r"[(（]([^()（）]*)[)）]|-([东西南北中]区)$")

_BUILDING_UNIT_ROOM = re.compile(r"(?<![\d\-])(\d{1,3})\s*-\s*(\d{1,2})\s*-\s*(\d{3,4})(?![\d\-])")
_BUILDING_ROOM = re.compile(r"(?<![\d\-.:/])(\d{1,3})\s*-\s*(\d{3,4})(?![\d\-.:/])")
_BUILDING = re.compile(r"(\d{1,4}|[a-z]\d{0,2})\s*(?:号楼|幢|栋|座|号院|号门)|弄\s*(\d{1,4})\s*号(?![楼院])")
_UNIT_ROOM = re.compile(r"\s*(\d{1,2})\s*-\s*(\d{3,4})(?![\d\-])")
_UNIT = re.compile(r"(\d{1,2})\s*(?:单元|门洞)")
_ROOM = re.compile(r"(\d{3,4})\s*(?:室|房间|号房)|(?:号楼|幢|栋|单元|号)\s*(\d{3,4})(?!\d)")
_TYPE_QUALIFIER = re.compile(r"[(（](?:公寓|别墅|商铺|住宅|小区)[)）]")
_PREFIXES = ("上海市", "上海", "青浦区")
# Developers and brands that lead many estate names. Inside a name they say nothing about the matter: 绿地
# is green land in 占用绿地, not in 绿地海外滩 or 绿地集团. A name is the brand with a few characters and a
# place word, or the brand with a company word; the characters between may not be those of a clause
# (被, 了, 把, verbs of building), so 绿地被人挖了建花园 stays green land.
DEVELOPERS = (
    "绿地", "万科", "保利", "中海", "绿城", "碧桂园", "龙湖", "融创", "华润", "招商", "金地", "世茂",
    "恒大", "旭辉", "中建", "万达", "雅居乐", "富力", "远洋", "阳光城", "金科", "华侨城", "仁恒", "建发",
    "越秀", "首开", "中梁", "新城控股", "大华", "瑞安", "仁恒",
)  # fmt: skip
# What before a brand's name makes it land, not a name (公共绿地, 占用绿地, 这块绿地).
_LAND_BEFORE = (
    r"(?<!公共)(?<!小区)(?<!的)(?<!占用)(?<!破坏)(?<!毁坏)(?<!这块)(?<!那块)(?<!一块)(?<!一片)(?<!附属)"
    r"(?<!侵占)(?<!毁)(?<!占)(?<!挖)(?<!铲)"
)
_BRANDED = re.compile(
    _LAND_BEFORE + f"({'|'.join(DEVELOPERS)})"
    r"(?:集团|地产|置业|控股|物业|开发商|房产|公司|"
    r"[^\s,，。:：;；!?！？被了把的在有是搭建盖种挖铺围圈成砍毁坏变改拆堆放占用和与跟及自家里上下内外旁边前后中面]{0,6}"
    r"(?:城|苑|园|府|湾|邸|庭|公馆|广场|中心|花园|小区|新村|家园|天地|国际|空间站|外滩|\d期|华庭|雅苑|"
    r"名邸|公寓|大厦|社区|别墅|一品|壹号|1号|都会|名都|都市))"
)
# 绿化 in a company's name (某某绿化工程有限公司) is a trade, not the green land of the complaint.
_GREENING_COMPANY = re.compile(r"(?:园林)?绿化(?:工程|养护|园林|景观|建设|服务|科技)*(?:有限|责任|股份)*公司")


def chinese_numbers_to_digits(text: str) -> str:
    """八号楼 → 8号楼, 十二单元 → 12单元, 三期 → 3期 (numbers below a thousand before a place word)."""
    return _CN_NUMBER.sub(lambda m: str(_cn_to_int(m.group(0))), text)


def _cn_to_int(numeral: str) -> int:
    total, current = 0, 0
    for char in numeral:
        if char == "百":
            total += (current or 1) * 100
            current = 0
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = current * 10 + _CN_DIGITS[char] if current else _CN_DIGITS[char]
    return total + current


@dataclass
class Place:
    estate: str | None = None
    street: str | None = None
    squad: str | None = None
    candidates: list[dict[str, str]] = field(default_factory=list)
    building: str | None = None
    unit: str | None = None
    room: str | None = None


@dataclass(frozen=True)
class _Hit:
    start: int
    end: int
    kind: str  # estate | road | town
    key: str


class Gazetteer:
    """Estates, roads and towns in one Aho-Corasick automaton; built once, read-only afterwards."""

    def __init__(self, estates: Iterable[Estate], towns: Iterable[Town]) -> None:
        self.towns = {t.name: t for t in towns}
        self.estates = _routable(estates, self.towns)
        self._surfaces: dict[str, set[int]] = {}  # each way of writing a name → the estates it names
        self._exact: dict[str, set[int]] = {}  # each name and alias as listed → its estates
        self._addresses: dict[tuple[str, int], set[int]] = {}  # (road, number) → the estates there
        self._road_towns: dict[str, set[str]] = {}  # each road → the towns of the estates on it
        for index, estate in enumerate(self.estates):
            self._index_estate(index, estate)
        self._town_names: dict[str, str] = {}  # a town's name and short name → its name
        for town in self.towns.values():
            self._town_names[normalise(town.name)] = town.name
            self._town_names[normalise(town.short)] = town.name
        self._automaton = self._build_automaton()

    def _index_estate(self, index: int, estate: Estate) -> None:
        names = [estate.name, *estate.aliases]
        for name in names:
            self._exact.setdefault(normalise(name), set()).add(index)
        for surface in _surfaces(names):
            self._surfaces.setdefault(surface, set()).add(index)
        for road, number in _parse_addresses(f"{estate.address}，{estate.name}"):
            self._addresses.setdefault((road, number), set()).add(index)
            self._road_towns.setdefault(road, set()).add(estate.town)

    def _build_automaton(self) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        entries: dict[str, tuple[int, str, str]] = {}
        # Priority when one surface is several things: an estate name beats a road, a road beats a town.
        for surface, town in self._town_names.items():
            entries[surface] = (len(surface), "town", town)
        for road in self._road_towns:
            entries[road] = (len(road), "road", road)
        for surface in self._surfaces:
            entries[surface] = (len(surface), "estate", surface)
        for surface, value in entries.items():
            automaton.add_word(surface, value)
        automaton.make_automaton()
        return automaton

    @property
    def words(self) -> list[str]:
        """Names the tokenizer should keep whole: estates, aliases, roads and towns."""
        return sorted({*self._surfaces, *self._road_towns, *self._town_names})

    def find(self, text: str) -> Place:
        """The place a message names. One estate → its town and squad; a name shared by estates in
        different towns → candidates and no guess; nothing recognisable → an empty Place."""
        normalised = normalise(text)
        place = Place()
        _fill_building_unit_room(chinese_numbers_to_digits(normalised), place)
        hits = self._hits(normalised)
        named_towns = [h.key for h in hits if h.kind == "town"]
        for hit in hits:
            if hit.kind == "estate":
                matched = self._surfaces[hit.key]
                exact = self._exact.get(hit.key, set())
            elif hit.kind == "road":
                number = _ROAD_NUMBER.match(normalised, hit.end)
                matched = self._addresses.get((hit.key, int(number.group(1))), set()) if number else set()
                exact = matched
            else:
                continue
            if matched:
                self._resolve(matched, exact, named_towns, place)
                return place
        road_towns = [self._road_towns[h.key] for h in hits if h.kind == "road"]
        towns = named_towns or [next(iter(t)) for t in road_towns if len(t) == 1]
        if towns:
            self._set_town(place, towns[0])
        return place

    def mask(self, normalised: str) -> str:
        """The text with estate names replaced by 小区, so that a name like 绿地启航城 or 康虹花园 says
        nothing about the category of what is reported there; so are names led by a developer we do not
        list (万科城, 绿地海外滩), and a greening company's name is just 公司."""
        parts, position = [], 0
        for hit in self._hits(normalised):
            if hit.kind == "estate":
                parts += [normalised[position : hit.start], "小区"]
                position = hit.end
        masked = "".join(parts) + normalised[position:] if parts else normalised
        return mask_brands(masked)

    def _hits(self, text: str) -> list[_Hit]:
        return [
            _Hit(start, end, kind, key) for start, end, (kind, key) in leftmost_longest(self._automaton, text)
        ]

    def _resolve(self, matched: set[int], exact: set[int], named_towns: list[str], place: Place) -> None:
        towns = {self.estates[i].town for i in matched}
        if len(towns) > 1 and set(named_towns) & towns:
            # "民惠佳苑 … 香花桥": a town named in the message picks among same-named estates
            keep = set(named_towns) & towns
            matched = {i for i in matched if self.estates[i].town in keep}
            exact = exact & matched
            towns = keep
        if len(towns) > 1:
            place.candidates = self._candidates(matched)
            return
        self._set_town(place, next(iter(towns)))
        chosen = exact if len(exact) == 1 else matched
        if len(chosen) == 1:
            place.estate = self.estates[next(iter(chosen))].name
        else:
            place.candidates = self._candidates(matched)

    def _candidates(self, indices: set[int]) -> list[dict[str, str]]:
        estates = sorted((self.estates[i] for i in indices), key=lambda e: (e.town, e.name))
        return [{"estate": e.name, "street": e.town} for e in estates]

    def _set_town(self, place: Place, town_name: str) -> None:
        town = self.towns[town_name]
        place.street, place.squad = town.name, town.squad


def _routable(estates: Iterable[Estate], towns: dict[str, Town]) -> list[Estate]:
    """The estates in one of our towns (an estate we cannot route is no help), each name and town once."""
    kept: list[Estate] = []
    seen: set[tuple[str, str]] = set()
    for estate in estates:
        if estate.town in towns and (estate.name, estate.town) not in seen:
            seen.add((estate.name, estate.town))
            kept.append(estate)
    return kept


def _surfaces(names: Iterable[str]) -> set[str]:
    """The ways residents write an estate's name: as listed, without qualifiers, with them inline,
    without a 青浦 prefix, and with 一期/1期 in either spelling."""
    surfaces: set[str] = set()
    for name in names:
        name = normalise(name)
        forms = {name, base_name(name)}
        untyped = _TYPE_QUALIFIER.sub("", name)
        forms.add(_QUALIFIER_TEXT.sub(lambda m: m.group(1) or m.group(2), untyped))
        for form in list(forms):
            for prefix in _PREFIXES:
                if form.startswith(prefix) and len(form) - len(prefix) >= 3:
                    forms.add(form[len(prefix) :])
            forms.add(chinese_numbers_to_digits(form))
            forms.add(re.sub(r"(\d)(?=期|区)", lambda m: "零一二三四五六七八九"[int(m.group(1))], form))
        surfaces |= {f for f in forms if len(f) >= 2 and not f.isdigit()}
    return surfaces


def _strip_prefix(road: str) -> str:
    for prefix in (*_PREFIXES, "青浦"):
        if road.startswith(prefix) and len(road) - len(prefix) >= 3:
            return road[len(prefix) :]
    return road


def _parse_addresses(address: str) -> list[tuple[str, int]]:
    """(road, number) pairs of an address: 华志路859、903弄 → (华志路, 859), (华志路, 903); ranges expanded."""
    pairs: list[tuple[str, int]] = []
    address = normalise(address)
    for segment in re.split(r"[，,;；/]", address):
        for road_match in _ROAD.finditer(segment):
            road = _strip_prefix(_strip_town(road_match.group(0)))
            position = road_match.end()
            number = _ROAD_NUMBER.match(segment, position)
            while number and number.group(1):
                first = int(number.group(1))
                last = max(first, int(number.group(2))) if number.group(2) else first
                if number.group(3) == "弄":
                    last = first  # after 弄 the numbers are buildings, not addresses
                for value in range(first, min(last, first + 40) + 1):
                    pairs.append((road, value))
                if number.group(3) == "弄":
                    break
                number = _NEXT_NUMBER.match(segment, number.end())
    return pairs


_TOWN_PREFIX = re.compile(r"^[\u4e00-\u9fff]{2,3}(?:街道|镇)(?=[\u4e00-\u9fff]{2,})")


def _strip_town(road: str) -> str:
    """华新镇华强街 → 华强街."""
    return _TOWN_PREFIX.sub("", road)


def _fill_building_unit_room(text: str, place: Place) -> None:
    if match := _BUILDING_UNIT_ROOM.search(text):
        place.building, place.unit, place.room = match.group(1), match.group(2), match.group(3)
        return
    if match := _BUILDING.search(text):
        place.building = (match.group(1) or match.group(2)).upper()
        if unit_room := _UNIT_ROOM.match(text, match.end()):
            place.unit, place.room = unit_room.group(1), unit_room.group(2)
            return
    if match := _UNIT.search(text):
        place.unit = match.group(1)
    if match := _ROOM.search(text):
        place.room = match.group(1) or match.group(2)
    if place.building is None and place.room is None and (match := _BUILDING_ROOM.search(text)):
        place.building, place.room = match.group(1), match.group(2)


def mask_brands(text: str) -> str:
    """Developer-led names to 小区 (or 公司 for the developer itself), greening companies to 公司. Once a
    letter has named a developer's estate or company, the developer's bare name elsewhere in it is the
    developer too (让绿地给业主一个交代), unless it reads as land (占用绿地, 绿地被毁)."""
    named = {m.group(1) for m in _BRANDED.finditer(text)}
    text = _BRANDED.sub(lambda m: "公司" if m.group(0).endswith(_COMPANY_WORDS) else "小区", text)
    for brand in named:
        text = re.sub(_BARE_BRAND.format(re.escape(brand)), "公司", text)
    return _GREENING_COMPANY.sub("公司", text)


_BARE_BRAND = _LAND_BEFORE + "{}" + r"(?![被里上内中旁边前后])"


_COMPANY_WORDS = ("集团", "地产", "置业", "控股", "物业", "开发商", "房产", "公司")
