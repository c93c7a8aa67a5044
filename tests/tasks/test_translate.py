"""/translate: language names, detection, Marian pairs, and batching sentence by sentence."""

from __future__ import annotations

import pytest

from bot.errors import UserError
from bot.locale import parse_language, resolve_language
from tasks.translate import parse_request
from tests.tasks.conftest import (
    FakeEngine,
    FakePool,
    QueueLimitedEngine,
    language_tasks,
    say_replying,
)

ENGLISH = "The weather is lovely today and we are going for a walk in the park."


def shout(prompt: str) -> str:
    """Scripted "translation": the text after the instruction line, upper-cased."""
    return prompt.split("\n", 1)[-1].upper()


@pytest.mark.parametrize("name", ["de", "German", "Deutsch", "deutsch", "de-DE"])
def test_languages_by_code_english_or_native_name(name):
    assert resolve_language(name) == "de"


def test_unknown_language_lists_close_matches():
    with pytest.raises(UserError, match="Did you mean German"):
        resolve_language("Germn")
    with pytest.raises(UserError, match="for example de, German or Deutsch"):
        resolve_language("qqqqqq")


@pytest.mark.parametrize(
    ("name", "code"),
    [("Deutsch", "de"), ("zh-TW", "zh"), ("Traditional Chinese", "zh"), ("pt-BR", "pt")],
)
def test_the_language_setting_is_the_same_lookup_without_the_script(name, code):
    assert parse_language(name) == code
    assert resolve_language(name).partition("-")[0] == code


def test_settings_and_translate_keep_their_own_wording_for_an_unknown_language():
    with pytest.raises(UserError) as in_settings:
        parse_language("Germn")
    assert str(in_settings.value) == "Unknown language 'Germn'. Did you mean German or Georgian?"
    with pytest.raises(UserError) as in_translate:
        resolve_language("Germn")
    assert (
        str(in_translate.value)
        == "I don't know the language 'Germn'. Did you mean German or Georgian?"
    )


def test_to_and_from_in_either_order():
    assert parse_request("to fr from de Guten Tag", "en") == ("fr", "de", "Guten Tag")
    assert parse_request("from de to fr Guten Tag", "en") == ("fr", "de", "Guten Tag")
    assert parse_request("Guten Tag", "en") == ("en", None, "Guten Tag")


async def test_translates_with_the_default_model_and_detects_the_source(chat, engine):
    engine.answer = shout
    reply = await chat.say_one(f"/translate to Deutsch {ENGLISH}")
    assert reply == f"**English → German**\n{ENGLISH.upper()}"
    (call,) = engine.calls
    assert call.kind == "generate_batch"
    assert call.prompts == [f"Translate English to German:\n{ENGLISH}"]


async def test_target_defaults_to_the_users_language(chat, engine):
    await chat.say("/settings language fr")
    await chat.say(f"/translate {ENGLISH}")
    assert engine.prompts()[0].startswith("Translate English to French:")


async def test_unknown_language_reply(chat, engine):
    reply = await chat.say_one("/translate to Germn hello there")
    assert reply.startswith("I don't know the language 'Germn'. Did you mean German")
    assert engine.calls == []


async def test_text_already_in_the_target_language(chat):
    reply = await chat.say_one(f"/translate to en {ENGLISH}")
    assert reply.startswith("That text already looks like English")


async def test_a_marian_model_is_used_for_its_pair(make_chat):
    default, marian = FakeEngine(), FakeEngine(name="opus-mt-en-de", answer=lambda p: "HALLO")
    pool = FakePool(default=default, others={"/models/opus-mt-en-de": marian})
    chat = await make_chat(
        plugins=language_tasks(),
        engine=pool,
        translation_models={"en-de": "/models/opus-mt-en-de"},
    )
    reply = await chat.say_one(f"/translate to de from en {ENGLISH}")
    assert reply == "**English → German**\nHALLO"
    assert pool.requested == ["/models/opus-mt-en-de"]
    assert marian.prompts() == [ENGLISH]  # Marian gets the bare sentence, no instruction
    assert default.calls == []
    await chat.say(f"/translate to fr from en {ENGLISH}")  # no pair model: the default one
    assert pool.requested[-1] is None and default.prompts()


async def test_long_text_is_one_batch_of_sentences_with_layout_kept(chat, engine):
    engine.answer = shout
    text = (
        "Meeting notes. We agreed on three things.\n"
        "\n"
        "- Ship the beta on Monday. Tell the testers.\n"
        "- Fix the login bug!\n"
        "  1. Write a test first.\n"
        "Thanks everyone."
    )
    reply = await chat.say_one(f"/translate to de from en {text}")
    assert reply == "**English → German**\n" + text.upper().replace("\n\n", "\n\n")
    (call,) = engine.calls
    assert call.kind == "generate_batch"
    sentences = [p.split("\n", 1)[1] for p in call.prompts]
    assert sentences == [
        "Meeting notes.",
        "We agreed on three things.",
        "Ship the beta on Monday.",
        "Tell the testers.",
        "Fix the login bug!",
        "Write a test first.",
        "Thanks everyone.",
    ]


async def test_a_sentence_longer_than_the_model_limit_is_cut(make_chat):
    engine = FakeEngine(max_source_tokens=20, answer=shout)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    words = " ".join(f"word{i}" for i in range(60))
    await chat.say(f"/translate to de from en {words}")
    (call,) = engine.calls
    assert len(call.prompts) == 5  # 14 words each fit the 15 tokens the template leaves
    assert all(engine.count_tokens(p) <= 20 for p in call.prompts)
    assert " ".join(p.split("\n", 1)[1] for p in call.prompts) == words


async def test_reply_to_a_message(chat, engine):
    engine.answer = shout
    assert (await say_replying(chat, "/translate to de from en", "Good morning."))[0].endswith(
        "GOOD MORNING."
    )
    assert await say_replying(chat, "/translate to de", None) == [
        "The message you replied to has no text I can read; send the text to translate instead."
    ]
    assert (await chat.say_one("/translate to de")).startswith("Send me the text to translate")


async def test_numbers_addresses_and_abbreviations_are_translated_whole(chat, engine):
    engine.answer = shout
    text = (
        "Version 2.0 is out. The price rose 3.5 percent today.\n"
        "3.5 percent is a lot, says Dr. Smith.\n"
        "Mail anna.b@example.com before 5 p.m. Thanks."
    )
    reply = await chat.say_one(f"/translate to de from en {text}")
    assert reply == "**English → German**\n" + text.upper()
    assert [p.split("\n", 1)[1] for p in engine.prompts()] == [
        "Version 2.0 is out.",
        "The price rose 3.5 percent today.",
        "3.5 percent is a lot, says Dr. Smith.",
        "Mail anna.b@example.com before 5 p.m.",
        "Thanks.",
    ]


async def test_sentences_are_split_by_the_rules_of_the_source_language(chat, engine):
    await chat.say("/translate to en from de Er kam am 3. Mai. Wir brauchen z.B. Milch.")
    assert [p.split("\n", 1)[1] for p in engine.prompts()] == [
        "Er kam am 3. Mai.",
        "Wir brauchen z.B. Milch.",
    ]


async def test_more_sentences_than_the_engine_queue_on_an_idle_engine(make_chat):
    """A long text goes to the engine in waves it accepts, not refused as "busy"."""
    engine = QueueLimitedEngine(answer=shout, max_queue=3)
    chat = await make_chat(plugins=language_tasks(), engine=FakePool(default=engine))
    text = " ".join(f"Sentence number {i} is here." for i in range(10))
    reply = await chat.say_one(f"/translate to de from en {text}")
    assert reply == "**English → German**\n" + text.upper()
    assert engine.most_waiting <= engine.max_queue
    translated = [p.split("\n", 1)[1] for c in engine.calls for p in c.prompts]
    assert translated == [f"Sentence number {i} is here." for i in range(10)]
