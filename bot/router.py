"""Turning message text into (command, arguments): every command form seqbot accepts.

Accepted forms::

    /translate to de hello          plain command
    /translate@seqbot to de hello   Telegram's form in groups
    @seqbot /translate to de hello  mention, then a command
    @seqbot translate to de hello   mention, then a known command word
    @seqbot what is seqbot?         mention, then free text
    /seqbot translate to de hello   Slack's slash command (slash_command="seqbot")
    /translate to de hello          Slack's per-task slash command (slash_command="translate")

The router only parses; choosing the handler is :mod:`bot.core`'s job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass

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
