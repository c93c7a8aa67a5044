"""Replies rendered for Telegram without a network: HTML, chunk sizes, button data, the menu."""

from __future__ import annotations

from bot.messages import Button
from bot.transports.telegram.rendering import (
    MAX_TEXT,
    CallbackActions,
    html_chunks,
    keyboard,
    menu_commands,
)
from tests.telegram.conftest import registry


def test_markup_becomes_telegram_html_and_user_text_is_escaped():
    [text] = html_chunks('**Due** `a<b` & [docs](https://x.example/?a=1&b="2")\n- item')
    assert text == (
        "<b>Due</b> <code>a&lt;b</code> &amp; "
        '<a href="https://x.example/?a=1&amp;b=&quot;2&quot;">docs</a>\n• item'
    )


def test_chunks_respect_the_limit_even_when_escaping_grows_the_text():
    chunks = html_chunks("<&> " * 3000)  # 12,000 characters that render to 36,000
    assert len(chunks) > 1 and all(len(c) <= MAX_TEXT for c in chunks)
    assert "".join(chunks).count("&lt;&amp;&gt;") == 3000


def test_emoji_count_double_so_chunks_stay_within_utf16_limits():
    chunks = html_chunks("🙂 " * 4000)
    assert all(len(c.encode("utf-16-le")) // 2 <= MAX_TEXT for c in chunks)


def test_long_button_actions_are_shortened_and_found_again():
    actions = CallbackActions(capacity=2)
    short, long = "remind:done:17", "remind:snooze:" + "9" * 80
    assert actions.encode(short) == short
    token = actions.encode(long)
    assert len(token.encode()) <= 64 and actions.decode(token) == long
    actions.encode("x:" + "a" * 70)
    actions.encode("x:" + "b" * 70)  # capacity 2: the oldest token is forgotten
    assert actions.decode(token) == token


def test_keyboard_puts_buttons_in_one_row():
    markup = keyboard(
        (Button("Snooze", "remind:snooze:1"), Button("Done", "remind:done:1")), CallbackActions()
    )
    assert [[b.text for b in row] for row in markup.inline_keyboard] == [["Snooze", "Done"]]
    assert keyboard((), CallbackActions()) is None


def test_menu_lists_visible_commands_with_descriptions():
    commands = menu_commands(registry())
    assert [c.command for c in commands][:3] == ["help", "settings", "forget"]
    assert all(1 <= len(c.description) <= 256 for c in commands)
