"""Rules of the organisation: seeding towns and squads, importing estates, finding estates."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from backend.audit.services import record_audit
from backend.cache import ESTATES, cached
from backend.cases.workflow import BUREAU_ROLES, SYSTEM, Actor
from backend.db import assign_changed
from backend.errors import Forbidden, ValidationFailed
from backend.org.models import Estate, EstateAlias, PropertyCompany, Squad, Town
from backend.pagination import MAX_PAGE, Page
from backend.property.companies import assign_estate


class TownSeed(BaseModel):
    code: str = Field(pattern=r"^[a-z_]+$")
    name: str = Field(min_length=2)
    kind: str = Field(pattern=r"^(街道|镇)$")
    squad: str = Field(min_length=2)


class EstateSeed(BaseModel):
    name: str = Field(min_length=1)
    town: str
    address: str = ""
    aliases: list[str] = []


@dataclass
class ImportReport:
    """What an import did, row by row where it did not add or update."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"added {self.added}, updated {self.updated}, unchanged {self.unchanged}, "
            f"skipped {len(self.skipped)}"
        )


def seed_towns(session: Session, towns: Iterable[TownSeed]) -> int:
    """Create or update the towns and their squads; returns how many rows changed."""
    changed = 0
    existing = {t.code: t for t in session.scalars(select(Town).options(selectinload(Town.squad)))}
    for position, seed in enumerate(towns):
        town = existing.get(seed.code)
        if town is None:
            town = Town(code=seed.code)
            session.add(town)
        changed += assign_changed(town, name=seed.name, kind=seed.kind, position=position)
        squad = town.squad or Squad(code=seed.code, town=town)
        if squad.id is None:
            session.add(squad)
            changed += 1
        changed += assign_changed(squad, name=seed.squad)
    session.flush()
    return changed


def find_town(session: Session, text: str) -> Town | None:
    """A town by code, full name (夏阳街道) or short name (夏阳), as the database compares them (case- and
    accent-insensitive), the first in position when two match; found in the estate index (no query while it
    is unchanged), then loaded by its key."""
    entry = estate_index(session).find_town(text)
    return session.get(Town, entry.id) if entry is not None else None


def town_index(session: Session) -> dict[str, Town]:
    """Every way a town is written (code, full name, short name) → the town; read once, used per row."""
    index: dict[str, Town] = {}
    for town in list_towns(session):
        for key in (town.code, town.name, town.name.removesuffix("街道").removesuffix("镇")):
            index[key] = town
    return index


def seed_key_estates(session: Session, estates: Iterable[EstateSeed]) -> ImportReport:
    """Create or update the notice's key estates and mark them as key."""
    report = ImportReport()
    towns = town_index(session)
    known = _KnownEstates.load(session)
    for line, seed in enumerate(estates, start=1):
        town = towns.get(seed.town.strip())
        if town is None:
            report.skipped.append((line, f"unknown town {seed.town!r}"))
            continue
        known.upsert(session, report, town, seed.name, seed.address, seed.aliases, None, is_key=True)
    session.flush()
    return report


def import_estates(session: Session, rows: Iterable[Mapping[str, str | None]]) -> ImportReport:
    """Import estates from rows with `estate`, `street_or_town`, `address` and, optionally, `aliases`
    (separated by |) and `property_company`. Idempotent: a blank cell never erases what we know, aliases
    are only added, and the same name in two towns is two estates. Row numbers count the header as 1."""
    report = ImportReport()
    towns = town_index(session)
    known = _KnownEstates.load(session)
    seen: dict[tuple[int, str], int] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("estate") or "").strip()
        town_text = (row.get("street_or_town") or "").strip()
        if not name:
            report.skipped.append((line, "blank estate name"))
            continue
        town = towns.get(town_text)
        if town is None:
            report.skipped.append((line, f"unknown town {town_text!r}" if town_text else "blank town"))
            continue
        if (town.id, name) in seen:
            report.skipped.append((line, f"repeats line {seen[town.id, name]} ({name}, {town.name})"))
            continue
        seen[town.id, name] = line
        aliases = [a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()]
        known.upsert(
            session,
            report,
            town,
            name,
            (row.get("address") or "").strip(),
            aliases,
            (row.get("property_company") or "").strip() or None,
        )
    session.flush()
    return report


@dataclass
class _KnownEstates:
    """The estates (with aliases and companies) and property companies already stored, read once per import
    instead of once per row; rows added by the import join them."""

    estates: dict[tuple[int, str], Estate]
    companies: dict[str, PropertyCompany]

    @classmethod
    def load(cls, session: Session) -> _KnownEstates:
        estates = session.scalars(
            select(Estate).options(selectinload(Estate.aliases), selectinload(Estate.property_company))
        )
        return cls(
            estates={(e.town_id, e.name): e for e in estates},
            companies={c.name: c for c in session.scalars(select(PropertyCompany))},
        )

    def upsert(
        self,
        session: Session,
        report: ImportReport,
        town: Town,
        name: str,
        address: str,
        aliases: list[str],
        company_name: str | None,
        *,
        is_key: bool = False,
    ) -> Estate:
        estate = self.estates.get((town.id, name))
        created = estate is None
        if estate is None:
            estate = Estate(name=name, town=town, address="", is_key=False)
            session.add(estate)
            self.estates[town.id, name] = estate
        changed = False
        if address and estate.address != address:
            estate.address = address
            changed = True
        if is_key and not estate.is_key:
            estate.is_key = True
            changed = True
        if company_name:
            changed |= self._managed_by(session, estate, company_name)
        known = {a.alias for a in estate.aliases}
        for alias in dict.fromkeys(aliases):
            if alias not in known and alias != name:
                estate.aliases.append(EstateAlias(alias=alias))
                changed = True
        if created:
            report.added += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
        return estate

    def _managed_by(self, session: Session, estate: Estate, company_name: str) -> bool:
        """Put the estate under the named company (created once per import if new) from today, as the bureau's
        assignment does, so that the estate's history has the spell; whether it changed. A stopped company is
        given no estate."""
        company = self.companies.get(company_name)
        if company is None:
            company = self.companies[company_name] = PropertyCompany(name=company_name, active=True)
            session.add(company)
        if estate.property_company is company or not company.active:
            return False
        assign_estate(session, estate, company, SYSTEM)
        return True


def list_towns(session: Session) -> list[Town]:
    return list(session.scalars(select(Town).options(selectinload(Town.squad)).order_by(Town.position)))


def list_squads(session: Session) -> list[Squad]:
    """Every town's squad, in the towns' order."""
    return list(session.scalars(select(Squad).join(Squad.town).order_by(Town.position)))


@dataclass(frozen=True, slots=True)
class TownEntry:
    """A town as the estate search shows it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class EstateEntry:
    """An estate as the estate search finds and shows it; kept per process until an estate, alias, town, squad
    or property company changes (backend/cache.py)."""

    id: int
    name: str
    address: str
    is_key: bool
    town: TownEntry
    aliases: tuple[str, ...]  # in the order of their text, as Estate.aliases
    property_company: str | None  # the company's name


def _fold(text: str) -> str:
    """Text as the database's case- and accent-insensitive collation (utf8mb4_unicode_ci) compares it: full-width
    and compatibility forms as their plain letters, accents dropped, case folded."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


_APART = "\0"  # between the texts an estate is found by; a search for it finds nothing, as LIKE would


@dataclass(frozen=True, slots=True)
class _Found:
    entry: EstateEntry
    rank: int  # the estate's place in the database's order of names (then ids)
    length: int  # LENGTH(name) as the database counts it (bytes on MariaDB, characters on SQLite)
    name: str  # folded
    searched: str  # folded name, address and aliases, _APART between them


@dataclass(frozen=True, slots=True)
class EstateIndex:
    """Every estate, in the database's order of names, with what a search compares; read once per change."""

    estates: tuple[_Found, ...]
    by_town: Mapping[int, tuple[_Found, ...]]
    towns: Mapping[str, TownEntry]  # folded code, full name and short name → the town (find_town's matches)
    named: Mapping[str, tuple[_Found, ...]]  # folded name or alias → the estates called so, in index order

    def find_town(self, text: str) -> TownEntry | None:
        """A town by code, full name (夏阳街道) or short name (夏阳); the first in position when two match."""
        key = text.strip()
        return self.towns.get(_fold(key)) if key else None

    def find_estate(self, name: str, town_id: int | None = None) -> EstateEntry | None:
        """The estate called `name` (by its name, else an alias), within the town when given; None when no
        estate is called so or several are (the one whose own name it is wins over those it is an alias of)."""
        key = _fold(name.strip())
        found = [f for f in self.named.get(key, ()) if town_id is None or f.entry.town.id == town_id]
        exact = [f for f in found if f.name == key]
        if len(exact) == 1:
            return exact[0].entry
        return found[0].entry if len(found) == 1 else None

    def search(self, q: str, town_id: int | None, page: int, per_page: int) -> Page[EstateEntry]:
        """As the query it replaces: name, address or an alias containing `q` (wildcards literal), the exact
        name first, then shorter names, then by name and id; without `q` every estate by name and id."""
        pool = self.estates if town_id is None else self.by_town.get(town_id, ())
        q = q.strip()
        if q:
            key = _fold(q)
            if _APART in key:
                pool = ()
            found = sorted(
                (e for e in pool if key in e.searched), key=lambda e: (e.name != key, e.length, e.rank)
            )
        else:
            found = list(pool)
        page = max(page, 1)
        start = (page - 1) * per_page
        items = [e.entry for e in found[start : start + per_page]] if page <= MAX_PAGE else []
        return Page(items, page, per_page, len(found))


def kept_rows(
    session: Session, model: type[Town] | type[Squad], by: str = "id"
) -> Mapping[Any, Mapping[str, Any]]:
    """Every row of the towns' or the squads' table (as a read-only mapping of its columns), keyed by the column
    `by`; kept per process with the estate list, so no query while it is unchanged. For services that need a
    town or a squad as a row and make it an instance with backend.db.as_loaded."""
    return cached(
        session, ESTATES, lambda reader: _read_rows(reader, model, by), part=f"rows:{model.__name__}:{by}"
    )


def _read_rows(session: Session, model: type[Town] | type[Squad], by: str) -> Mapping[Any, Mapping[str, Any]]:
    rows = session.execute(select(*model.__table__.columns)).mappings()
    return MappingProxyType({row[by]: MappingProxyType(dict(row)) for row in rows})


def estate_index(session: Session) -> EstateIndex:
    """The estate search's index, built once per process and again after any change to what it shows."""
    return cached(session, ESTATES, _read_estate_index, part="search")


def _read_estate_index(session: Session) -> EstateIndex:
    towns = {
        t.id: (t, TownEntry(id=t.id, code=t.code, name=t.name))
        for t in session.scalars(select(Town).order_by(Town.position, Town.id))
    }
    town_keys: dict[str, TownEntry] = {}
    for town, entry in towns.values():  # find_town: by code or name, the first town in position wins
        for key in (town.code, town.name, town.name.removesuffix("街道"), town.name.removesuffix("镇")):
            town_keys.setdefault(_fold(key), entry)
    aliases: dict[int, list[str]] = {}
    for estate_id, alias in session.execute(
        select(EstateAlias.estate_id, EstateAlias.alias).order_by(EstateAlias.estate_id, EstateAlias.alias)
    ):
        aliases.setdefault(estate_id, []).append(alias)
    rows = session.execute(
        select(
            Estate.id,
            Estate.name,
            Estate.address,
            Estate.is_key,
            Estate.town_id,
            func.length(Estate.name),
            PropertyCompany.name,
        )
        .outerjoin(PropertyCompany, PropertyCompany.id == Estate.property_company_id)
        .order_by(Estate.name, Estate.id)
    )
    estates = []
    for rank, (estate_id, name, address, is_key, town_id, length, company) in enumerate(rows):
        own_aliases = tuple(aliases.get(estate_id, ()))
        estate = EstateEntry(estate_id, name, address, bool(is_key), towns[town_id][1], own_aliases, company)
        searched = _APART.join(_fold(text) for text in (name, address, *own_aliases))
        estates.append(_Found(estate, rank, int(length or 0), _fold(name), searched))
    by_town: dict[int, list[_Found]] = {}
    named: dict[str, dict[int, _Found]] = {}
    for found in estates:
        by_town.setdefault(found.entry.town.id, []).append(found)
        for text in (found.entry.name, *found.entry.aliases):
            named.setdefault(_fold(text.strip()), {})[found.entry.id] = found
    return EstateIndex(
        estates=tuple(estates),
        by_town=MappingProxyType({town_id: tuple(found) for town_id, found in by_town.items()}),
        towns=MappingProxyType(town_keys),
        named=MappingProxyType({key: tuple(found.values()) for key, found in named.items()}),
    )


def search_estates(
    session: Session, *, q: str = "", town: Town | str | None = None, page: int = 1, per_page: int = 20
) -> Page[EstateEntry]:
    """Estates whose name, address or an alias contains `q`, best matches first, within `town` (a town, or its
    code, full or short name: an unknown one is a ValidationFailed on `town`). One primary-key read per call:
    the estates are kept per process (backend/cache.py)."""
    index = estate_index(session)
    town_id = None
    if isinstance(town, Town):
        town_id = town.id
    elif town:
        found = index.find_town(town)
        if found is None:
            raise ValidationFailed.on("town", "没有这个街镇", description=f"town: unknown town {town!r}")
        town_id = found.id
    return index.search(q, town_id, page, per_page)


def find_estate(session: Session, name: str, town: Town | None = None) -> Estate | None:
    """The estate called `name` (a name first, else an alias), within `town` when given; None when there is
    no such estate or the name is ambiguous: a wrong squad costs more than the bureau's triage. Found in the
    estate index (EstateIndex.find_estate), then loaded by its key."""
    entry = estate_index(session).find_estate(name, town.id if town is not None else None)
    return session.get(Estate, entry.id) if entry is not None else None


def write_gazetteer(session: Session, path: Path) -> int:
    """Write every estate in the estate-import CSV format (with aliases), for the bot's place finder."""
    import csv

    rows = session.scalars(select(Estate).options(selectinload(Estate.aliases), selectinload(Estate.town)))
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["estate", "street_or_town", "address", "aliases"])
        for estate in rows:
            writer.writerow(
                [estate.name, estate.town.name, estate.address, "|".join(a.alias for a in estate.aliases)]
            )
            count += 1
    return count


def set_watched(
    session: Session, estate: Estate, watched: bool, actor: Actor, now: dt.datetime, *, ip: str = ""
) -> bool:
    """Put an estate on the bureau's key-estate watch list or take it off; whether anything changed (a second
    click on the same button does nothing and records nothing). The notice's seven are on it from the seed,
    which puts them back at the next `flask seed` if they were taken off."""
    if actor.role not in BUREAU_ROLES:
        raise Forbidden("只有区局可以调整重点关注小区", description=f"{actor.role.value} is not the bureau")
    if estate.is_key == watched:
        return False
    estate.is_key = watched
    action = "estate.watch" if watched else "estate.unwatch"
    detail = {"name": estate.name, "town_id": estate.town_id}
    record_audit(session, actor, action, "estate", estate.id, detail=detail, ip=ip, now=now)
    session.flush()
    return True
