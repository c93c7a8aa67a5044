"""The bot's Home tab in Slack: a person's upcoming reminders, settings and the commands.

Slack shows the Home tab when someone opens the app (``app_home_opened``); the
view is published with ``views.publish`` for that user alone. Its buttons are
ordinary seqbot buttons (the value is the core's action id, e.g.
``remind:cancel:12``), so Cancel and Snooze run through the core like any
other press; the Home view keeps the person's DM with the bot in its
``private_metadata``, where the core's answer is posted. "Change" opens a small
modal whose submission becomes ``/settings`` commands, also through the core.
After the core has handled anything from a person who opened Home in this
process, the view is published again, so it never shows stale reminders.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from slack_bolt.async_app import AsyncAck

from bot.errors import UserError
from bot.locale import language_name, parse_language, parse_timezone
from bot.messages import ChatKind, IncomingMessage
from bot.plugins import CommandSpec, action_id
from bot.reminders.delivery import REMINDERS_TASK
from bot.settings import Settings
from bot.transports.base import DeliveryError, Receiver
from bot.transports.slack import delivery
from bot.transports.slack.hooks import TransportHooks
from bot.transports.slack.payloads import (
    PLATFORM,
    AppHomeOpened,
    BlockActions,
    EventCallback,
    View,
    ViewSubmission,
    validated,
)
from bot.transports.slack.rendering import ACTION_PREFIX, escape, section
from bot.transports.slack.replies import Origin
from storage import reminders as store
from storage.db import Database
from storage.models import Reminder
from storage.people import find_user

log = logging.getLogger(__name__)

HOME_CALLBACK = "seqbot_home"
SETTINGS_CALLBACK = "seqbot_settings"
#: The action id of Home's "Change" button (opens the settings modal; not a core action).
SETTINGS_BUTTON = "seqbot_home_settings"
#: Reminders shown on Home (a view holds 100 blocks; each reminder takes two).
HOME_REMINDERS = 20
SNOOZE = "1h"
_REMEMBERED = 10_000


def reminder_blocks(reminder: Reminder) -> list[dict[str, Any]]:
    """One upcoming reminder with its Snooze and Cancel buttons (values are core actions)."""
    local = reminder.due_at.astimezone(ZoneInfo(reminder.timezone))
    when = local.strftime("%a %d %b %Y, %H:%M ") + reminder.timezone
    repeat = " · repeats" if reminder.rrule else ""
    text = section(f"*#{reminder.id}* {escape(reminder.text)}\n{when}{repeat}")
    snooze = action_id(REMINDERS_TASK, "snooze", f"{reminder.id}:{SNOOZE}")
    cancel = action_id(REMINDERS_TASK, "cancel", str(reminder.id))
    buttons = {
        "type": "actions",
        "block_id": f"reminder_{reminder.id}",
        "elements": [
            _button(f"home:snooze:{reminder.id}", "Snooze 1 h", snooze),
            _button(f"home:cancel:{reminder.id}", "Cancel", cancel) | {"style": "danger"},
        ],
    }
    return [text, buttons]


def _button(name: str, label: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": f"{ACTION_PREFIX}{name}",
            "text": {"type": "plain_text", "text": label}, "value": value}  # fmt: skip


def home_view(
    *,
    channel: str,
    reminders: Sequence[Reminder],
    timezone: str,
    timezone_set: bool,
    language: str,
    commands: Sequence[CommandSpec],
) -> dict[str, Any]:
    """The Home tab: reminders first (what changes), then settings, then the commands."""
    header = {"type": "header", "text": {"type": "plain_text", "text": "Your reminders"}}
    blocks: list[dict[str, Any]] = [header]
    for reminder in reminders[:HOME_REMINDERS]:
        blocks += reminder_blocks(reminder)
    if not reminders:
        blocks.append(section("No upcoming reminders. Create one: `/seqbot remind`"))
    zone = timezone + ("" if timezone_set else " (default)")
    settings = section(
        f"*Time zone:* {escape(zone)}\n*Language:* {escape(language_name(language))} ({language})"
    )
    settings["accessory"] = {
        "type": "button",
        "action_id": SETTINGS_BUTTON,
        "text": {"type": "plain_text", "text": "Change"},
        "value": "settings",
    }
    blocks += [{"type": "divider"}, settings, {"type": "divider"}]
    blocks.append({"type": "header", "text": {"type": "plain_text", "text": "Commands"}})
    blocks += _command_blocks(commands)
    return {"type": "home", "callback_id": HOME_CALLBACK, "private_metadata": channel,
            "blocks": blocks[:100]}  # fmt: skip


def _command_blocks(commands: Sequence[CommandSpec]) -> list[dict[str, Any]]:
    """One line per task: its commands and what it does."""
    by_task: dict[str, list[CommandSpec]] = {}
    for spec in commands:
        by_task.setdefault(spec.task.name, []).append(spec)
    lines = []
    for specs in by_task.values():
        names = ", ".join(f"`/{spec.name}`" for spec in specs)
        summary = getattr(specs[0].task, "summary", "") or ""
        lines.append(f"{names}  {escape(summary)}".strip())
    text = "\n".join(lines) or "No commands are loaded."
    return [section(text[i : i + 3000]) for i in range(0, len(text), 3000)][:40]


def settings_modal(*, channel: str, timezone: str, language: str) -> dict[str, Any]:
    """A small form for the two settings; the submission becomes ``/settings`` commands."""
    return {
        "type": "modal",
        "callback_id": SETTINGS_CALLBACK,
        "private_metadata": channel,
        "title": {"type": "plain_text", "text": "Your settings"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _text_input("timezone", "Time zone", timezone, "e.g. Europe/Berlin"),
            _text_input("language", "Language", language, "e.g. de, German or Deutsch"),
        ],
    }


def _text_input(block_id: str, label: str, initial: str, hint: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": label},
        "hint": {"type": "plain_text", "text": hint},
        "element": {"type": "plain_text_input", "action_id": "value", "initial_value": initial},
    }


def input_text(view: View, block_id: str, action: str = "value") -> str:
    """The text typed into one input of a submitted view ("" when empty or absent)."""
    values = view.state.values if view.state is not None else {}
    found = values.get(block_id, {}).get(action)
    return (found.value or "").strip() if found is not None else ""


def read_settings(view: View) -> tuple[str, str, dict[str, str]]:
    """The submitted time zone and language code, and an error per field that is wrong."""
    errors: dict[str, str] = {}
    zone = language = ""
    try:
        zone = parse_timezone(input_text(view, "timezone"))
    except UserError as exc:
        errors["timezone"] = str(exc)[:150]
    try:
        language = parse_language(input_text(view, "language"))
    except UserError as exc:
        errors["language"] = str(exc)[:150]
    return zone, language, errors


async def profile(db: Database, settings: Settings, user_id: str) -> tuple[str, bool, str]:
    """A Slack user's time zone (and whether they chose it) and language, or the defaults."""
    async with db.session() as session:
        user = await find_user(session, PLATFORM, user_id)
    zone = user.timezone if user is not None else None
    language = user.language if user is not None else None
    return zone or settings.timezone, zone is not None, language or settings.language


class HomeTab:
    """Publishes Home views and answers Home's settings button and modal."""

    def __init__(self, hooks: TransportHooks, bot: Receiver, settings: Settings) -> None:
        self.hooks = hooks
        self.bot = bot
        self.settings = settings
        #: Who opened Home in this process, and their DM channel with the bot.
        self._opened: OrderedDict[str, str] = OrderedDict()

    async def on_opened(self, body: dict[str, Any]) -> None:
        """``app_home_opened`` (acked by Bolt): publish this person's Home."""
        envelope = validated(EventCallback, body)
        event = envelope.event if envelope is not None else None
        if not isinstance(event, AppHomeOpened) or event.tab != "home":
            return
        if not self.hooks.allowed(event.user, event.channel, ChatKind.PRIVATE):
            return
        self._opened[event.user] = event.channel
        self._opened.move_to_end(event.user)
        while len(self._opened) > _REMEMBERED:
            self._opened.popitem(last=False)
        self.hooks.spawn(self.refresh(event.user))

    async def refresh(self, user_id: str) -> None:
        """Publish Home again for a person who opened it; failures are logged, not raised."""
        channel = self._opened.get(user_id)
        if channel is None:
            return
        try:
            view = await self._view(user_id, channel)
            await delivery.call(lambda: self.hooks.client.views_publish(user_id=user_id, view=view))
        except DeliveryError as exc:
            log.info("Slack: could not publish Home for %s: %s", user_id, exc)
        except Exception:
            log.exception("Slack: could not build Home for %s", user_id)

    async def _view(self, user_id: str, channel: str) -> dict[str, Any]:
        zone, zone_set, language = await self._profile(user_id)
        async with self.bot.db.session() as session:
            upcoming = await store.upcoming_for_person(session, PLATFORM, user_id, HOME_REMINDERS)
        return home_view(
            channel=channel, reminders=upcoming, timezone=zone, timezone_set=zone_set,
            language=language, commands=self.bot.plugins.visible_commands(),
        )  # fmt: skip

    async def _profile(self, user_id: str) -> tuple[str, bool, str]:
        return await profile(self.bot.db, self.settings, user_id)

    async def on_settings_button(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Home's "Change": open the settings modal (the trigger id is valid for 3 s)."""
        await ack()
        press = validated(BlockActions, body)
        if press is None or press.view is None:
            return
        channel = press.view.private_metadata
        zone, _, language = await self._profile(press.user.id)
        modal = settings_modal(channel=channel, timezone=zone, language=language)
        try:
            await delivery.call(
                lambda: self.hooks.client.views_open(trigger_id=press.trigger_id, view=modal)
            )
        except DeliveryError as exc:
            log.info("Slack: could not open the settings modal: %s", exc)

    async def on_settings_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Field errors go back into the modal; valid values become ``/settings`` commands."""
        submitted = validated(ViewSubmission, body)
        if submitted is None:
            await ack()
            return
        zone, language, errors = read_settings(submitted.view)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        user = submitted.user
        channel = submitted.view.private_metadata
        if not channel or not self.hooks.allowed(user.id, channel, ChatKind.PRIVATE):
            return
        current_zone, zone_set, current_language = await self._profile(user.id)
        changes = []
        if zone != current_zone or not zone_set:
            changes.append(f"timezone {zone}")
        if language != current_language:
            changes.append(f"language {language}")
        messages = [
            IncomingMessage(
                platform=PLATFORM,
                chat_id=channel,
                chat_kind=ChatKind.PRIVATE,
                user_id=user.id,
                user_name=user.username or user.name or user.id,
                text=change,
                message_id=f"view:{submitted.view.id}:{index}",
                slash_command="settings",
            )
            for index, change in enumerate(changes)
        ]
        self.hooks.spawn(self._run_all(messages))

    async def _run_all(self, messages: list[IncomingMessage]) -> None:
        """In order, so the confirmations read as the form was filled in; answered in the DM."""
        for message in messages:
            origin = Origin(user_id=message.user_id, chat_kind=message.chat_kind)
            await self.hooks.run(message, origin)
