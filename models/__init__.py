"""Typed SQLAlchemy 2 models, one module per aggregate; importing this package registers them all."""

from models.base import Base
from models import audit, consent, enterprise, identity, lending, monitoring, scoring, sources

__all__ = ["Base", "audit", "consent", "enterprise", "identity", "lending", "monitoring", "scoring", "sources"]
