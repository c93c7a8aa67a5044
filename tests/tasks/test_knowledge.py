"""/kb through the console chat, and retrieval on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

from sqlalchemy import func, select

from storage import knowledge
from storage.models import KnowledgeEntry, KnowledgePassage
from tasks.knowledge import preview
from tests.tasks.conftest import language_tasks, say_as, say_replying
from tests.tasks.test_knowledge_files import say_in_group

OFFICE = "The office opens at 9am and closes at 6pm on weekdays."
WIFI = "The guest wifi network is called seqnet and its password is hunter2."
PARKING = "Visitors park in the north garage; the south garage is for staff only."
SAVED = "Saved as `kb#1` for this chat. /ask questions can now use it."


async def test_add_list_and_remove(chat):
    assert await chat.say_one(f"/kb add {OFFICE}") == SAVED
    assert await chat.say_one("/kb list") == f"**Knowledge base** (1 entry)\n- `kb#1`: {OFFICE}"
    assert await chat.say_one("/kb remove kb#1") == "Removed `kb#1`."
    assert await chat.say_one("/kb list") == (
        "The knowledge base is empty. Add something with /kb add <text>."
    )
    assert await chat.say_one("/kb remove 1") == (
        "There is no entry kb#1 here; /kb list shows them."
    )


def test_a_preview_is_one_line_cut_with_an_ellipsis():
    assert preview("two\n  lines ", 20) == "two lines"
    assert preview("abcdef ghij", 8) == "abcdef…"  # no space before the ellipsis
    assert preview("x" * 10, 10) == "x" * 10


async def test_list_and_search_show_long_texts_shortened(chat):
    text = "The fire exit\nis behind the kitchen. " + "Keep the corridor clear. " * 12
    await chat.say(f"/kb add {text}")
    flat = " ".join(text.split())
    listing = await chat.say_one("/kb list")
    assert listing.splitlines()[1] == f"- `kb#1`: {flat[:79]}…"
    found = await chat.say_one("/kb search fire exit")
    assert found.splitlines() == ["**Found 1 passage**", f"- `kb#1`: {flat[:199].rstrip()}…"]


async def test_retrieval_finds_the_right_passage(chat, db):
    for text in (OFFICE, WIFI, PARKING):
        await chat.say(f"/kb add {text}")
    found = await chat.say_one("/kb search when does the office open?")
    first = found.splitlines()[1]
    assert OFFICE[:40] in first  # stemming: "open" finds "opens"
    assert "hunter2" in (await chat.say_one("/kb search wifi password")).splitlines()[1]
    assert "Nothing in the knowledge base" in await chat.say_one("/kb search kangaroo")


async def test_long_entries_are_split_and_only_the_matching_passage_is_returned(chat, db):
    filler = " ".join(f"Paragraph {i} talks about nothing in particular." for i in range(30))
    reply = await chat.say_one(f"/kb add {filler}\n\n{WIFI}\n\n{filler}")
    assert reply == "Saved as `kb#1` for this chat in 7 passages. /ask questions can now use it."
    async with db.session() as session:
        passages = (await session.scalars(select(KnowledgePassage.text))).all()
        hits = await knowledge.search(
            session, chat_id=1, platform="console", query="wifi password", limit=1
        )
    assert len(passages) == 7
    assert hits and WIFI in hits[0].text and len(hits[0].text) <= 500


async def test_entries_are_per_chat_unless_workspace_wide(chat, db):
    await chat.say(f"/kb add {OFFICE}")
    assert "Nothing" in (await say_as(chat, "Bob", "/kb search office", chat_id="other"))[0]
    denied = await chat.say_one(f"/kb add --workspace {PARKING}")
    assert denied == "Only knowledge base admins can add workspace-wide entries."


async def test_admins_add_workspace_entries_visible_everywhere(make_chat, pool):
    chat = await make_chat(plugins=language_tasks(), engine=pool, kb_admins=["alice"])
    reply = await chat.say_one(f"/kb add --workspace {PARKING}")
    assert reply == "Saved as `kb#1` for every chat. /ask questions can now use it."
    found = await say_as(chat, "Bob", "/kb search garage", chat_id="other")
    assert "north garage" in found[0]
    assert "admins" in (await say_as(chat, "Bob", "/kb remove 1", chat_id="other"))[0]


async def test_only_the_author_removes_an_entry(chat):
    await chat.say(f"/kb add {OFFICE}")
    assert "added by alice" in (await say_as(chat, "Bob", "/kb remove 1"))[0]


async def test_add_by_replying_to_a_message(chat, db):
    reply = await say_replying(chat, "/kb add", WIFI)
    assert reply == [SAVED]
    async with db.session() as session:
        assert await session.scalar(select(KnowledgeEntry.text)) == WIFI
    no_text = await say_replying(chat, "/kb add", None)
    assert no_text == ["The message you replied to has no text I can store."]


async def test_usage_errors(chat, db):
    # A bare /kb add asks in a private chat (tests/tasks/test_knowledge_files.py), not in groups.
    assert (await say_in_group(chat, "/kb add"))[0].startswith("Give me the text to remember")
    assert "Usage:\n/kb add" in await chat.say_one("/kb frobnicate")
    not_a_number = await chat.say_one("/kb remove twelve")
    assert not_a_number.split("\n")[:2] == [
        "Which entry? Give its number, e.g. /kb remove 12.",
        "Usage:",
    ]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(KnowledgeEntry)) == 0


async def test_removing_an_entry_removes_it_from_the_search_index(chat, db):
    await chat.say(f"/kb add {WIFI}")
    await chat.say("/kb remove 1")
    assert "Nothing" in await chat.say_one("/kb search wifi")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(KnowledgePassage)) == 0


async def test_knowledge_base_works_without_a_model(make_chat):
    chat = await make_chat(plugins=language_tasks(), engine=None, with_engine=False)
    assert (await chat.say_one(f"/kb add {OFFICE}")).startswith("Saved as")
    assert "not enabled" in await chat.say_one("/ask when does the office open?")
    assert "office" in await chat.say_one("/kb search office")


def test_search_terms_drop_stopwords_and_punctuation():
    assert knowledge.search_terms("What is the Wi-Fi password?") == ["wi", "fi", "password"]
    assert knowledge.search_terms("is it?") == []


async def test_search_syntax_in_questions_is_treated_as_words(chat):
    await chat.say(f"/kb add {WIFI}")
    for query in ('"wifi" AND (password) OR NOT', "foo_bar & | ! :* near(", "ÜBER wifi’s"):
        reply = await chat.say_one(f"/kb search {query}")
        assert reply.startswith(("**Found", "Nothing")), reply
    assert "hunter2" in await chat.say_one('/kb search "wifi" AND (password) OR NOT')


async def entries(db) -> dict[str, tuple[int | None, str]]:  # type: ignore[no-untyped-def]
    """Each stored entry's text with its author (user id, name)."""
    async with db.session() as session:
        rows = (await session.scalars(select(KnowledgeEntry))).all()
    return {row.text: (row.user_id, row.author_name) for row in rows}


async def test_forget_keeps_my_entries_as_shared_knowledge_without_my_name(make_chat, pool, db):
    chat = await make_chat(plugins=language_tasks(), engine=pool, kb_admins=["alice"])
    await chat.say(f"/kb add {OFFICE}")  # kb#1
    await chat.say(f"/kb add --workspace {PARKING}")  # kb#2, visible in every chat
    await say_as(chat, "Bob", f"/kb add {WIFI}")  # kb#3
    await say_as(chat, "alice", "/kb add Lunch is at noon.", chat_id="other")  # kb#4, elsewhere
    reply = await chat.say_one("/forget")
    assert reply.startswith("Done. I deleted ")
    assert (
        "Your knowledge base entries kb#1, kb#2 stay as shared knowledge, no longer under your "
        "name (/kb remove <id> deletes one)." in reply
    )
    stored = await entries(db)
    assert stored[OFFICE] == (None, "") and stored[PARKING] == (None, "")
    assert stored[WIFI][1] == "Bob" and stored["Lunch is at noon."][1] == "alice"
    assert "opens at 9am" in (await say_as(chat, "Bob", "/kb search office"))[0]
    assert await say_as(chat, "Bob", "/kb remove 1") == ["Removed `kb#1`."]  # shared now


async def test_forget_all_deletes_my_entries_too(chat, db):
    await chat.say(f"/kb add {OFFICE}")
    await say_as(chat, "Bob", f"/kb add {WIFI}")
    reply = await chat.say_one("/forget all")
    assert "and 1 knowledge base entry of yours in this chat" in reply
    assert list(await entries(db)) == [WIFI]
    assert "Nothing" in await chat.say_one("/kb search office")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(KnowledgePassage)) == 1


async def test_forget_with_anything_else_does_nothing_and_says_how(chat, db):
    await chat.say(f"/kb add {OFFICE}")
    reply = await chat.say_one("/forget everything please")
    assert reply.startswith("Send /forget, or /forget all to delete your knowledge base entries")
    assert list((await entries(db)).values()) == [(1, "alice")]
