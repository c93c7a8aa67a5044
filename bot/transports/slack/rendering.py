"""Replies as Slack sees them: mrkdwn section blocks, Block Kit buttons, within Slack's limits.

Rendering lives apart from the transport so it can be tested without a
network. A :class:`~bot.messages.Reply` becomes one or more :class:`SlackMessage`
payloads (``text`` for notifications plus ``blocks``) usable alike for
``chat.postMessage``, a ``response_url`` post and a slash command's ``ack``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.formatting import MarkupStyle, render_chunks
from bot.messages import Button, Reply

#: Characters of mrkdwn a section block's text may hold.
SECTION_LIMIT = 3000
#: Blocks in one message; one is kept free for the buttons.
MAX_BLOCKS = 50
#: Notification/fallback text kept short: the blocks carry the content.
FALLBACK_LIMIT = 3000
#: Buttons per actions block (Slack allows 25 elements).
MAX_BUTTONS = 25
#: Slack refuses button values above 2,000 characters and action ids above 255.
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_LABEL = 75
#: The action_id prefix of seqbot's buttons; the button's ``value`` carries the action.
ACTION_PREFIX = "seqbot:"


def escape(text: str) -> str:
    """Slack's three control characters; everything else is literal in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(label: str, url: str) -> str:
    # A "|" or ">" inside the URL would end the link early.
    safe_url = escape(url).replace("|", "%7C")
    return f"<{safe_url}|{label}>"


SLACK_MRKDWN = MarkupStyle(
    escape=escape,
    bold=lambda s: f"*{s}*",
    code=lambda s: f"`{s}`",
    code_block=lambda s: f"```\n{s}\n```",
    link=_link,
)


@dataclass(frozen=True)
class SlackMessage:
    """One message's payload: fallback ``text`` and its ``blocks``."""

    text: str
    blocks: list[dict[str, Any]]

    def as_kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def actions_block(buttons: tuple[Button, ...]) -> dict[str, Any]:
    """The reply's buttons; each button's ``value`` is the action the router dispatches."""
    elements = []
    for index, button in enumerate(buttons[:MAX_BUTTONS]):
        elements.append(
            {
                "type": "button",
                "action_id": f"{ACTION_PREFIX}{index}",
                "text": {"type": "plain_text", "text": button.label[:MAX_BUTTON_LABEL] or "…"},
                "value": button.action[:MAX_BUTTON_VALUE],
            }
        )
    return {"type": "actions", "elements": elements}


def slack_messages(reply: Reply) -> list[SlackMessage]:
    """``reply`` as Slack messages, split so every section and message fits Slack's limits.

    Buttons go under the last message, where the user reads last.
    """
    chunks = render_chunks(reply.text, SLACK_MRKDWN, SECTION_LIMIT)
    if not chunks:
        if not reply.buttons:
            return []
        chunks = ["…"]
    per_message = MAX_BLOCKS - 1
    groups = [chunks[i : i + per_message] for i in range(0, len(chunks), per_message)]
    messages = []
    for index, group in enumerate(groups):
        blocks = [section(chunk) for chunk in group]
        if reply.buttons and index == len(groups) - 1:
            blocks.append(actions_block(reply.buttons))
        messages.append(SlackMessage(text=group[0][:FALLBACK_LIMIT], blocks=blocks))
    return messages


#: The action id of "Post in thread" under a shortcut's private result (see shortcuts.py).
SHARE_BUTTON = "seqbot_share"


def with_share_button(message: SlackMessage, value: str) -> SlackMessage:
    """``message`` with a "Post in thread" button: a private result made public on request."""
    button = {
        "type": "button",
        "action_id": SHARE_BUTTON,
        "text": {"type": "plain_text", "text": "Post in thread"},
        "value": value[:MAX_BUTTON_VALUE],
    }
    blocks = [*message.blocks, {"type": "actions", "elements": [button]}][-MAX_BLOCKS:]
    return SlackMessage(text=message.text, blocks=blocks)
