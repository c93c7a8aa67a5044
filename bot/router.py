"""Turning message text into (command, arguments): every command form seqbot accepts.

Accepted forms::

    /translate to de hello          plain command
    /translate@seqbot to de hello   Telegram's form in groups
    @seqbot /translate to de hello  mention, then a command
    @seqbot translate to de hello   mention, then a known command word
    @seqbot what is seqbot?         mention, then free text
    /seqbot translate to de hello   Slack's slash command (slash_command="seqbot")
    /translate to de hello          Slack's per-task slash command (slash_command="translate")

:func:`parse` turns text into a command and arguments; :func:`resolve` goes on to
pick the task and handler for a whole message, from its text alone (no database),
so the core and a transport that must answer early (Slack's ack) agree on it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from bot.messages import ChatKind, IncomingMessage, Reply
from bot.plugins import CommandSpec, Handler, PluginRegistry, Task

_COMMAND = re.compile(
    r"^/(?P<name>[A-Za-z0-9_][A-Za-z0-9_-]*)(?:@(?P<target>[A-Za-z0-9_]+))?(?:\s+|$)"
)


@dataclass(frozen=True)
class ParsedText:
    """What the text asks for. ``command`` is None for free text."""

    command: str | None
    args: str
    #: The bot was named in the text (``@seqbot …`` or ``/cmd@seqbot``).
    mentioned: bool = False
    #: The text is a command for another bot (``/cmd@otherbot``): ignore it.
    for_other_bot: bool = False


def parse(
    text: str,
    *,
    bot_name: str,
    known_commands: Collection[str] = (),
    slash_command: str | None = None,
    mention_tokens: Iterable[str] = (),
    aliases: Iterable[str] = (),
) -> ParsedText:
    """Parse ``text`` into a command and its arguments.

    ``aliases`` are the bot's other names on this platform (its Telegram
    username); ``mention_tokens`` are raw mention spellings a platform uses
    (Slack's ``<@U0BOT>``). ``@bot_name`` is always recognised.
    """
    text = text.strip()
    if slash_command is not None:
        return _parse_slash(slash_command, text, bot_name)

    names = {bot_name.lower(), *(a.lower().lstrip("@") for a in aliases)}
    mentioned = False
    tokens = [f"@{name}" for name in sorted(names, key=len, reverse=True)] + list(mention_tokens)
    stripped = _strip_mention(text, tokens)
    if stripped is not None:
        mentioned, text = True, stripped

    match = _COMMAND.match(text)
    if match:
        target = match["target"]
        if target and target.lower() not in names:
            return ParsedText(None, text, mentioned, for_other_bot=True)
        return ParsedText(
            match["name"].lower(), text[match.end() :].strip(), mentioned or bool(target)
        )

    if mentioned:
        word, _, rest = text.partition(" ")
        if word.lower() in known_commands:
            return ParsedText(word.lower(), rest.strip(), mentioned=True)
    return ParsedText(None, text, mentioned)


def _parse_slash(slash_command: str, text: str, bot_name: str) -> ParsedText:
    name = slash_command.lstrip("/").lower()
    if name == bot_name.lower():
        word, _, rest = text.partition(" ")
        word = word.lstrip("/").lower()
        return ParsedText(word or "help", rest.strip(), mentioned=True)
    return ParsedText(name, text, mentioned=True)


def _strip_mention(text: str, tokens: Iterable[str]) -> str | None:
    lowered = text.lower()
    for token in tokens:
        if token and lowered.startswith(token.lower()):
            rest = text[len(token) :]
            if rest and not (rest[0].isspace() or rest[0] in ",:"):
                continue  # "@seqbotfan" is someone else
            return rest.lstrip(" \t,:")
    return None


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known command that ``name`` most likely meant, if any is close."""
    matches = difflib.get_close_matches(name.lower(), list(known), n=1, cutoff=0.5)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Route:
    """Where one message goes. Exactly one of: run ``handler``, say ``reply``, or ignore.

    A pending dialog step is the one thing text cannot decide: the core looks it up
    for ``free_text`` routes before it follows them, and drops it for ``command`` ones.
    """

    task: Task | None = None
    handler: Handler | None = None
    args: str = ""
    #: The command run, for logs and ``/help`` (None for buttons and dialog answers).
    spec: CommandSpec | None = None
    #: Answer with this instead of running a task (an unknown command or button).
    reply: Reply | None = None
    #: The user typed a command: a question the bot was waiting on is dropped.
    command: bool = False
    #: Text that is not a command: the answer to a pending question, if there is one.
    free_text: bool = False

    @property
    def ignored(self) -> bool:
        return self.handler is None and self.reply is None and not self.free_text

    @property
    def needs_model(self) -> bool:
        return self.task is not None and self.task.needs_model


IGNORE = Route()
EMPTY_TEXT = Reply("Send me a message, or /help to see what I can do.")
COMMANDS_ONLY = Reply("I only understand commands here. Try /help.")
STALE_BUTTON = Reply("That button no longer works.")


def resolve(
    message: IncomingMessage,
    text: str,
    plugins: PluginRegistry,
    *,
    bot_name: str,
    default_task: str,
    mention_tokens: Iterable[str] = (),
    aliases: Iterable[str] = (),
) -> Route:
    """The route for ``message`` whose cleaned text is ``text``.

    Group chatter that does not address the bot, and commands for other bots,
    are ignored; in private chats free text goes to ``default_task``.
    """
    if message.action:
        return _button_route(message.action, plugins)
    group_chatter = message.chat_kind != ChatKind.PRIVATE and not message.addressed
    if group_chatter and not text.startswith(("/", "@")):
        return IGNORE
    parsed = parse(
        text,
        bot_name=bot_name,
        known_commands=plugins.commands.keys(),
        slash_command=message.slash_command,
        mention_tokens=mention_tokens,
        aliases=aliases,
    )
    addressed = message.addressed or parsed.mentioned or message.chat_kind == ChatKind.PRIVATE
    if parsed.for_other_bot or (not addressed and parsed.command is None):
        return IGNORE
    if parsed.command is not None:
        spec = plugins.commands.get(parsed.command)
        if spec is None:
            return Route(reply=_unknown_command(parsed.command, plugins), command=True)
        return Route(spec.task, spec.handler, parsed.args, spec, command=True)
    spec = plugins.commands.get(default_task)
    if not parsed.args or spec is None:
        reply = EMPTY_TEXT if not parsed.args else COMMANDS_ONLY
        return Route(args=parsed.args, reply=reply, free_text=True)
    return Route(spec.task, spec.handler, parsed.args, spec, free_text=True)


def _button_route(action: str, plugins: PluginRegistry) -> Route:
    """A press of a button made by ``Task.action_id``: ``<task>:<action>[:payload]``."""
    task_name, _, rest = action.partition(":")
    action_name, _, payload = rest.partition(":")
    handler = plugins.actions.get((task_name, action_name))
    if handler is None:
        return Route(reply=STALE_BUTTON)
    return Route(plugins.tasks[task_name], handler, payload)


def _unknown_command(name: str, plugins: PluginRegistry) -> Reply:
    guess = closest(name, plugins.commands.keys())
    hint = f" Did you mean /{guess}?" if guess else ""
    return Reply(f"I don't know /{name}.{hint} Send /help for the list of commands.")
