"""Per-language "/" menus: one ``setMyCommands`` per language seqbot speaks, English by default."""

from __future__ import annotations

from bot.plugins import PluginRegistry, Task, command
from bot.transports.telegram.menus import MENU_LANGUAGES, SUMMARIES, translated_summary
from bot.transports.telegram.rendering import menu_commands
from tests.tasks.conftest import language_tasks


async def test_one_menu_per_language_is_set_at_start(running, fake_api):
    await running(plugins=language_tasks())
    calls = fake_api.sent("setMyCommands")
    assert [c.params.get("language_code") for c in calls] == [None, *MENU_LANGUAGES]
    menus = {c.params.get("language_code"): c.params["commands"] for c in calls}
    names = [c["command"] for c in menus[None]]
    assert all([c["command"] for c in menu] == names for menu in menus.values())
    english = {c["command"]: c["description"] for c in menus[None]}
    german = {c["command"]: c["description"] for c in menus["de"]}
    assert english["translate"] == "Translate text between languages."
    assert german["translate"] == "Text zwischen Sprachen übersetzen."
    assert german["help"].startswith("Hilfe")
    assert {c["command"]: c["description"] for c in menus["zh"]}[
        "kb"
    ] == "本聊天的知识库，/ask 从中作答。"


async def test_a_failed_menu_costs_only_that_language(running, fake_api):
    fake_api.fail_next("setMyCommands", 400, "Bad Request: boom", match={"language_code": "fr"})
    await running(plugins=language_tasks())
    ok = fake_api.sent("setMyCommands")
    assert [c.params.get("language_code") for c in ok] == [None, "de", "es", "ru", "zh"]
    await fake_api.first_poll()  # the bot started anyway


class Custom(Task):
    name = "custom"
    summary = "A plugin's own command."

    @command("custom")
    async def custom(self, ctx, args: str) -> str:  # type: ignore[no-untyped-def]
        return args


class Impostor(Task):
    """A plugin reusing a built-in task name with other words: its summary stays its own."""

    name = "translate"
    summary = "Something else entirely."

    @command("other")
    async def other(self, ctx, args: str) -> str:  # type: ignore[no-untyped-def]
        return args


def test_untranslated_and_changed_summaries_stay_english():
    plugins = PluginRegistry()
    plugins.add(Custom())
    plugins.add(Impostor())
    described = {c.command: c.description for c in menu_commands(plugins, "de")}
    assert described == {"custom": "A plugin's own command.", "other": "Something else entirely."}


def test_every_translation_covers_every_menu_language_within_telegrams_limit():
    for english, translations in SUMMARIES.values():
        assert set(translations) == set(MENU_LANGUAGES)
        assert all(0 < len(text) <= 256 for text in translations.values())
        assert translated_summary("x", english, None) == english


def test_every_built_in_summary_has_its_translations():
    """A task's summary edited without its translations would silently fall back to English."""
    for language in MENU_LANGUAGES:
        english = {c.command: c.description for c in menu_commands(language_tasks())}
        translated = {c.command: c.description for c in menu_commands(language_tasks(), language)}
        assert all(translated[name] != english[name] for name in english), language
