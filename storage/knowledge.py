"""A chat's knowledge base: entries users add, split into passages the database can search.

Retrieval uses each backend's own full-text search so no extra service or
embedding model is needed: an FTS5 virtual table on SQLite (kept in step by
triggers) and a generated ``tsvector`` column with a GIN index on PostgreSQL
(see migration 0003). Both stem English words, so "opens" finds "open".
An entry belongs to one chat, or to the whole workspace (every chat of the
platform) when ``chat_id`` is NULL. The tables are in :mod:`storage.models`,
with every other table, so the migration environment sees them all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import KnowledgeEntry, KnowledgePassage

#: Words too common to say anything about relevance; the rest are OR-ed in the query.
STOPWORDS = frozenset(
    """a about after all also am an and any are as at be been but by can could did do does
    for from had has have he her his how i if in into is it its me my no not of on or our
    she so than that the their them then there these they this to us was we were what when
    where which who whom why will with would you your""".split()  # noqa: SIM905
)
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class EntrySummary:
    """An entry as ``/kb list`` shows it; shortening ``text`` for display is the task's job."""

    id: int
    text: str
    workspace: bool
    author_name: str
    created_at: datetime


@dataclass(frozen=True)
class PassageHit:
    """A passage found by a search; lower ``rank`` is better on both backends."""

    entry_id: int
    passage_id: int
    text: str
    rank: float


async def add_entry(
    session: AsyncSession,
    *,
    chat_id: int | None,
    platform: str,
    user_id: int | None,
    author_name: str,
    text: str,
    passages: list[str],
) -> int:
    """Store an entry and its passages; returns the entry id users will see as ``kb#<id>``."""
    entry = KnowledgeEntry(
        chat_id=chat_id, platform=platform, user_id=user_id, author_name=author_name, text=text
    )
    session.add(entry)
    await session.flush()
    session.add_all(
        KnowledgePassage(
            entry_id=entry.id, chat_id=chat_id, platform=platform, position=i, text=passage
        )
        for i, passage in enumerate(passages)
    )
    await session.flush()
    return entry.id


def _visible(model: type[KnowledgeEntry] | type[KnowledgePassage], chat_id: int, platform: str):  # type: ignore[no-untyped-def]
    return or_(model.chat_id == chat_id, (model.chat_id.is_(None)) & (model.platform == platform))


async def count_entries(session: AsyncSession, *, chat_id: int, platform: str) -> int:
    query = select(func.count()).select_from(KnowledgeEntry)
    return await session.scalar(query.where(_visible(KnowledgeEntry, chat_id, platform))) or 0


async def list_entries(
    session: AsyncSession, *, chat_id: int, platform: str, limit: int = 20
) -> list[EntrySummary]:
    """The newest entries visible in a chat (its own and the workspace's), newest first."""
    rows = await session.scalars(
        select(KnowledgeEntry)
        .where(_visible(KnowledgeEntry, chat_id, platform))
        .order_by(KnowledgeEntry.id.desc())
        .limit(limit)
    )
    return [
        EntrySummary(row.id, row.text, row.chat_id is None, row.author_name, row.created_at)
        for row in rows
    ]


async def get_entry(
    session: AsyncSession, *, entry_id: int, chat_id: int, platform: str
) -> KnowledgeEntry | None:
    """The entry if it is visible in this chat; other chats' entries do not exist here."""
    return await session.scalar(
        select(KnowledgeEntry).where(
            KnowledgeEntry.id == entry_id, _visible(KnowledgeEntry, chat_id, platform)
        )
    )


async def remove_entry(session: AsyncSession, *, entry_id: int) -> bool:
    """Delete an entry; its passages (and their search index rows) go with it."""
    await session.execute(delete(KnowledgePassage).where(KnowledgePassage.entry_id == entry_id))
    result = await session.execute(delete(KnowledgeEntry).where(KnowledgeEntry.id == entry_id))
    return bool(result.rowcount)


async def _authored_by(
    session: AsyncSession, user_id: int, chat_id: int, platform: str
) -> list[int]:
    """Ids of the entries ``user_id`` added that are visible in this chat, oldest first."""
    rows = await session.scalars(
        select(KnowledgeEntry.id)
        .where(KnowledgeEntry.user_id == user_id, _visible(KnowledgeEntry, chat_id, platform))
        .order_by(KnowledgeEntry.id)
    )
    return list(rows)


async def release_entries(
    session: AsyncSession, *, user_id: int, chat_id: int, platform: str
) -> list[int]:
    """Keep the user's entries visible in this chat, but no longer under their name (``/forget``).

    Other members rely on what is in the knowledge base, so forgetting a person removes who
    wrote an entry, not the knowledge; an entry without an author is anyone's to remove.
    Returns the ids of the entries released.
    """
    ids = await _authored_by(session, user_id, chat_id, platform)
    if ids:
        await session.execute(
            update(KnowledgeEntry)
            .where(KnowledgeEntry.id.in_(ids))
            .values(user_id=None, author_name="")
            .execution_options(synchronize_session=False)
        )
    return ids


async def remove_entries_by(
    session: AsyncSession, *, user_id: int, chat_id: int, platform: str
) -> list[int]:
    """Delete the user's entries visible in this chat with their passages (``/forget all``)."""
    ids = await _authored_by(session, user_id, chat_id, platform)
    if ids:
        await session.execute(delete(KnowledgePassage).where(KnowledgePassage.entry_id.in_(ids)))
        await session.execute(delete(KnowledgeEntry).where(KnowledgeEntry.id.in_(ids)))
    return ids


def search_terms(query: str, *, max_terms: int = 24) -> list[str]:
    """The words of ``query`` worth searching for, lowercased, deduplicated, in order."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(query.lower()):
        word = word.strip("_")
        if word.isdigit() or (len(word) > 1 and word not in STOPWORDS):
            seen.setdefault(word, None)
    return list(seen)[:max_terms]


async def search(
    session: AsyncSession, *, chat_id: int, platform: str, query: str, limit: int = 3
) -> list[PassageHit]:
    """The passages visible in this chat that best match any word of ``query``, best first."""
    terms = search_terms(query)
    if not terms:
        return []
    params = {"chat_id": chat_id, "platform": platform, "limit": limit}
    scope = "(p.chat_id = :chat_id OR (p.chat_id IS NULL AND p.platform = :platform))"
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        sql = text(
            "SELECT p.entry_id, p.id, p.text, -ts_rank_cd(p.search, q) AS rank "
            "FROM knowledge_passages p, to_tsquery('english', :query) q "
            f"WHERE p.search @@ q AND {scope} "
            "ORDER BY rank, p.id LIMIT :limit"
        )
        params["query"] = " | ".join(terms)
    else:
        sql = text(
            "SELECT p.entry_id, p.id, p.text, bm25(knowledge_fts) AS rank "
            "FROM knowledge_fts JOIN knowledge_passages p ON p.id = knowledge_fts.rowid "
            f"WHERE knowledge_fts MATCH :query AND {scope} "
            "ORDER BY rank, p.id LIMIT :limit"
        )
        params["query"] = " OR ".join(f'"{term}"' for term in terms)
    rows = (await session.execute(sql, params)).all()
    return [PassageHit(int(r[0]), int(r[1]), str(r[2]), float(r[3])) for r in rows]
