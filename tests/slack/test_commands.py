"""Slash commands through the real HTTP endpoint: what goes in the ack, what follows later."""

from __future__ import annotations

from bot.transports.slack.replies import WORKING
from bot.transports.slack.transport import NOT_ALLOWED
from tests.fixtures.tasks import Echo, Gated
from tests.slack.conftest import section_texts


async def test_fast_answer_goes_into_the_ack(make_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    ack, _ = await slack.command("/seqbot", "echo hello &amp; &lt;world&gt;")  # as Slack escapes it

    assert ack.status == 200
    body = ack.json()
    assert body["response_type"] == "in_channel"
    assert section_texts(body) == ["hello &amp; &lt;world&gt;"]
    await slack.transport.wait_idle()
    assert slack.fake.responses == []
    assert slack.fake.called("chat.postMessage") == []


async def test_per_task_command_and_help(make_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    echo_ack, _ = await slack.command("/echo", "hi there")
    help_ack, _ = await slack.command("/seqbot", "")

    assert section_texts(echo_ack.json()) == ["hi there"]
    assert "*What I can do*" in section_texts(help_ack.json())[0]


async def test_model_task_is_acknowledged_before_it_finishes(make_slack) -> None:
    task = Gated(needs_model=True)
    slack = await make_slack(tasks=[Echo(), task])

    ack, response_url = await slack.command("/seqbot", "think tea")

    # The gate is still closed, so this ack cannot contain the answer.
    assert not task.finished.is_set()
    assert ack.json() == {"text": WORKING, "response_type": "ephemeral"}
    task.gate.set()
    await slack.transport.wait_idle()
    [(url, payload)] = slack.fake.responses
    assert url == response_url
    assert payload["response_type"] == "in_channel"
    assert payload["replace_original"] is False
    assert section_texts(payload) == ["*Thought* about tea"]


async def test_slow_command_acks_working_when_the_budget_runs_out(make_slack) -> None:
    task = Gated(needs_model=False)
    slack = await make_slack(tasks=[Echo(), task], ack_budget=0.05)

    ack, response_url = await slack.command("/think", "soup")

    assert not task.finished.is_set()
    assert ack.json()["text"] == WORKING
    task.gate.set()
    await slack.transport.wait_idle()
    assert [url for url, _ in slack.fake.responses] == [response_url]


async def test_ephemeral_results_setting_and_private_replies(make_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    whisper, _ = await slack.command("/whisper", "secret")
    assert whisper.json()["response_type"] == "ephemeral"

    private = await make_slack(tasks=[Echo()], slack_ephemeral_results=True)
    echo, _ = await private.command("/echo", "just for me")
    assert echo.json()["response_type"] == "ephemeral"


async def test_expired_response_url_falls_back_to_post_message(make_slack, fake_slack) -> None:
    task = Gated(needs_model=True)
    slack = await make_slack(tasks=[Echo(), task])
    expired = fake_slack.response_url("expired")
    fake_slack.expired_urls.add(expired)

    await slack.command("/seqbot", "think cake", channel="C7", response_url=expired)
    task.gate.set()
    await slack.transport.wait_idle()

    [posted] = fake_slack.called("chat.postMessage")
    assert posted["channel"] == "C7"
    assert section_texts(posted) == ["*Thought* about cake"]
    assert posted["_auth"] == "Bearer xoxb-test-token"


async def test_expired_url_and_ephemeral_result_falls_back_to_post_ephemeral(
    make_slack, fake_slack
) -> None:
    task = Gated(needs_model=True)
    slack = await make_slack(tasks=[Echo(), task], slack_ephemeral_results=True)
    expired = fake_slack.response_url("gone")
    fake_slack.expired_urls.add(expired)

    await slack.command("/think", "pie", user="U2", channel="C7", response_url=expired)
    task.gate.set()
    await slack.transport.wait_idle()

    [posted] = fake_slack.called("chat.postEphemeral")
    assert (posted["channel"], posted["user"]) == ("C7", "U2")
    assert fake_slack.called("chat.postMessage") == []


async def test_buttons_route_back_to_the_task(make_slack) -> None:
    slack = await make_slack(tasks=[Echo()])

    ack, _ = await slack.command("/pick", "")
    [actions] = [b for b in ack.json()["blocks"] if b["type"] == "actions"]
    values = [element["value"] for element in actions["elements"]]
    assert values == ["echo:chose:red", "echo:chose:blue"]

    pressed = await slack.press(values[1], response_url=slack.fake.response_url("press"))
    assert pressed.status == 200
    await slack.transport.wait_idle()
    [(url, payload)] = slack.fake.responses
    assert url.endswith("/respond/press")
    assert section_texts(payload) == ["You chose blue."]


async def test_unknown_button_gets_a_sentence(make_slack) -> None:
    slack = await make_slack(tasks=[Echo()])
    await slack.press("nosuchtask:whatever")
    await slack.transport.wait_idle()
    [(_, payload)] = slack.fake.responses
    assert section_texts(payload) == ["That button no longer works."]


async def test_allow_list_refuses_other_users_and_channels(make_slack) -> None:
    slack = await make_slack(
        tasks=[Echo()], slack_allowed_users=["U2"], slack_allowed_channels=["C2"]
    )

    wrong_user, _ = await slack.command("/echo", "hi", user="U1", channel="C2")
    wrong_channel, _ = await slack.command("/echo", "hi", user="U2", channel="C1")
    dm, _ = await slack.command("/echo", "hi", user="U2", channel="D2")
    allowed, _ = await slack.command("/echo", "hi", user="U2", channel="C2")

    assert wrong_user.json() == {"text": NOT_ALLOWED, "response_type": "ephemeral"}
    assert wrong_channel.json()["text"] == NOT_ALLOWED
    assert section_texts(dm.json()) == ["hi"]
    assert section_texts(allowed.json()) == ["hi"]
