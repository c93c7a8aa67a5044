"""seqbot in Telegram by long polling: the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Message
from tests.fixtures.tasks import essay
from tests.telegram.fake_api import BOT_USERNAME, bot_message, message, user

PRIVATE = 42
GROUP = -100500


async def test_start_checks_token_sets_menu_and_polls(running, fake_api):
    bot = await running()
    assert len(fake_api.sent("getMe")) == 1
    [set_menu] = fake_api.sent("setMyCommands", language_code=None)  # the English menu
    menu = set_menu.params["commands"]
    # Every visible command, /start too; hidden ones (/boom) and aliases (/say) stay out.
    assert [c["command"] for c in menu] == [
        "help", "settings", "forget", "start",
        "echo", "whisper", "essay", "pick", "survey", "think",
    ]  # fmt: skip
    assert all(c["description"] for c in menu)
    assert len(fake_api.sent("deleteWebhook")) == 1  # polling clears any webhook first
    poll = await fake_api.first_poll()
    assert poll["timeout"] == 1  # a whole number of seconds, as Telegram requires
    assert "message" in poll["allowed_updates"]
    assert "edited_message" not in poll["allowed_updates"]  # edits are ignored by design
    assert bot.transport.bot_aliases == (BOT_USERNAME,)


async def test_private_command_is_answered_as_a_reply(running, fake_api):
    await running()
    update = await fake_api.push(message(PRIVATE, "/echo hello there"))
    [reply] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert reply.params["text"] == "hello there"
    assert reply.params["parse_mode"] == "HTML"
    assert reply.params["reply_parameters"]["message_id"] == update["message"]["message_id"]


async def test_private_free_text_goes_to_the_default_task(running, fake_api):
    await running()
    await fake_api.push(message(PRIVATE, "just some words"))
    [reply] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert reply.params["text"] == "just some words"


async def test_group_commands_mentions_and_replies_to_the_bot(running, fake_api):
    await running()
    await fake_api.push(message(GROUP, f"/echo@{BOT_USERNAME} addressed by name"))
    await fake_api.wait_for(chat_id=str(GROUP), text="addressed by name")
    await fake_api.push(message(GROUP, "/echo plain command"))
    await fake_api.wait_for(chat_id=str(GROUP), text="plain command")
    await fake_api.push(message(GROUP, f"@{BOT_USERNAME} echo by mention"))
    await fake_api.wait_for(chat_id=str(GROUP), text="by mention")
    await fake_api.push(message(GROUP, f"hey @{BOT_USERNAME}, free text with a mention"))
    await fake_api.wait_for(
        chat_id=str(GROUP), text=f"hey @{BOT_USERNAME}, free text with a mention"
    )
    earlier = bot_message(GROUP, "an earlier answer", message_id=4000)
    await fake_api.push(message(GROUP, "answering the bot", reply_to_message=earlier))
    await fake_api.wait_for(chat_id=str(GROUP), text="answering the bot")


async def test_group_chatter_is_stored_but_not_answered(running, fake_api, db):
    bot = await running()
    await fake_api.push(message(GROUP, "lunch at noon?", sender=user(7, "Bob")))
    await fake_api.push(message(GROUP, "/echo@otherbot not for us"))
    someone = {"message_id": 77, "date": 0, "chat": {"id": GROUP, "type": "supergroup"}}
    someone["from"] = user(8, "Carol")
    await fake_api.push(message(GROUP, "replying to Carol", reply_to_message=someone))
    await fake_api.push(message(GROUP, "/echo marker"))
    await fake_api.wait_for(chat_id=str(GROUP), text="marker")
    await bot.transport.wait_idle()
    assert [c.params["text"] for c in fake_api.sent(chat_id=str(GROUP))] == ["marker"]
    async with db.session() as session:
        stored = set(await session.scalars(select(Message.text)))
    # All of it is history, the command for another bot too; only "marker" was answered.
    assert stored == {
        "lunch at noon?",
        "/echo@otherbot not for us",
        "replying to Carol",
        "/echo marker",
        "marker",
    }


async def test_user_html_is_escaped(running, fake_api):
    await running()
    await fake_api.push(message(PRIVATE, "/echo <b>not bold</b> & <i>"))
    [reply] = await fake_api.wait_for(chat_id=str(PRIVATE))
    assert reply.params["text"] == "&lt;b&gt;not bold&lt;/b&gt; &amp; &lt;i&gt;"


async def test_long_reply_is_split_into_telegram_sized_chunks(running, fake_api):
    bot = await running()
    update = await fake_api.push(message(PRIVATE, "/essay"))
    replies = await fake_api.wait_for(chat_id=str(PRIVATE), count=3)
    await bot.transport.wait_idle()
    texts = [c.params["text"] for c in fake_api.sent(chat_id=str(PRIVATE))]
    assert len(essay()) > 10_000 and len(texts) == 3
    assert all(len(t) <= 4096 for t in texts)
    assert "\n\n".join(texts) == essay()  # split exactly at paragraph breaks
    assert replies[0].params["reply_parameters"]["message_id"] == update["message"]["message_id"]
    assert "reply_parameters" not in replies[1].params


async def test_button_press_runs_the_task_action_and_stops_the_spinner(running, fake_api):
    await running()
    await fake_api.push(message(PRIVATE, "/pick"))
    [menu] = await fake_api.wait_for(chat_id=str(PRIVATE))
    buttons = menu.params["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in buttons] == ["Red", "Long"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
    shown = bot_message(PRIVATE, "Pick one", message_id=5000)
    for button, query_id in zip(buttons, ["q1", "q2"], strict=True):
        press = {"id": query_id, "from": user(), "chat_instance": "ci", "message": shown}
        await fake_api.push({"callback_query": {**press, "data": button["callback_data"]}})
        await fake_api.wait_for("answerCallbackQuery", callback_query_id=query_id)
    await fake_api.wait_for(chat_id=str(PRIVATE), text="You chose red.")
    await fake_api.wait_for(chat_id=str(PRIVATE), text=f"You chose {'x' * 80}.")  # all of it


async def test_unknown_button_says_it_no_longer_works(running, fake_api):
    await running()
    shown = bot_message(PRIVATE, "old menu", message_id=3)
    press = {"id": "q9", "from": user(), "chat_instance": "ci", "message": shown}
    await fake_api.push({"callback_query": {**press, "data": "~forgotten-token"}})
    await fake_api.wait_for("answerCallbackQuery", callback_query_id="q9")
    await fake_api.wait_for(chat_id=str(PRIVATE), text="That button no longer works.")


async def test_typing_is_shown_while_a_task_works(running, fake_api):
    bot = await running()
    await fake_api.push(message(PRIVATE, "/think tea"))
    [typing] = await fake_api.wait_for("sendChatAction")
    assert typing.params == {"chat_id": str(PRIVATE), "action": "typing"}
    bot.bot.plugins.tasks["gated"].gate.set()
    await fake_api.wait_for(chat_id=str(PRIVATE), text="<b>Thought</b> about tea")


async def test_forum_topic_replies_stay_in_the_topic(running, fake_api):
    await running()
    topic_start = {
        "message_id": 10,
        "date": 0,
        "chat": {"id": GROUP, "type": "supergroup", "is_forum": True},
        "from": user(),
        "forum_topic_created": {"name": "Ops", "icon_color": 7322096},
    }
    await fake_api.push(
        message(
            GROUP,
            "/echo in a topic",
            message_thread_id=10,
            is_topic_message=True,
            reply_to_message=topic_start,
        )
    )
    [reply] = await fake_api.wait_for(chat_id=str(GROUP))
    assert reply.params["message_thread_id"] == 10
    assert reply.params["text"] == "in a topic"
