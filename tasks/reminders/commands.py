"""``/remind``: create, list, cancel, snooze and finish reminders.

The task only writes rows and wakes the dispatcher (:mod:`bot.reminders`);
delivery, retries and recurrence happen there, so a reminder created in one
process is delivered by whichever process runs a transport for its platform.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.context import Context
from bot.errors import UsageError, UserError
from bot.locale import parse_timezone
from bot.messages import Button, ChatKind, Reply
from bot.plugins import Task, action, command, dialog_step
from bot.reminders.delivery import REMINDERS_TASK
from storage import reminders as store
from storage.models import Reminder, ReminderStatus
from storage.people import set_user_setting
from tasks._numbers import digits_of, parse_id
from tasks.reminders.formatting import (
    alternative_button,
    confirmation,
    describe_rrule,
    listing,
    strip_markup,
    until,
)
from tasks.reminders.forms import ReminderForm, schedule
from tasks.reminders.parsing import (
    ParsedWhen,
    format_local,
    parse_reminder,
    parse_snooze,
)

_YES = {"yes", "y", "ok", "okay", "sure", "end it", "stop", "done"}
_KEEP_DEFAULT = {"", "ok", "okay", "yes", "y", "keep", "default", "fine", "sure"}


class Reminders(Task):
    name = REMINDERS_TASK  # the dispatcher's Snooze / Done buttons call this task
    summary = "Reminders for you or the chat, once or repeating, in your time zone."
    usage = (
        "/remind me in 10 minutes to stretch\n"
        "/remind me tomorrow at 9 to call Anna\n"
        "/remind me tonight at 11 | next friday | march 3 at 5pm | Thursday 8:00 PST ...\n"
        "/remind me on friday 15:30 send the report\n"
        "/remind me 2026-12-24 18:00 dinner\n"
        "/remind here every weekday at 9:00 stand-up\n"
        "/remind me every monday at 9am | daily at 7 | every 2 hours | every first of the month "
        "| every other wednesday at 10 ...\n"
        "(in your /settings language too: morgen um 9, demain à 9h, mañana a las 9, завтра в 9, "
        "明天上午9点)\n"
        "/remind list · /remind cancel <id> · /remind snooze <id> 10m · /remind done <id>"
    )

    @command("remind", "reminder", "reminders")
    async def remind(self, ctx: Context, args: str) -> str | None:
        word, _, rest = args.strip().partition(" ")
        word = word.lower()
        if word in ("me", "here"):
            return await self._create(ctx, word, rest)
        if word in ("list", "ls", ""):
            if not word and not rest:
                return await self._list(ctx) + "\n\nCreate one: /remind me in 10 minutes to stretch"
            return await self._list(ctx)
        if word in ("cancel", "delete", "rm"):
            return await self._cancel(ctx, rest)
        if word == "snooze":
            reminder_id, _, span = rest.strip().partition(" ")
            return await self._snooze(ctx, reminder_id, span or "10m")
        if word == "done":
            return await self._done(ctx, rest)
        # Anything else is a reminder for the sender, said the way their language says
        # it: "/remind morgen um 9: Meeting vorbereiten", "/remind 明天上午9点提醒我开会".
        return await self._create(ctx, "me", args.strip())

    # -- creating ----------------------------------------------------------------------------

    async def _create(
        self, ctx: Context, who: str, spec: str, zone: str | None = None
    ) -> Reply | None:
        now = _now(ctx)
        # Off the event loop: parsing is milliseconds, but a hostile phrase may take up to
        # the parser's time limit (see tasks/reminders/when/duckling.py).
        parsed = await asyncio.to_thread(
            parse_reminder, spec, now=now, zone=zone or ctx.user.timezone,
            max_years=ctx.settings.reminder_max_years_ahead, language=ctx.user.language,
        )  # fmt: skip
        what = strip_markup(parsed.text) or _quoted(ctx)
        if not what:
            raise UsageError("What should I remind you of? Put the text after the time.")
        if zone is None and parsed.uses_zone and not ctx.user.timezone_set:
            pending = {"who": who, "spec": spec, "text": what}
            await ctx.ask(
                f"Which time zone are you in? I'll use **{ctx.user.timezone}** unless you name "
                "another (for example Europe/Berlin); reply `ok` to keep it. "
                "You can change it any time with /settings timezone.",
                step="timezone",
                data=pending,
                on_abandon=_dropped_note(pending),
            )
            return None
        reminder = await self._store(
            ctx, who, what, parsed.due_at, zone or ctx.user.timezone, parsed.rrule
        )
        note = ""
        if zone is None and not ctx.user.timezone_set:
            note = f"Times are shown in {ctx.user.timezone}; set yours with /settings timezone."
        text = confirmation(reminder, now=now, zone_note=note, assumption=parsed.assumption)
        return Reply(text, buttons=_alternative_buttons(reminder, parsed))

    async def _store(
        self, ctx: Context, who: str, text: str, due_at: datetime, zone: str, rrule: str | None
    ) -> Reminder:
        """Insert a reminder here (within the per-user cap) and wake the dispatcher."""
        mention = None
        if who == "me" and ctx.message.chat_kind != ChatKind.PRIVATE:
            mention = ctx.user.display_name or None
        async with ctx.db.session() as session:
            await self._check_cap(ctx, session)
            reminder = await store.add_reminder(
                session,
                user_id=ctx.user.id,
                platform=ctx.message.platform,
                chat_external_id=ctx.message.chat_id,
                thread_id=ctx.message.thread_id,
                text=text,
                due_at=due_at,
                timezone=zone,
                rrule=rrule,
                mention=mention,
            )
        _wake(ctx)
        return reminder

    @action("form")
    async def form_submitted(self, ctx: Context, payload: str) -> str:
        """A reminder from a form's fields (Slack's modal), confirmed like a typed one."""
        form = ReminderForm.from_payload(payload)
        now = _now(ctx)
        zone = ctx.user.timezone
        due_at, rrule = schedule(
            form, zone, now=now, max_years=ctx.settings.reminder_max_years_ahead
        )
        reminder = await self._store(ctx, "me", form.full_text, due_at, zone, rrule)
        note = ""
        if not ctx.user.timezone_set:
            note = f"Times are shown in {zone}; set yours with /settings timezone."
        return confirmation(reminder, now=now, zone_note=note)

    @dialog_step("timezone")
    async def timezone_answer(
        self, ctx: Context, text: str, data: dict[str, Any]
    ) -> Reply | str | None:
        answer = text.strip()
        if answer.lower() in _KEEP_DEFAULT:
            zone = ctx.user.timezone
        else:
            try:
                zone = parse_timezone(answer)
            except UserError as exc:
                await ctx.ask(f"{exc} Or reply `ok` to keep {ctx.user.timezone}.",
                              step="timezone", data=data, on_abandon=_dropped_note(data))  # fmt: skip
                return None
        async with ctx.db.session() as session:
            await set_user_setting(session, ctx.user.id, timezone=zone)
        done = await self._create(ctx, str(data["who"]), str(data["spec"]), zone=zone)
        if done is None:
            return None
        return Reply(f"Time zone set to {zone}.\n{done.text}", buttons=done.buttons)

    async def _check_cap(self, ctx: Context, session: AsyncSession) -> None:
        limit = ctx.settings.reminder_max_per_user
        if await store.active_count_for_user(session, ctx.user.id) >= limit:
            raise UserError(
                f"You already have {limit} active reminders, the most I keep per person; "
                "cancel some with /remind cancel <id> (see /remind list)."
            )

    # -- managing ----------------------------------------------------------------------------

    async def _list(self, ctx: Context) -> str:
        async with ctx.db.session() as session:
            found = await store.active_reminders_in_chat(
                session, ctx.user.id, ctx.message.platform, ctx.message.chat_id
            )
        return listing(found)

    async def _find(self, ctx: Context, session: AsyncSession, raw: str) -> Reminder:
        missing = "I have no reminder #{id} for you; /remind list shows yours."
        reminder_id = parse_id(
            raw, usage="Which reminder? Give its number, for example /remind cancel 12.",
            missing=missing,
        )  # fmt: skip
        reminder = await store.reminder_in_reach(
            session,
            reminder_id,
            user_id=ctx.user.id,
            platform=ctx.message.platform,
            chat_external_id=ctx.message.chat_id,
        )
        if reminder is None:
            raise UserError(missing.format(id=reminder_id))
        return reminder

    async def _cancel(self, ctx: Context, raw: str) -> str:
        async with ctx.db.session() as session:
            reminder = await self._find(ctx, session, raw)
            if reminder.status not in store.ACTIVE:
                return f"Reminder #{reminder.id} is not active any more ({reminder.status})."
            await store.set_status(session, reminder.id, ReminderStatus.CANCELLED)
        return f"Cancelled reminder #{reminder.id}: {reminder.text}"

    async def _snooze(self, ctx: Context, raw_id: str, span: str) -> str:
        delay = parse_snooze(span)
        until = _now(ctx) + delay
        async with ctx.db.session() as session:
            reminder = await self._find(ctx, session, raw_id)
            if reminder.status == ReminderStatus.CANCELLED:
                raise UserError(f"Reminder #{reminder.id} was cancelled; create a new one.")
            if reminder.rrule:
                # The series moved on already; the snoozed occurrence becomes a one-off copy.
                await self._check_cap(ctx, session)
                copy = await store.add_reminder(
                    session,
                    user_id=ctx.user.id,
                    platform=reminder.platform,
                    chat_external_id=reminder.chat_external_id,
                    thread_id=reminder.thread_id,
                    text=reminder.text,
                    due_at=until,
                    timezone=reminder.timezone,
                    mention=reminder.mention,
                )
                shown = copy.id
            else:
                await store.snooze(session, reminder.id, until)
                shown = reminder.id
        _wake(ctx)
        return f"Snoozed: #{shown} {reminder.text} at {format_local(until, reminder.timezone)}."

    async def _done(self, ctx: Context, raw: str) -> str | None:
        async with ctx.db.session() as session:
            reminder = await self._find(ctx, session, raw)
            if reminder.status not in store.ACTIVE:
                return f"Done: #{reminder.id} {reminder.text}."
            if not reminder.rrule:
                await store.set_status(session, reminder.id, ReminderStatus.CANCELLED)
                return f"Done: #{reminder.id} {reminder.text}. I won't remind you of it."
        # A repeating reminder ends only after the user confirms.
        await ctx.ask(
            f"#{reminder.id} {reminder.text} repeats {describe_rrule(reminder.rrule or '')}. "
            "End it for good? Reply yes or no.",
            step="confirm_done",
            data={"id": reminder.id},
        )
        return None

    @dialog_step("confirm_done")
    async def confirm_done(self, ctx: Context, text: str, data: dict[str, Any]) -> str:
        if text.strip().lower() not in _YES:
            return "OK, it keeps repeating."
        async with ctx.db.session() as session:
            reminder = await self._find(ctx, session, str(data["id"]))
            await store.set_status(session, reminder.id, ReminderStatus.CANCELLED)
        return f"Ended the repeating reminder #{reminder.id}: {reminder.text}"

    # -- buttons under delivered reminders (and on Slack's Home) -----------------------------

    @action("snooze")
    async def snooze_button(self, ctx: Context, payload: str) -> str:
        reminder_id, _, span = payload.partition(":")
        return await self._snooze(ctx, reminder_id, span or "10m")

    @action("cancel")
    async def cancel_button(self, ctx: Context, payload: str) -> str:
        """Cancel from a list of reminders (Slack's Home tab)."""
        return await self._cancel(ctx, payload)

    @action("done")
    async def done_button(self, ctx: Context, payload: str) -> str | None:
        return await self._done(ctx, payload)

    # -- the other reading of an ambiguous request ("at 3": 15:00, or 03:00) ------------------

    @action("alt")
    async def alternative_pressed(self, ctx: Context, payload: str) -> str:
        """Move the reminder to the other reading offered under its confirmation."""
        raw_id, _, stamp = payload.partition(":")
        when = self._alternative_time(ctx, stamp)
        async with ctx.db.session() as session:
            reminder = await self._find(ctx, session, raw_id)
            if reminder.status not in store.ACTIVE:
                return f"Reminder #{reminder.id} is not active any more ({reminder.status})."
            zone = reminder.timezone
            if not reminder.rrule:
                await store.snooze(session, reminder.id, when)
                moved = f"Moved #{reminder.id} {reminder.text}"
            else:
                # A repetition moves to the other clock time: a new series replaces the old.
                await store.set_status(session, reminder.id, ReminderStatus.CANCELLED)
                rrule = _with_clock(reminder.rrule, when, zone)
                copy = await store.add_reminder(
                    session, user_id=reminder.user_id, platform=reminder.platform,
                    chat_external_id=reminder.chat_external_id, thread_id=reminder.thread_id,
                    text=reminder.text, due_at=when, timezone=zone, rrule=rrule,
                    mention=reminder.mention,
                )  # fmt: skip
                moved = f"Moved: #{copy.id} {reminder.text} (replaces #{reminder.id})"
        _wake(ctx)
        return f"{moved} to {format_local(when, zone)}, {until(when - _now(ctx))}."

    def _alternative_time(self, ctx: Context, stamp: str) -> datetime:
        """The button's time, refused when it is past or out of reach (a typed /press)."""
        digits = digits_of(stamp)
        now = _now(ctx)
        if digits is None or len(digits) > 12:
            raise UsageError("That button is not one I made; create the reminder again.")
        when = datetime.fromtimestamp(int(digits), UTC)
        if when <= now:
            raise UserError("That time is already past; create the reminder again.")
        if when > now + timedelta(days=366 * ctx.settings.reminder_max_years_ahead):
            raise UsageError("That is too far ahead; create the reminder again.")
        return when


def _alternative_buttons(reminder: Reminder, parsed: ParsedWhen) -> tuple[Button, ...]:
    if parsed.alternative is None or parsed.alternative == parsed.due_at:
        return ()
    return (alternative_button(reminder.id, parsed.alternative, reminder.timezone),)


def _with_clock(rrule: str, when: datetime, zone: str) -> str:
    """``rrule`` at the wall-clock time of ``when`` in ``zone`` (BYHOUR/BYMINUTE replaced)."""
    local = when.astimezone(ZoneInfo(zone))
    rrule = re.sub(r"BYHOUR=\d+", f"BYHOUR={local.hour}", rrule)
    return re.sub(r"BYMINUTE=\d+", f"BYMINUTE={local.minute}", rrule)


#: The most of a quoted message a reminder repeats.
QUOTE_CHARS = 300


def _quoted(ctx: Context) -> str:
    """``/remind in 2 hours`` sent as a reply: the reminder quotes the message replied to."""
    quoted = ctx.message.reply_to
    text = " ".join((quoted.text or "").split()) if quoted is not None else ""
    if not text:
        return ""
    if len(text) > QUOTE_CHARS:
        text = text[: QUOTE_CHARS - 1].rstrip() + "…"
    author = f" ({quoted.user_name})" if quoted is not None and quoted.user_name else ""
    return f"“{strip_markup(text)}”{author}"


def _dropped_note(pending: dict[str, Any]) -> str:
    """What the user hears when a command comes before the time zone answer."""
    text = pending.get("text") or pending["spec"]
    return (
        f"I dropped your pending reminder “{text}” because you sent another command; "
        f"send it again: /remind {pending['who']} {pending['spec']}"
    )


def _now(ctx: Context) -> datetime:
    """The dispatcher's clock, so tests that move time move it for commands too."""
    clock = getattr(ctx.reminders, "clock", None)
    return clock() if clock is not None else datetime.now(UTC)


def _wake(ctx: Context) -> None:
    if ctx.reminders is not None:
        ctx.reminders.wake()
