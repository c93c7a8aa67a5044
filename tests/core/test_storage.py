"""Storage on SQLite and the real PostgreSQL: schema, times, history, dialogs, chats."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from storage import history
from storage.db import Database, StorageError, alembic_config
from storage.dialogs import set_dialog, take_dialog
from storage.models import Chat, Message, Reminder, ReminderStatus, User
from storage.people import chat_for, mark_chat_unavailable, user_for


async def record_in_a_new_chat(db: Database, *messages: tuple[str, datetime]) -> int:
    """Store ``(text, created_at)`` messages in a new console chat; returns the chat's id."""
    async with db.session() as session:
        chat = await chat_for(session, "console", "c1", "private")
        await session.flush()
        for text, created_at in messages:
            await history.record(
                session,
                chat_id=chat.id,
                user_id=None,
                author_name="a",
                text=text,
                created_at=created_at,
            )
        return chat.id


async def test_times_come_back_as_aware_utc(db: Database) -> None:
    berlin = timezone(timedelta(hours=1))
    await record_in_a_new_chat(db, ("hi", datetime(2026, 3, 29, 2, 30, tzinfo=berlin)))
    async with db.session() as session:
        stored = await session.scalar(select(Message.created_at))
    assert stored == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert stored.utcoffset() == timedelta(0)  # UTC itself, not only the same instant


async def test_naive_datetimes_are_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        await record_in_a_new_chat(db, ("hi", datetime(2026, 1, 1)))


async def test_users_are_unique_per_platform_even_when_created_concurrently(db: Database) -> None:
    async def create() -> int:
        async with db.session() as session:
            return (await user_for(session, "telegram", "42", "Ann")).id

    ids = await asyncio.gather(*(create() for _ in range(5)), return_exceptions=True)
    good = {i for i in ids if isinstance(i, int)}
    assert len(good) == 1
    async with db.session() as session:
        other = await user_for(session, "slack", "42", "Ann on Slack")
        assert other.id not in good
        assert len((await session.scalars(select(User))).all()) == 2


async def test_recent_returns_newest_oldest_first(db: Database) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    chat_id = await record_in_a_new_chat(
        db, *((str(i), start + timedelta(minutes=i)) for i in range(5))
    )
    async with db.session() as session:
        last3 = await history.recent(session, chat_id=chat_id, limit=3)
        since = await history.recent(session, chat_id=chat_id, since=start + timedelta(minutes=3))
    assert [m.text for m in last3] == ["2", "3", "4"]
    assert [m.text for m in since] == ["3", "4"]


async def test_dialog_replaced_taken_once_and_expires(db: Database) -> None:
    now = datetime.now(UTC)
    async with db.session() as session:
        user = await user_for(session, "console", "u", "u")
        chat = await chat_for(session, "console", "c", "private")
        await session.flush()
        for step in ("first", "second"):
            await set_dialog(
                session,
                chat_id=chat.id,
                user_id=user.id,
                task="t",
                step=step,
                data={"n": 1},
                expires_at=now + timedelta(minutes=5),
            )
    async with db.session() as session:
        pending = await take_dialog(session, chat_id=chat.id, user_id=user.id)
        assert pending is not None and (pending.step, pending.data) == ("second", {"n": 1})
        assert await take_dialog(session, chat_id=chat.id, user_id=user.id) is None
        await set_dialog(
            session,
            chat_id=chat.id,
            user_id=user.id,
            task="t",
            step="old",
            data={},
            expires_at=now - timedelta(seconds=1),
        )
    async with db.session() as session:
        assert await take_dialog(session, chat_id=chat.id, user_id=user.id) is None


async def test_unavailable_chat_pauses_only_its_pending_reminders(db: Database) -> None:
    due = datetime.now(UTC) + timedelta(hours=1)
    async with db.session() as session:
        await chat_for(session, "telegram", "100", "group")
        session.add_all(
            [
                Reminder(platform="telegram", chat_external_id="100", text="a", due_at=due),
                Reminder(
                    platform="telegram",
                    chat_external_id="100",
                    text="b",
                    due_at=due,
                    status=ReminderStatus.SENT,
                ),
                Reminder(platform="telegram", chat_external_id="200", text="c", due_at=due),
            ]
        )
    async with db.session() as session:
        paused = await mark_chat_unavailable(
            session, "telegram", "100", "Forbidden: bot was blocked"
        )
    assert paused == 1
    async with db.session() as session:
        statuses = dict((await session.execute(select(Reminder.text, Reminder.status))).all())
        chat = await session.scalar(select(Chat))
    assert statuses == {"a": "paused", "b": "sent", "c": "pending"}
    assert not chat.active and chat.inactive_reason == "Forbidden: bot was blocked"


async def test_schema_newer_than_code_is_refused(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(text("DELETE FROM alembic_version"))
        await conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999_future')"))
    with pytest.raises(StorageError, match="newer than this seqbot"):
        await db.upgrade()


async def test_upgrade_is_idempotent(db: Database) -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert await db.revision() == ", ".join(sorted(heads))  # the fixture upgraded to the head
    await db.upgrade()
    assert await db.revision() == ", ".join(sorted(heads))


async def test_unreachable_database_error_masks_the_password() -> None:
    db = Database("postgresql+asyncpg://bot:hunter2@127.0.0.1:1/seqbot")
    try:
        with pytest.raises(StorageError) as err:
            await db.upgrade()
    finally:
        await db.dispose()
    message = str(err.value)
    assert "hunter2" not in message and "***" in message and "127.0.0.1:1" in message
    assert "\n" not in message


async def test_a_message_from_a_paused_chat_resumes_its_reminders(db: Database) -> None:
    due = datetime.now(UTC) + timedelta(hours=1)
    async with db.session() as session:
        await chat_for(session, "telegram", "100", "group")
        session.add(Reminder(platform="telegram", chat_external_id="100", text="a", due_at=due))
    async with db.session() as session:
        await mark_chat_unavailable(session, "telegram", "100", "kicked")
    async with db.session() as session:
        chat = await chat_for(session, "telegram", "100", "group")
        assert chat.active and chat.inactive_reason is None
    async with db.session() as session:
        assert await session.scalar(select(Reminder.status)) == "pending"
