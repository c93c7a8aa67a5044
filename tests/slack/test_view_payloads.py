"""Home, modal and shortcut payloads: what survives validation is what the listeners read."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.messages import ChatKind
from bot.transports.slack.payloads import (
    FORM_BODY,
    JSON_BODY,
    AppHomeOpened,
    BlockActions,
    EventCallback,
    MalformedRequest,
    ViewSubmission,
    action_message,
    parse_request,
)
from tests.slack.conftest import (
    event_body,
    home_opened,
    text_value,
    view_press,
    view_submission,
)

HOME = {"id": "V1", "type": "home", "callback_id": "seqbot_home", "private_metadata": "D1"}
MODAL = {"id": "V2", "callback_id": "seqbot_settings", "private_metadata": "D1"}


def form(payload: dict) -> bytes:  # type: ignore[type-arg]
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_app_home_opened_keeps_user_channel_and_tab() -> None:
    body = json.dumps(event_body(home_opened("U1", "D1"), "Ev1")).encode()
    parsed = parse_request(body, JSON_BODY)
    assert isinstance(parsed, EventCallback) and isinstance(parsed.event, AppHomeOpened)
    assert (parsed.event.user, parsed.event.channel, parsed.event.tab) == ("U1", "D1", "home")
    event = parsed.model_dump(exclude_none=True)["event"]  # what Bolt receives
    assert event["user"] == "U1" and event["type"] == "app_home_opened"


def test_home_press_is_answered_in_the_dm_from_the_view_metadata() -> None:
    parsed = parse_request(
        form(view_press("seqbot:home:cancel:1", "remind:cancel:1", HOME)), FORM_BODY
    )
    assert isinstance(parsed, BlockActions)
    message = action_message(parsed)
    assert message is not None
    assert (message.chat_id, message.chat_kind) == ("D1", ChatKind.PRIVATE)
    assert message.action == "remind:cancel:1"

    elsewhere = view_press(
        "seqbot:home:cancel:1", "remind:cancel:1", HOME | {"private_metadata": "C1"}
    )
    parsed = parse_request(form(elsewhere), FORM_BODY)
    assert isinstance(parsed, BlockActions) and action_message(parsed) is None


def test_empty_inputs_may_be_null_as_slack_sends_them() -> None:
    values = {
        "text": {"value": {"type": "plain_text_input", "value": None}},
        "date": {"value": {"type": "datepicker", "selected_date": None}},
        "repeat": {"value": {"type": "static_select", "selected_option": None}},
    }
    parsed = parse_request(form(view_submission(MODAL, values)), FORM_BODY)
    assert isinstance(parsed, ViewSubmission) and parsed.view.state is not None
    assert parsed.view.state.values["text"]["value"].value is None


def test_view_submission_keeps_the_inputs() -> None:
    values = {
        "text": {"value": text_value("water the plants")},
        "date": {"value": {"type": "datepicker", "selected_date": "2030-01-02"}},
        "time": {"value": {"type": "timepicker", "selected_time": "09:30"}},
        "repeat": {"value": {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": "Daily"}, "value": "daily"}}},
    }  # fmt: skip
    parsed = parse_request(form(view_submission(MODAL, values)), FORM_BODY)
    assert isinstance(parsed, ViewSubmission) and parsed.view.state is not None
    state = parsed.view.state.values
    assert state["text"]["value"].value == "water the plants"
    assert state["date"]["value"].selected_date == "2030-01-02"
    assert state["time"]["value"].selected_time == "09:30"
    option = state["repeat"]["value"].selected_option
    assert option is not None and option.value == "daily"


@pytest.mark.parametrize(
    "value",
    [
        {"type": "datepicker", "selected_date": 20300102},
        {"type": "timepicker", "selected_time": "9 o'clock"},
        {"type": "plain_text_input", "value": 5},
        {"type": "plain_text_input", "value": "a\x00b"},
    ],
)
def test_view_submission_with_odd_inputs_is_refused(value: dict) -> None:  # type: ignore[type-arg]
    with pytest.raises(MalformedRequest):
        parse_request(form(view_submission(MODAL, {"block": {"value": value}})), FORM_BODY)
