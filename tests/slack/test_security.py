"""Forged, unsigned, replayed and tampered requests: 401, nothing stored, nothing posted."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.transports.base import TransportStartError
from bot.transports.slack import SlackTransport
from storage.models import Message, ProcessedEvent
from tests.fixtures.tasks import Echo
from tests.slack.conftest import command_form, event_body, sign, slack_settings

MENTION = {"type": "app_mention", "user": "U1", "text": "<@UBOT> echo hi", "ts": "1.1",
           "channel": "C1"}  # fmt: skip


def forged(case: str, body: str) -> tuple[str, dict[str, str]]:
    """The request an attacker could send: ``body`` and headers for each forgery."""
    now = int(time.time())
    good = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": sign(body, now)}
    if case == "bad signature":
        return body, good | {"X-Slack-Signature": sign(body, now, secret="not-the-secret")}
    if case == "missing headers":
        return body, {}
    if case == "missing signature":
        return body, {"X-Slack-Request-Timestamp": str(now)}
    if case == "timestamp not a number":
        return body, good | {"X-Slack-Request-Timestamp": "soon"}
    if case == "six minutes old":
        old = now - 6 * 60
        return body, {"X-Slack-Request-Timestamp": str(old), "X-Slack-Signature": sign(body, old)}
    if case == "body altered after signing":
        altered = body.replace("U1", "U2")  # another user, in JSON and form bodies alike
        assert altered != body
        return altered, good
    raise AssertionError(case)


CASES = [
    "bad signature",
    "missing headers",
    "missing signature",
    "timestamp not a number",
    "six minutes old",
    "body altered after signing",
]


@pytest.mark.parametrize("case", CASES)
async def test_forged_requests_are_refused(make_slack, fake_slack, case) -> None:
    slack = await make_slack(tasks=[Echo()])
    event = json.dumps(event_body(MENTION, "Ev1"))
    command = urlencode(
        command_form("/echo", "echo hi", "U1", "alice", "C1", fake_slack.response_url())
    )

    for body, content_type in ((event, "application/json"),
                               (command, "application/x-www-form-urlencoded")):  # fmt: skip
        sent, headers = forged(case, body)
        posted = await slack.post_raw(sent, headers | {"Content-Type": content_type})
        assert posted.status == 401, (case, posted.body)
    await slack.transport.wait_idle()

    async with slack.bot.services.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
        assert await session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0
    assert fake_slack.responses == []
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []


async def test_unsigned_garbage_is_refused_before_parsing(make_slack, fake_slack) -> None:
    slack = await make_slack()
    for body, content_type in (("{not json", "application/json"),
                               ("payload=%7Bbroken", "application/x-www-form-urlencoded")):  # fmt: skip
        unsigned = await slack.post_raw(body, {"Content-Type": content_type})
        signed = await slack.post_signed(body, content_type)
        assert (unsigned.status, signed.status) == (401, 400)
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []


async def test_unsigned_bytes_that_are_not_utf8_get_401(make_slack, fake_slack, caplog) -> None:
    """``curl --data-binary $'\\xff\\xfe'``: the signature is checked on the raw bytes first."""
    slack = await make_slack()

    for content_type in ("application/x-www-form-urlencoded", "application/json", "text/plain"):
        posted = await slack.post_raw(b"\xff\xfe", {"Content-Type": content_type})
        assert posted.status == 401, content_type
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert [c.method for c in fake_slack.calls if c.method != "auth.test"] == []


async def test_http_mode_without_signing_secret_refuses_to_start(settings, fake_slack) -> None:
    local = slack_settings(settings, fake_slack, slack_signing_secret=None)
    transport = SlackTransport(local)

    with pytest.raises(TransportStartError, match="SEQBOT_SLACK_SIGNING_SECRET"):
        await transport.start(None)  # type: ignore[arg-type]
    assert fake_slack.calls == []  # refused before any network call


async def test_rejected_bot_token_is_a_one_line_start_error(settings, fake_slack) -> None:
    from tests.slack.conftest import Failure

    fake_slack.fail("auth.test", Failure(error="invalid_auth"))
    transport = SlackTransport(slack_settings(settings, fake_slack))

    with pytest.raises(
        TransportStartError, match=r"rejected SEQBOT_SLACK_BOT_TOKEN \(invalid_auth\)"
    ):
        await transport.start(None)  # type: ignore[arg-type]
    assert transport.http_port is None


async def test_app_token_must_be_an_app_level_token(settings, fake_slack) -> None:
    local = slack_settings(settings, fake_slack, slack_app_token=SecretStr("xoxb-wrong-kind"))

    with pytest.raises(TransportStartError, match="xapp-"):
        await SlackTransport(local).start(None)  # type: ignore[arg-type]
