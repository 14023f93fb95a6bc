"""Typed SQLAlchemy 2 models, one module per aggregate; importing this package registers them all."""

from models import (
    audit,
    consent,
    credit,
    enterprise,
    guarantee,
    identity,
    joint,
    lending,
    messages,
    monitoring,
    notification,
    scoring,
    sources,
    upstream,
)
from models.base import Base

__all__ = ["Base", "audit", "consent", "credit", "enterprise", "guarantee", "identity", "joint", "lending", "messages", "monitoring",
           "notification", "scoring", "sources", "upstream"]
