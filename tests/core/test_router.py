import pytest

from bot.router import closest, parse

KNOWN = {"help", "translate", "ask"}


@pytest.mark.parametrize(
    ("text", "command", "args", "mentioned"),
    [
        ("/help", "help", "", False),
        ("/translate to de hello", "translate", "to de hello", False),
        ("/Translate   to de  hello ", "translate", "to de  hello", False),
        ("/translate@seqbot to de hello", "translate", "to de hello", True),
        ("/translate@SeqBot hi", "translate", "hi", True),
        ("@seqbot /translate to de hello", "translate", "to de hello", True),
        ("@seqbot translate to de hello", "translate", "to de hello", True),
        ("@seqbot, what is seqbot?", None, "what is seqbot?", True),
        ("@seqbot: /help", "help", "", True),
        ("what is seqbot?", None, "what is seqbot?", False),
        ("@seqbotfan hello", None, "@seqbotfan hello", False),
        ("/help\nmore lines", "help", "more lines", False),
    ],
)
def test_command_forms(text, command, args, mentioned):
    parsed = parse(text, bot_name="seqbot", known_commands=KNOWN)
    assert (parsed.command, parsed.args, parsed.mentioned) == (command, args, mentioned)
    assert not parsed.for_other_bot


def test_command_for_another_bot_is_flagged():
    parsed = parse("/help@otherbot", bot_name="seqbot", known_commands=KNOWN)
    assert parsed.for_other_bot


def test_platform_aliases_and_mention_tokens():
    by_alias = parse("/help@team_seqbot_bot", bot_name="seqbot", aliases=["team_seqbot_bot"])
    assert by_alias.command == "help" and by_alias.mentioned
    by_token = parse(
        "<@U0BOT> translate hi",
        bot_name="seqbot",
        known_commands=KNOWN,
        mention_tokens=["<@U0BOT>"],
    )
    assert (by_token.command, by_token.args, by_token.mentioned) == ("translate", "hi", True)


@pytest.mark.parametrize(
    ("slash", "text", "command", "args"),
    [
        ("seqbot", "translate to de hello", "translate", "to de hello"),
        ("/seqbot", "help", "help", ""),
        ("seqbot", "", "help", ""),
        ("translate", "to de hello", "translate", "to de hello"),
    ],
)
def test_slack_slash_commands(slash, text, command, args):
    parsed = parse(text, bot_name="seqbot", slash_command=slash)
    assert (parsed.command, parsed.args, parsed.mentioned) == (command, args, True)


def test_closest_command():
    assert closest("hepl", KNOWN) == "help"
    assert closest("tranlsate", KNOWN) == "translate"
    assert closest("zzzz", KNOWN) is None
