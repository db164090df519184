"""Loading the seed content of `content/` into the database: idempotent, run by `flask seed`."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from backend.articles.seed import ArticleSeedReport, seed_articles
from backend.articles.services.checks import load_rules
from backend.db import utcnow
from backend.org.services import EstateSeed, ImportReport, TownSeed, seed_key_estates, seed_towns
from backend.taxonomy.services import TaxonomySeed, seed_taxonomy


@dataclass
class SeedResult:
    towns_changed: int
    categories_changed: int
    key_estates: ImportReport
    articles: ArticleSeedReport

    def summary(self) -> str:
        return (
            f"towns and squads: {self.towns_changed} changes; categories: {self.categories_changed} changes; "
            f"key estates: {self.key_estates.summary()}; {self.articles.summary()}"
        )


def load_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def seed_content(session: Session, content_dir: Path) -> SeedResult:
    """Bring the organisation, the taxonomy, the key estates and the articles in line with `content_dir`."""
    org = load_toml(content_dir / "org.toml")
    towns_changed = seed_towns(session, [TownSeed.model_validate(t) for t in org["towns"]])
    taxonomy = TaxonomySeed.model_validate(load_toml(content_dir / "taxonomy.toml"))
    categories_changed = seed_taxonomy(session, taxonomy)
    key = load_toml(content_dir / "key_estates.toml")
    key_report = seed_key_estates(session, [EstateSeed.model_validate(e) for e in key["estates"]])
    articles = seed_articles(session, content_dir / "articles", load_rules(content_dir), now=utcnow())
    return SeedResult(towns_changed, categories_changed, key_report, articles)
