"""``resolve``: one decision of where a message goes, shared by the core and the Slack ack."""

from __future__ import annotations

import pytest

from bot.context import Context
from bot.messages import ChatKind, IncomingMessage
from bot.plugins import PluginRegistry, Task, action, command
from bot.router import COMMANDS_ONLY, EMPTY_TEXT, IGNORE, STALE_BUTTON, Route, resolve


class Notes(Task):
    name = "notes"

    @command("note", "n")
    async def note(self, ctx: Context, args: str) -> str:
        return args

    @action("pin")
    async def pin(self, ctx: Context, payload: str) -> str:
        return payload


class Model(Task):
    name = "model"
    needs_model = True

    @command("ask")
    async def ask(self, ctx: Context, args: str) -> str:
        return args


@pytest.fixture
def plugins() -> PluginRegistry:
    registry = PluginRegistry()
    registry.add(Notes())
    registry.add(Model())
    return registry


def message(text: str = "", **fields: object) -> IncomingMessage:
    base: dict[str, object] = {
        "platform": "test",
        "chat_id": "c1",
        "chat_kind": ChatKind.PRIVATE,
        "user_id": "u1",
        "user_name": "Ann",
        "text": text,
    }
    return IncomingMessage(**(base | fields))  # type: ignore[arg-type]


def route(plugins: PluginRegistry, msg: IncomingMessage, default: str = "ask") -> Route:
    return resolve(
        msg, msg.text, plugins, bot_name="seqbot", default_task=default, mention_tokens=("<@UB>",)
    )


def test_a_command_names_its_task_handler_and_arguments(plugins: PluginRegistry) -> None:
    found = route(plugins, message("/n buy milk"))
    assert found.task is plugins.tasks["notes"]
    assert found.handler == plugins.tasks["notes"].note  # type: ignore[attr-defined]
    assert (found.args, found.command, found.free_text) == ("buy milk", True, False)
    assert found.spec is not None and found.spec.name == "note"
    assert not found.needs_model and not found.ignored


def test_an_unknown_command_is_answered_with_the_closest_one(plugins: PluginRegistry) -> None:
    found = route(plugins, message("/nite x"))
    assert found.handler is None and found.command
    assert found.reply is not None
    assert (
        found.reply.text
        == "I don't know /nite. Did you mean /note? Send /help for the list of commands."
    )


def test_free_text_goes_to_the_default_task_unless_there_is_none(plugins: PluginRegistry) -> None:
    found = route(plugins, message("what is seqbot?"))
    assert found.task is plugins.tasks["model"] and found.free_text and found.needs_model
    assert found.args == "what is seqbot?"
    assert route(plugins, message(""), default="ask") == Route(reply=EMPTY_TEXT, free_text=True)
    nothing = route(plugins, message("hello"), default="missing")
    assert nothing == Route(args="hello", reply=COMMANDS_ONLY, free_text=True)


@pytest.mark.parametrize(
    ("text", "fields", "expected"),
    [
        ("just chatting", {"chat_kind": ChatKind.GROUP, "addressed": False}, None),
        ("/note@otherbot x", {"chat_kind": ChatKind.GROUP, "addressed": False}, None),
        ("/note@otherbot x", {}, None),
        ("@seqbot note x", {"chat_kind": ChatKind.GROUP, "addressed": False}, "note"),
        ("<@UB> ask why", {"chat_kind": ChatKind.CHANNEL}, "ask"),
        ("/note x", {"chat_kind": ChatKind.GROUP, "addressed": False}, "note"),
    ],
)
def test_groups_answer_only_what_addresses_the_bot(
    plugins: PluginRegistry, text: str, fields: dict[str, object], expected: str | None
) -> None:
    found = route(plugins, message(text, **fields))
    if expected is None:
        assert found == IGNORE and found.ignored
    else:
        assert found.spec is not None and found.spec.name == expected


def test_slack_slash_commands_route_like_typed_ones(plugins: PluginRegistry) -> None:
    found = route(plugins, message("why is the sky blue", slash_command="ask"))
    assert found.spec is not None and found.spec.name == "ask" and found.needs_model
    umbrella = route(plugins, message("note tea", slash_command="seqbot"))
    assert umbrella.spec is not None and umbrella.spec.name == "note" and umbrella.args == "tea"


def test_a_button_runs_its_action_with_the_payload(plugins: PluginRegistry) -> None:
    task = plugins.tasks["notes"]
    found = route(plugins, message(action=task.action_id("pin", "42:top")))
    assert found.task is task and found.handler == task.pin  # type: ignore[attr-defined]
    assert found.args == "42:top" and not found.command and not found.free_text
    assert route(plugins, message(action="notes:gone:1")) == Route(reply=STALE_BUTTON)
    assert route(plugins, message(action="nosuchtask:pin")) == Route(reply=STALE_BUTTON)
