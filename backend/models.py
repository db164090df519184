"""Imports every domain's models so that Base.metadata is complete (for Alembic and tests)."""

from backend import cache as cache_models
from backend.accounts import models as accounts_models
from backend.articles import models as articles_models
from backend.audit import models as audit_models
from backend.cases import models as cases_models
from backend.community import models as community_models
from backend.db import Base
from backend.hotline import models as hotline_models
from backend.messages import models as messages_models
from backend.org import models as org_models
from backend.property import models as property_models
from backend.staff import models as staff_models
from backend.stats import models as stats_models
from backend.taxonomy import models as taxonomy_models
from backend.uploads import models as uploads_models

__all__ = [
    "Base",
    "accounts_models",
    "articles_models",
    "audit_models",
    "cache_models",
    "cases_models",
    "community_models",
    "hotline_models",
    "messages_models",
    "org_models",
    "property_models",
    "staff_models",
    "stats_models",
    "taxonomy_models",
    "uploads_models",
]
