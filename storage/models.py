"""The ORM models: everything seqbot remembers lives in these tables, all defined here.

Times are stored as UTC (``UTCDateTime``) whatever the backend; a user's IANA
zone is stored beside them so wall-clock meaning is never lost. Schema changes
go through an Alembic migration in ``storage/migrations/versions``. The migration
environment imports this one module, so every table must be here: a model defined
elsewhere would look like a table to drop to ``alembic revision --autogenerate``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL.

    SQLite has no time zone support, so values are normalized to naive UTC on
    the way in and tagged as UTC on the way out; naive input is refused to
    catch local-time bugs early.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class User(Base):
    """A person on one platform; settings are per user, not per chat."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    timezone: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Chat(Base):
    """A conversation on one platform; inactive once the platform says we may not post."""

    __tablename__ = "chats"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="private")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    inactive_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """What the bot saw and said in a chat, for context, summaries and sentiment."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_chat_created", "chat_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(256), default="")
    from_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    chat: Mapped[Chat] = relationship(lazy="raise")


class DialogState(Base):
    """The one pending multi-step interaction of a user in a chat (e.g. 'which time zone?')."""

    __tablename__ = "dialog_states"
    __table_args__ = (UniqueConstraint("chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[datetime]


class ReminderStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PAUSED = "paused"
    MISSED = "missed"


class Reminder(Base):
    """A message to post at ``due_at`` to a stored address; the source of truth for delivery.

    ``timezone`` keeps the user's zone so recurring reminders keep their wall-clock
    time across daylight-saving changes; ``lease_until`` lets several
    dispatchers claim due rows without sending one twice.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        Index("ix_reminders_status_due", "status", "due_at"),
        # The per-user cap counts a user's active reminders without scanning.
        Index("ix_reminders_user_status", "user_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    chat_external_id: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    rrule: Mapped[str | None] = mapped_column(Text)
    status: Mapped[ReminderStatus] = mapped_column(
        Enum(
            ReminderStatus,
            native_enum=False,
            length=16,
            values_callable=lambda e: [m.value for m in e],
        ),
        default=ReminderStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The occurrence the user asked for; ``due_at`` moves on retries, this does not,
    #: so lateness is measured from it and recurrences are computed from it.
    occurs_at: Mapped[datetime | None]
    #: Who to name when a personal reminder ("/remind me") is posted in a group chat.
    mention: Mapped[str | None] = mapped_column(String(256))


class ProcessedEvent(Base):
    """Platform event ids already handled, so retried deliveries run once across workers."""

    __tablename__ = "processed_events"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgeEntry(Base):
    """One thing a user added with ``/kb add``; ``kb#<id>`` in answers refers to this id."""

    __tablename__ = "knowledge_entries"
    __table_args__ = (Index("ix_knowledge_entries_scope", "platform", "chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: NULL: workspace-wide, visible in every chat of ``platform``.
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(256), default="")
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class KnowledgePassage(Base):
    """A retrievable piece of an entry, short enough to go into a prompt whole.

    Scope columns are copied from the entry so a search filters without a join.
    PostgreSQL adds a generated ``search`` tsvector column that the ORM never writes.
    """

    __tablename__ = "knowledge_passages"
    __table_args__ = (Index("ix_knowledge_passages_entry", "entry_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("knowledge_entries.id", ondelete="CASCADE"))
    chat_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)


#: What migration 0003 creates for full-text search beside the ORM tables: SQLite's FTS5
#: table ``knowledge_fts`` with the shadow tables FTS5 keeps for it, and PostgreSQL's
#: generated ``knowledge_passages.search`` column with its GIN index. Only the raw SQL
#: of :func:`storage.knowledge.search` reads them, so no model maps them.
_SEARCH_TABLES = re.compile(r"knowledge_fts(?:_(?:data|idx|content|docsize|config))?")
_SEARCH_OBJECTS = frozenset(
    {
        ("column", "knowledge_passages", "search"),
        ("index", "knowledge_passages", "ix_knowledge_passages_search"),
    }
)


def include_in_autogenerate(
    name: str | None, type_: str, parent_names: Mapping[str, str | None]
) -> bool:
    """Alembic's ``include_name`` hook: leave the full-text search objects out of comparisons.

    Without it autogenerate would propose dropping them, since the database has them
    and the models do not.
    """
    if type_ == "table":
        return name is None or not _SEARCH_TABLES.fullmatch(name)
    return (type_, parent_names.get("table_name"), name) not in _SEARCH_OBJECTS
