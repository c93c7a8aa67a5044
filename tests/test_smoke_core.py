async def test_help_lists_core_commands(make_chat):
    chat = await make_chat()
    reply = await chat.say_one("/help")
    assert "/settings" in reply and "/forget" in reply
