"""Slack payloads (slash commands, events, button presses) as the core's incoming messages.

Every body is first validated against the few fields seqbot reads, in the
shape Slack sends them (:func:`parse_request` for HTTP bodies,
:func:`validated` for what Bolt hands the listeners): a body that does not
fit is refused as a whole, so no other code has to guard against a number
where a user id belongs. The rest are pure functions of validated payloads,
so every routing decision (which events are ours, what counts as addressed,
which messages are the bot's own) is tested without a server. Slack's
escaped mrkdwn (``&amp;``, ``<@U123>``, ``<https://x|label>``) is turned
back into the plain text tasks expect.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    ValidationError,
)

from bot.messages import Attachment, ChatKind, IncomingMessage

PLATFORM = "slack"
JSON_BODY = "application/json"
FORM_BODY = "application/x-www-form-urlencoded"

#: Message subtypes that are people talking; joins, edits, deletions and bots are not.
_HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share", "me_message"}
_ENTITY = re.compile(r"<([^<>]+)>")


# ----- what Slack sends ----------------------------------------------------------------------


class MalformedRequest(ValueError):
    """A correctly signed body that is not one Slack sends; the endpoint answers 400."""


def _sendable(text: str) -> str:
    """Text that Slack could have sent and storage can keep: valid Unicode without NUL."""
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    text.encode("utf-8")  # a lone surrogate from a JSON escape raises UnicodeEncodeError
    return text


def _not_null(value: Any) -> Any:
    """Optional fields may be absent; Slack never sends them as null."""
    if value is None:
        raise ValueError("null where Slack sends a value or nothing")
    return value


_NOT_NULL = BeforeValidator(_not_null)
#: User, channel, team, trigger and event ids (all short, e.g. U012AB3CD, 1335.7384.8088f0).
SlackId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
#: Message timestamps, which double as message ids: "1355517523.000005".
Ts = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,12}(\.[0-9]{1,9})?$")]
#: Payload, event and channel types and subtypes: "event_callback", "im", "thread_broadcast".
Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
#: Message and command text; 40,000 characters is Slack's own limit for a message.
Text = Annotated[str, StringConstraints(max_length=40_000), AfterValidator(_sendable)]
Name = Annotated[str, StringConstraints(max_length=256), AfterValidator(_sendable)]
Url = Annotated[str, StringConstraints(pattern=r"^https?://[!-~]{1,2000}$")]
Command = Annotated[str, StringConstraints(pattern=r"^/[\w.-]{1,64}$")]


class _Payload(BaseModel):
    """Strict types (no "5" for 5 or the reverse); fields seqbot does not read are dropped."""

    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class SlashCommand(_Payload):
    command: Command
    text: Text
    user_id: SlackId
    user_name: Annotated[Name | None, _NOT_NULL] = None
    channel_id: SlackId
    channel_name: Annotated[Name | None, _NOT_NULL] = None
    team_id: Annotated[SlackId | None, _NOT_NULL] = None
    api_app_id: Annotated[SlackId | None, _NOT_NULL] = None
    trigger_id: SlackId
    response_url: Url


class SslCheck(_Payload):
    """Slack's check of the slash command URL's certificate (answered by Bolt)."""

    ssl_check: Literal["1"]
    token: Name = ""


class ActionUser(_Payload):
    id: SlackId
    username: Annotated[Name | None, _NOT_NULL] = None
    name: Annotated[Name | None, _NOT_NULL] = None


class ActionChannel(_Payload):
    id: SlackId


class ActionContainer(_Payload):
    type: Kind
    channel_id: Annotated[SlackId | None, _NOT_NULL] = None
    is_ephemeral: Annotated[bool, _NOT_NULL] = False


class ActionMessage(_Payload):
    thread_ts: Annotated[Ts | None, _NOT_NULL] = None


#: Block and action ids of seqbot's own views (``remind_date``), and callback ids.
BlockKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,255}$")]
Metadata = Annotated[str, StringConstraints(max_length=3000), AfterValidator(_sendable)]


class SelectedOption(_Payload):
    value: Name


class InputValue(_Payload):
    """One input's state in a submitted view: a text, date, time or chosen option.

    Unlike elsewhere, null is what Slack sends for an input left empty.
    """

    type: Kind
    value: Text | None = None
    selected_date: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None
    selected_time: Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")] | None = None
    selected_option: SelectedOption | None = None


class ViewState(_Payload):
    values: Annotated[
        dict[BlockKey, Annotated[dict[BlockKey, InputValue], Field(max_length=25)]],
        Field(max_length=100),
    ] = {}


class View(_Payload):
    """A modal or the Home tab, as Slack echoes it back: ids, our metadata, input values."""

    id: SlackId
    type: Annotated[Kind | None, _NOT_NULL] = None
    callback_id: Annotated[BlockKey | None, _NOT_NULL] = None
    private_metadata: Metadata = ""
    state: Annotated[ViewState | None, _NOT_NULL] = None


class Action(_Payload):
    action_id: Annotated[str, StringConstraints(max_length=255), AfterValidator(_sendable)]
    value: Annotated[Name | None, _NOT_NULL] = None  # seqbot's own action ids, a few words


class BlockActions(_Payload):
    """A button press; seqbot sends buttons only, one action per press."""

    type: Literal["block_actions"]
    user: ActionUser
    channel: Annotated[ActionChannel | None, _NOT_NULL] = None
    container: ActionContainer
    message: Annotated[ActionMessage | None, _NOT_NULL] = None
    trigger_id: SlackId
    response_url: Annotated[Url | None, _NOT_NULL] = None
    actions: Annotated[list[Action], Field(min_length=1, max_length=25)]
    view: Annotated[View | None, _NOT_NULL] = None


class ViewSubmission(_Payload):
    """A modal's submit button (``view_submission``)."""

    type: Literal["view_submission"]
    user: ActionUser
    trigger_id: Annotated[SlackId | None, _NOT_NULL] = None
    view: View


class ShortcutMessage(_Payload):
    """The message a message shortcut was used on."""

    ts: Ts
    text: Annotated[Text | None, _NOT_NULL] = None
    user: Annotated[SlackId | None, _NOT_NULL] = None
    bot_id: Annotated[SlackId | None, _NOT_NULL] = None
    thread_ts: Annotated[Ts | None, _NOT_NULL] = None
    permalink: Annotated[Url | None, _NOT_NULL] = None


class MessageAction(_Payload):
    """A message shortcut (``message_action``): seqbot's callback ids start with ``seqbot_``."""

    type: Literal["message_action"]
    callback_id: BlockKey
    trigger_id: SlackId
    response_url: Url
    user: ActionUser
    channel: ActionChannel
    message: ShortcutMessage
    message_ts: Annotated[Ts | None, _NOT_NULL] = None


class SlackFile(_Payload):
    """A file shared in a message (Slack's file object), as far as seqbot reads it.

    Everything but the id is optional: a file from another workspace (Slack
    Connect) arrives as ``{"id": …, "mode": "file_access"}`` only, and one
    hidden by a free plan's limit has no download URL. Such files are still
    described, so ``/kb add`` answers with why it cannot use them.
    """

    id: SlackId
    name: Annotated[Text | None, _NOT_NULL] = None
    title: Annotated[Text | None, _NOT_NULL] = None
    mimetype: Annotated[Name | None, _NOT_NULL] = None
    filetype: Annotated[Name | None, _NOT_NULL] = None
    size: Annotated[int | None, _NOT_NULL, Field(ge=0)] = None
    mode: Annotated[Kind | None, _NOT_NULL] = None
    url_private: Annotated[Url | None, _NOT_NULL] = None
    url_private_download: Annotated[Url | None, _NOT_NULL] = None


#: Turns a shared file into the core's description of it (:mod:`.files`: bytes on demand).
FileReader = Callable[[SlackFile], Attachment]


class MessageEvent(_Payload):
    """``message`` and ``app_mention``: the only events seqbot acts on."""

    type: Literal["app_mention", "message"]
    subtype: Annotated[Kind | None, _NOT_NULL] = None
    user: Annotated[SlackId | None, _NOT_NULL] = None
    bot_id: Annotated[SlackId | None, _NOT_NULL] = None
    channel: SlackId
    channel_type: Annotated[Kind | None, _NOT_NULL] = None
    text: Annotated[Text | None, _NOT_NULL] = None
    ts: Annotated[Ts | None, _NOT_NULL] = None
    thread_ts: Annotated[Ts | None, _NOT_NULL] = None
    #: Files shared with the message (``subtype: file_share``, or a mention with files).
    files: Annotated[list[SlackFile], Field(max_length=20)] = []


class AppHomeOpened(_Payload):
    """Someone opened the bot's Home (or Messages) tab; ``channel`` is their DM with the bot."""

    type: Literal["app_home_opened"]
    user: SlackId
    channel: SlackId
    tab: Kind = "home"


class OtherEvent(_Payload):
    """Any other event: acknowledged and dropped, so only its type is read."""

    type: Kind


def _event_kind(event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else getattr(event, "type", None)
    if kind == "app_home_opened":
        return "home"
    return "ours" if kind in ("app_mention", "message") else "other"


class EventCallback(_Payload):
    type: Literal["event_callback"]
    event_id: SlackId
    team_id: Annotated[SlackId | None, _NOT_NULL] = None
    api_app_id: Annotated[SlackId | None, _NOT_NULL] = None
    event: Annotated[
        Annotated[MessageEvent, Tag("ours")]
        | Annotated[AppHomeOpened, Tag("home")]
        | Annotated[OtherEvent, Tag("other")],
        Discriminator(_event_kind),
    ]


class UrlVerification(_Payload):
    type: Literal["url_verification"]
    challenge: Annotated[str, StringConstraints(pattern=r"^[!-~]{1,256}$")]


Interaction = BlockActions | ViewSubmission | MessageAction
SlackRequest = SlashCommand | SslCheck | Interaction | EventCallback | UrlVerification
_INTERACTIONS: TypeAdapter[Interaction] = TypeAdapter(
    Annotated[Interaction, Field(discriminator="type")]
)
_EVENTS_API: TypeAdapter[EventCallback | UrlVerification] = TypeAdapter(
    Annotated[EventCallback | UrlVerification, Field(discriminator="type")]
)
_P = TypeVar("_P", bound=_Payload)


def validated(model: type[_P], data: object) -> _P | None:
    """``data`` as ``model``, or None when it does not have that shape (listeners ignore it)."""
    try:
        return model.model_validate(data)
    except ValidationError:
        return None


def parse_request(raw: bytes, content_type: str) -> SlackRequest:
    """A signed HTTP body as the one request it encodes; :class:`MalformedRequest` otherwise.

    Stricter than Slack's SDKs on purpose: duplicate keys, NaN, text that is
    not UTF-8 and a form with both ``payload`` and other fields are refused
    rather than resolved one way here and another way elsewhere.
    """
    try:
        text = raw.decode("utf-8")
        if content_type == JSON_BODY:
            return _EVENTS_API.validate_python(_json(text))
        if content_type != FORM_BODY:
            raise MalformedRequest(f"content type {content_type[:40]!r}")
        form = _form(text)
        if "payload" in form:
            if len(form) > 1:
                raise MalformedRequest("a form with a payload and other fields")
            return _INTERACTIONS.validate_python(_json(form["payload"]))
        if "ssl_check" in form:
            return SslCheck.model_validate(form)
        return SlashCommand.model_validate(form)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise MalformedRequest(f"{where[:60]}: {first['msg'][:100]}") from None
    except RecursionError:
        raise MalformedRequest("JSON nested too deeply") from None
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, and the checks below
        raise MalformedRequest(str(exc)[:80] or type(exc).__name__) from None


def _json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        raise ValueError("a JSON object with a duplicate key")
    return data


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _form(text: str) -> dict[str, str]:
    pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text),
                      errors="strict", max_num_fields=100)  # fmt: skip
    form = dict(pairs)
    if len(form) != len(pairs):
        raise ValueError("a form with a duplicate field")
    return form


# ----- what seqbot makes of it ---------------------------------------------------------------


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in this workspace (from ``auth.test``)."""

    user_id: str
    bot_id: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.user_id}>"


def chat_kind(channel_id: str, channel_type: str | None = None) -> ChatKind:
    """Direct messages are private chats; channels and group DMs are groups."""
    if channel_type == "im" or (channel_type is None and channel_id.startswith("D")):
        return ChatKind.PRIVATE
    return ChatKind.GROUP


def plain_text(text: str, me: BotIdentity | None = None) -> str:
    """Slack's wire format as plain text; a mention of the bot anywhere is moved to the front.

    The router strips a leading mention token, so "hey <@UBOT> translate …" and
    "<@UBOT> hey translate …" both reach it as addressed to the bot.
    """
    mentioned = False
    if me is not None:
        own = re.compile(rf"<@{re.escape(me.user_id)}(?:\|[^>]*)?>[ \t]*")
        text, count = own.subn("", text)
        mentioned = count > 0

    def entity(match: re.Match[str]) -> str:
        inner = match[1]
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!"):
            keyword = target[1:].split("^")[0]
            return label or f"@{keyword}"
        if label and label != target.removeprefix("mailto:"):
            return f"{label} ({target})"
        return target.removeprefix("mailto:")

    text = html.unescape(_ENTITY.sub(entity, text)).strip()
    if mentioned and me is not None:
        text = f"{me.mention} {text}".strip()
    return text


def is_from_bot(event: MessageEvent, me: BotIdentity) -> bool:
    """Messages by any bot (including ourselves) are never answered, to prevent loops."""
    return bool(event.bot_id or event.subtype == "bot_message" or event.user == me.user_id)


def command_message(command: SlashCommand, me: BotIdentity | None) -> IncomingMessage:
    """A slash command: always addressed; its name (without "/") goes to the router."""
    private = command.channel_name == "directmessage"
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=command.channel_id,
        chat_kind=ChatKind.PRIVATE if private else chat_kind(command.channel_id),
        user_id=command.user_id,
        user_name=command.user_name or command.user_id,
        text=plain_text(command.text, me),
        message_id=f"command:{command.trigger_id}",
        addressed=True,
        slash_command=command.command.lstrip("/").lower(),
    )


def event_message(
    event: MessageEvent | Mapping[str, Any],
    me: BotIdentity,
    user_name: str,
    read_file: FileReader | None = None,
) -> IncomingMessage | None:
    """An ``app_mention`` or ``message`` event, or None when it is not for the core.

    A channel message that mentions the bot is skipped here because Slack also
    sends it as ``app_mention`` (which is handled); an ``app_mention`` in a DM
    is skipped because the DM's ``message`` event carries it. Shared files
    become attachments only with a ``read_file`` (the transport's downloader).
    """
    if not isinstance(event, MessageEvent):
        parsed = validated(MessageEvent, event)
        if parsed is None:
            return None
        event = parsed
    if is_from_bot(event, me) or event.subtype not in _HUMAN_SUBTYPES:
        return None
    if event.user is None or (event.text is None and not event.files):
        return None
    kind = chat_kind(event.channel, event.channel_type)
    if event.type == "app_mention":
        if kind == ChatKind.PRIVATE:
            return None
        addressed = True
    elif kind == ChatKind.PRIVATE:
        addressed = True
    elif me.mention in (event.text or "") or f"<@{me.user_id}|" in (event.text or ""):
        return None
    else:
        addressed = False
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=event.channel,
        chat_kind=kind,
        user_id=event.user,
        user_name=user_name or event.user,
        text=plain_text(event.text or "", me),
        message_id=event.ts or uuid.uuid4().hex,
        thread_id=event.thread_ts,
        addressed=addressed,
        attachments=tuple(read_file(f) for f in event.files) if read_file is not None else (),
    )


def action_message(body: BlockActions) -> IncomingMessage | None:
    """A button press (``block_actions``): the button's value is the core's action id."""
    value = body.actions[0].value
    channel = body.channel.id if body.channel is not None else body.container.channel_id
    if channel is None and body.view is not None and body.container.type == "view":
        # The Home tab has no channel: it keeps the user's DM with the bot in its metadata.
        metadata = body.view.private_metadata
        channel = metadata if re.fullmatch(r"D[A-Z0-9]{1,40}", metadata) else None
    if not value or channel is None:
        return None
    return IncomingMessage(
        platform=PLATFORM,
        chat_id=channel,
        chat_kind=chat_kind(channel),
        user_id=body.user.id,
        user_name=body.user.username or body.user.name or body.user.id,
        text="",
        message_id=f"action:{body.trigger_id}",
        thread_id=body.message.thread_ts if body.message is not None else None,
        action=value,
    )
