"""/ask and free text: knowledge base first, then the conversation, then the model alone."""

from __future__ import annotations

from bot.engine import EngineBusy, ModelNotAvailable
from tasks.ask import MODEL_ALONE
from tests.tasks.conftest import FakeEngine, FakePool, language_tasks, say_as, say_replying

OFFICE = "The office opens at 9am and closes at 6pm on weekdays."
WIFI = "The guest wifi network is called seqnet and its password is hunter2."


async def test_answer_from_the_knowledge_base_cites_the_entry(chat, engine):
    await chat.say(f"/kb add {WIFI}")
    office_id = (await chat.say_one(f"/kb add {OFFICE}")).split("kb#")[1].split("`")[0]
    engine.answer = lambda prompt: "At 9am."
    reply = await chat.say_one("/ask When does the office open?")
    assert reply == f"At 9am.\n\nSource: kb#{office_id}"
    (prompt,) = engine.prompts("generate")
    assert OFFICE in prompt and prompt.endswith("Question: When does the office open?")
    assert prompt.index(OFFICE) < prompt.index("Question:")


async def test_free_text_in_a_private_chat_is_a_question(chat, engine):
    assert await chat.say_one("what is the capital of France?") == (
        "scripted answer\n\n(Answered by the model alone: nothing in this chat's knowledge base "
        "or recent conversation matched.)"
    )
    assert engine.prompts("generate")[0].endswith("Question: what is the capital of France?")


async def test_model_alone_says_so(chat, engine):
    reply = await chat.say_one("/ask how many legs does a spider have?")
    assert reply == f"scripted answer\n\n{MODEL_ALONE}"
    assert "Notes:" not in engine.prompts()[0] and "Conversation:" not in engine.prompts()[0]


async def test_recent_conversation_is_the_second_source(chat, engine):
    await say_as(chat, "Bob", "The release deadline moved to Friday the 12th.")
    await say_as(chat, "Carol", "Lunch is at noon today.")
    reply = await chat.say_one("/ask when is the release deadline?")
    assert reply.endswith("Source: the recent conversation in this chat.")
    prompt = engine.prompts("generate")[-1]
    assert "Bob: The release deadline moved to Friday the 12th." in prompt
    assert "Lunch" not in prompt  # only messages that share a word with the question


async def test_follow_up_sees_the_same_users_previous_exchange(chat, engine):
    engine.answer = lambda prompt: "Paris is the capital of France."
    await chat.say("/ask what is the capital of France?")
    engine.answer = lambda prompt: "About two million."
    await chat.say("how many people live there?")
    follow_up = engine.prompts("generate")[-1]
    assert "Previous question: what is the capital of France?" in follow_up
    assert "Previous answer: Paris is the capital of France." in follow_up
    assert MODEL_ALONE not in follow_up  # the source line is not fed back to the model


async def test_follow_up_context_is_per_user(chat, engine):
    await chat.say("/ask what is the capital of France?")
    await say_as(chat, "Bob", "/ask and how many people live there?")
    assert "Previous question" not in engine.prompts("generate")[-1]


async def test_context_is_trimmed_to_the_model_limit(make_chat):
    engine = FakeEngine(max_source_tokens=40)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    for i in range(3):
        await chat.say(f"/kb add Office fact {i}: " + "the office is open " * 4)
    reply = await chat.say_one("/ask is the office open?")
    (prompt,) = engine.prompts("generate")
    assert engine.count_tokens(prompt) <= 40
    assert reply.count("kb#") == 1  # only the passage that fit is cited


async def test_usage_and_input_errors(chat, engine):
    assert (await chat.say_one("/ask")).startswith("Send me a question")
    assert await say_replying(chat, "/ask", None) == [
        "The message you replied to has no text I can read; send a question instead."
    ]
    assert (await say_replying(chat, "/ask", "what is seqbot?"))[0].startswith("scripted")
    engine.max_source_tokens = 10
    long_question = "/ask " + "why " * 30
    assert "too long for the language model" in await chat.say_one(long_question)


async def test_model_missing_gives_a_clear_reply_and_other_commands_still_work(make_chat):
    pool = FakePool(error=ModelNotAvailable("google/flan-t5-small"))
    chat = await make_chat(plugins=language_tasks(), engine=pool)
    reply = await chat.say_one("/ask hello?")
    assert "seqbot model pull google/flan-t5-small" in reply
    assert "What I can do" in await chat.say_one("/help")
    assert "Saved as" in await chat.say_one("/kb add still works")


async def test_engine_busy_is_a_polite_reply(make_chat):
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(error=EngineBusy()))
    assert await chat.say_one("/ask hello?") == (
        "The language model is busy right now; please try again in a minute."
    )


async def test_typing_is_shown_while_the_model_works(chat, engine):
    shown: list[str] = []

    async def typing(address):  # type: ignore[no-untyped-def]
        shown.append(address.chat_id)

    chat.console.typing = typing
    seen_at_answer: list[int] = []
    engine.answer = lambda prompt: seen_at_answer.append(len(shown)) or "ok"
    await chat.say("/ask is it raining?")
    assert (seen_at_answer, shown) == ([1], ["console"])  # shown once, before the answer


async def test_a_follow_up_searches_with_the_question_it_follows(chat, engine):
    await chat.say(f"/kb add {OFFICE}")
    await chat.say("/ask When does the office open?")
    reply = await chat.say_one("and on weekends?")
    assert reply.endswith("Source: kb#1")
    prompt = engine.prompts("generate")[-1]
    assert OFFICE in prompt and "Previous question: When does the office open?" in prompt
