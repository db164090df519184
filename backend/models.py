"""Imports every domain's models so that Base.metadata is complete (for Alembic and tests)."""

from backend.db import Base
from backend.org import models as org_models
from backend.taxonomy import models as taxonomy_models

__all__ = ["Base", "org_models", "taxonomy_models"]
