"""Which in-app notifications each user has read.

A notification is an application event that a bank (or the platform) caused on the enterprise's
applications (xinyidai.enterprise.queries); only the read marks are stored here. Marks are per user, not
per enterprise: a colleague reading the news does not hide it from the others.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class NotificationRead(Base):
    """One user has read one event. A row per event, not a read-up-to mark, so that opening one application
    reads just its news and a "mark all read" never covers an event the user has not been shown yet."""

    __tablename__ = "notification_reads"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    event_id: Mapped[int] = mapped_column(sa.ForeignKey("application_events.id", ondelete="CASCADE"),
                                          primary_key=True)
    read_at: Mapped[datetime] = mapped_column(default=utcnow)
