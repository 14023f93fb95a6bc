"""The message thread of one application between its bank and the enterprise.

Either side may write while the application is in progress. Until the bank has claimed (受理) the need, the
enterprise's contact details are not the bank's to have (DESIGN §8, contact control), so neither side may put
a phone number or an e-mail address into a message before the claim. Every message sent is audited (who,
which application, how long; not its text, which stays in the thread).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from models.base import utcnow
from models.identity import User
from models.lending import Application, ApplicationState
from models.messages import Message, Side
from xinyidai.audit import record
from xinyidai.domain.errors import Invalid, Refused
from xinyidai.domain.lifecycle import TERMINAL

S = ApplicationState
MAX_LENGTH = 1000
# Seven or more digits (spaces, dots and dashes between them allowed: a phone number however written),
# an e-mail address, or a messenger handle.
CONTACT_DETAIL = re.compile(r"(?:\d[\s.\-－—]*){7,}|[\w.+\-]+\s*(?:@|＠)\s*[\w\-]+(?:\.[\w\-]+)+|微信|wechat|QQ",
                            re.IGNORECASE)


def thread(session: Session, application: Application) -> list[Message]:
    return list(session.scalars(sa.select(Message).where(Message.application_id == application.id)
                                .order_by(Message.sent_at, Message.id)))


def may_write(application: Application) -> bool:
    return application.state not in TERMINAL


def send(session: Session, application: Application, sender: User, side: Side, body: str) -> Message:
    """Add a message to the thread. The caller has already scoped `application` to the sender's tenant."""
    body = (body or "").strip()
    if not body:
        raise Invalid({"body": [_l("请填写留言内容。")]})
    if len(body) > MAX_LENGTH:
        raise Invalid({"body": [_l("留言不能超过 1000 个字。")]})
    if not may_write(application):
        raise Refused(_l("该申请已结束，不能再留言。"))
    if application.state is S.MATCHED and CONTACT_DETAIL.search(body):
        raise Invalid({"body": [_l("银行受理需求之前，留言中不能包含电话、邮箱或其他联系方式。")]})
    message = Message(application_id=application.id, bank_id=application.bank_id, uscc=application.uscc, side=side,
                      sender_id=sender.id, body=body)
    session.add(message)
    session.flush()
    record(session, "message_sent", actor_user_id=sender.id, subject_uscc=application.uscc,
           detail={"application_id": application.id, "message_id": message.id, "side": side.value,
                   "length": len(body)})
    return message


def mark_read(session: Session, application: Application, reader: Side) -> int:
    """The reader's side has opened the thread: the other side's messages are read."""
    result = session.execute(sa.update(Message).where(
        Message.application_id == application.id, Message.side != reader, Message.read_at.is_(None))
        .values(read_at=utcnow()))
    return result.rowcount


def unread_for_enterprise(session: Session, uscc: str) -> list[Message]:
    return list(session.scalars(sa.select(Message).where(
        Message.uscc == uscc, Message.side == Side.BANK, Message.read_at.is_(None)).order_by(Message.id.desc())))


def unread_for_bank(session: Session, bank_id: int, limit: int = 100) -> list[Message]:
    return list(session.scalars(sa.select(Message).where(
        Message.bank_id == bank_id, Message.side == Side.ENTERPRISE, Message.read_at.is_(None))
        .order_by(Message.id.desc()).limit(limit)))
