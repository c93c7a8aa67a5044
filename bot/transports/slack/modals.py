"""The reminder modal: ``/seqbot remind`` with nothing after it, or the Remind shortcut.

Slack's date and time pickers and a repeat choice replace the phrase a typed
``/remind`` needs. The modal's ``private_metadata`` remembers where the
reminder goes (the channel and thread the command came from, the command's
``response_url`` for the confirmation, a link back to a message). A submission
is checked here first, so mistakes come back as field errors in the modal
(``response_action: errors``); a good one becomes the reminders task's ``form``
action, run through the core like a button press, whose payload is the JSON
object ``{"text", "date", "time", "repeat", "link"?}`` that
``tasks/reminders/forms.py`` reads. The confirmation is shown to the user only.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck

from bot.messages import ChatKind, IncomingMessage
from bot.plugins import action_id
from bot.reminders.delivery import REMINDERS_TASK
from bot.reminders.occurrence import localize
from bot.settings import Settings
from bot.transports.base import DeliveryError, Receiver
from bot.transports.slack import delivery
from bot.transports.slack.home import input_text, profile
from bot.transports.slack.hooks import TransportHooks
from bot.transports.slack.payloads import PLATFORM, View, ViewSubmission, chat_kind, validated
from bot.transports.slack.replies import Origin

log = logging.getLogger(__name__)

REMIND_CALLBACK = "seqbot_remind"
#: The repeat choices (the values are what ``tasks/reminders/forms.py`` knows).
REPEATS = (
    ("none", "Does not repeat"),
    ("daily", "Every day"),
    ("weekdays", "Every weekday (Mon–Fri)"),
    ("weekly", "Every week on that day"),
    ("monthly", "Every month on that date"),
)
MAX_TEXT = 1000
_ID = re.compile(r"^[A-Z0-9]{1,40}$")
_TS = re.compile(r"^[0-9]{1,12}(\.[0-9]{1,9})?$")
_URL = re.compile(r"^https?://[!-~]{1,2000}$")


@dataclass(frozen=True)
class Target:
    """Where the reminder is set (and confirmed), kept in the modal's ``private_metadata``."""

    channel: str
    kind: str
    thread: str | None = None
    response_url: str | None = None
    link: str | None = None

    def metadata(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if v}, separators=(",", ":"))

    @classmethod
    def from_metadata(cls, raw: str) -> Target | None:
        """Our own metadata back, or None when it is not (only a signed request carries it)."""
        try:
            data = json.loads(raw)
            target = cls(**data)
        except (ValueError, TypeError):
            return None
        if not _ID.match(target.channel) or target.kind not in set(ChatKind):
            return None
        if target.thread is not None and not _TS.match(target.thread):
            return None
        for url in (target.response_url, target.link):
            if url is not None and not _URL.match(url):
                return None
        return target


def remind_modal(target: Target, *, zone: str, today: date, text: str = "") -> dict[str, Any]:
    """The form: what, which day, what time (in the user's zone), how often."""
    text_input: dict[str, Any] = {"type": "plain_text_input", "action_id": "value",
                                  "multiline": True, "max_length": MAX_TEXT}  # fmt: skip
    if text:
        text_input["initial_value"] = text[:MAX_TEXT]
    options = [_option(value, label) for value, label in REPEATS]
    blocks = [
        _input("text", "Remind me of", text_input),
        _input(
            "date",
            "Day",
            {"type": "datepicker", "action_id": "value", "initial_date": today.isoformat()},
        ),
        _input(
            "time",
            "Time",
            {"type": "timepicker", "action_id": "value"},
            hint=f"In your time zone, {zone} (change it with /settings timezone).",
        ),
        _input(
            "repeat",
            "Repeat",
            {
                "type": "static_select",
                "action_id": "value",
                "options": options,
                "initial_option": options[0],
            },
        ),
    ]
    if target.link:
        link = {"type": "mrkdwn", "text": f"The reminder links to <{target.link}|the message>."}
        blocks.append({"type": "context", "elements": [link]})
    return {
        "type": "modal",
        "callback_id": REMIND_CALLBACK,
        "private_metadata": target.metadata(),
        "title": {"type": "plain_text", "text": "New reminder"},
        "submit": {"type": "plain_text", "text": "Remind me"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": label}, "value": value}


def _input(
    block_id: str, label: str, element: dict[str, Any], hint: str | None = None
) -> dict[str, Any]:
    block = {"type": "input", "block_id": block_id, "element": element,
             "label": {"type": "plain_text", "text": label}}  # fmt: skip
    if hint:
        block["hint"] = {"type": "plain_text", "text": hint}
    return block


def read_reminder(
    view: View, *, zone: str, now: datetime, max_years: int
) -> tuple[dict[str, str], dict[str, str]]:
    """The submitted fields, and an error per field Slack should show under it."""
    values = view.state.values if view.state is not None else {}

    def picked(block: str) -> Any:
        return values.get(block, {}).get("value")

    text = input_text(view, "text")
    day = getattr(picked("date"), "selected_date", None) or ""
    clock = getattr(picked("time"), "selected_time", None) or ""
    option = getattr(picked("repeat"), "selected_option", None)
    repeat = option.value if option is not None else "none"
    errors: dict[str, str] = {}
    if not text:
        errors["text"] = "What should I remind you of?"
    elif len(text) > MAX_TEXT:
        errors["text"] = f"At most {MAX_TEXT} characters, please."
    if not day:
        errors["date"] = "Pick a day."
    if not clock:
        errors["time"] = "Pick a time."
    if repeat not in dict(REPEATS):
        errors["repeat"] = "Pick one of the choices."
    due = _moment(day, clock, zone)
    if day and clock and due is None:
        errors["date"] = "That is not a day of the calendar."
    elif due is not None:
        if due <= now:
            errors["time"] = f"That time is already past ({zone})."
        elif due > now + timedelta(days=366 * max_years):
            errors["date"] = f"That is more than {max_years} years ahead."
    return {"text": text, "date": day, "time": clock, "repeat": repeat}, errors


def _moment(day: str, clock: str, zone: str) -> datetime | None:
    """The picked day and time on the wall clock of ``zone``, as UTC (None if incomplete)."""
    try:
        return localize(datetime.combine(date.fromisoformat(day), time.fromisoformat(clock)), zone)
    except ValueError:
        return None


class ReminderModal:
    """Opens the reminder modal and turns its submission into the reminders task's action."""

    def __init__(self, hooks: TransportHooks, bot: Receiver, settings: Settings) -> None:
        self.hooks = hooks
        self.bot = bot
        self.settings = settings

    async def open(self, trigger_id: str, user_id: str, target: Target, text: str = "") -> None:
        """``views.open`` with the trigger of the command or shortcut (valid for 3 seconds)."""
        zone, _, _ = await profile(self.bot.db, self.settings, user_id)
        today = datetime.now(UTC).astimezone(ZoneInfo(zone)).date()
        view = remind_modal(target, zone=zone, today=today, text=text)
        try:
            await delivery.call(
                lambda: self.hooks.client.views_open(trigger_id=trigger_id, view=view)
            )
        except DeliveryError as exc:
            log.info("Slack: could not open the reminder modal: %s", exc)

    async def on_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Field errors back into the modal; otherwise close it and create the reminder."""
        submitted = validated(ViewSubmission, body)
        target = Target.from_metadata(submitted.view.private_metadata) if submitted else None
        if submitted is None or target is None:
            await ack()
            return
        if not self.hooks.allowed(submitted.user.id, target.channel, ChatKind(target.kind)):
            await ack()
            return
        zone, _, _ = await profile(self.bot.db, self.settings, submitted.user.id)
        fields, errors = read_reminder(
            submitted.view, zone=zone, now=datetime.now(UTC),
            max_years=self.settings.reminder_max_years_ahead,
        )  # fmt: skip
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        if target.link:
            fields["link"] = target.link
        user = submitted.user
        message = IncomingMessage(
            platform=PLATFORM, chat_id=target.channel, chat_kind=ChatKind(target.kind),
            user_id=user.id, user_name=user.username or user.name or user.id, text="",
            message_id=f"view:{submitted.view.id}", thread_id=target.thread,
            action=action_id(REMINDERS_TASK, "form", json.dumps(fields, ensure_ascii=False)),
        )  # fmt: skip
        origin = Origin(user_id=user.id, chat_kind=message.chat_kind,
                        response_url=target.response_url, ephemeral=True)  # fmt: skip
        self.hooks.spawn(self._once(f"view:{submitted.view.id}", message, origin))

    async def _once(self, key: str, message: IncomingMessage, origin: Origin) -> None:
        """A modal is submitted once; a replayed submission creates nothing."""
        if await self.hooks.claim(key):
            await self.hooks.run(message, origin)


def command_target(channel: str, private: bool, response_url: str) -> Target:
    """Where ``/seqbot remind`` was typed: the reminder goes there, confirmed to the user."""
    kind = ChatKind.PRIVATE if private else chat_kind(channel)
    return Target(channel=channel, kind=str(kind), response_url=response_url)
