"""``/summarize``: a text, the message replied to, or the chat's recent conversation.

``/summarize`` alone is the "catch me up" case: the last messages of the chat
(``/summarize 50``, ``/summarize 2h``) as "Name: text" lines, so the model can
say who said what. Input longer than the model's limit is summarized
map-reduce: chunks cut by the engine's own token count, all chunk summaries
generated in one batch, then a summary of the summaries (repeated if those
still do not fit).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from bot.context import Context
from bot.engine.options import GenerationOptions
from bot.errors import UserError
from bot.plugins import Task, command
from storage.models import utcnow
from tasks._language import (
    Engine,
    Window,
    get_engine,
    input_text,
    is_command,
    output_budget,
    pack_by_tokens,
    parse_window,
    prompt,
    sentences,
)

PROMPTS = {
    "summarize.text": "Summarize the following text{length}.\n\n{text}",
    "summarize.conversation": ("Summarize this conversation{length}. Say who said what.\n\n{text}"),
    "summarize.combine": "Combine these partial summaries into one summary{length}.\n\n{text}",
}
#: Prompt hint and answer size per length option.
LENGTHS = {
    "short": (" in one sentence", 48),
    "medium": (" in a few sentences", 128),
    "long": (" in detail", 256),
}
DEFAULT_WINDOW = Window(count=50)
#: Tokens each chunk summary may use, so the combined summaries shrink every round.
MAP_TOKENS = 64
MAX_ROUNDS = 4
#: The most messages read for one conversation summary.
MAX_MESSAGES = 1000
_FIRST_WORD = re.compile(r"(\S+)\s*(.*)", re.S)


@dataclass
class Summary:
    text: str
    #: How many chunk summaries the first (map) round produced; 0 if the input fit at once.
    parts: int
    rounds: int


def parse_options(args: str) -> tuple[str, Window | None, str]:
    """Leading ``short|medium|long`` and a lone window (``50``, ``2h``) → (length, window, text).

    The text keeps its own line breaks; only the option words in front are consumed.
    """
    rest = args.strip()
    length = "medium"
    while match := _FIRST_WORD.match(rest):
        if match[1].lower() not in LENGTHS:
            break
        length, rest = match[1].lower(), match[2]
    words = rest.split()
    if len(words) == 2 and words[1].lower() in LENGTHS:
        window = parse_window(words[0])
        if window is not None:
            return words[1].lower(), window, ""
    if len(words) == 1:
        window = parse_window(words[0])
        if window is not None:
            return length, window, ""
    return length, None, rest


class Summarize(Task):
    name = "summarize"
    summary = "Summarize a text, a message, or the recent conversation."
    usage = (
        "/summarize [short|medium|long] <text>\n"
        "Reply to a message with /summarize to summarize it.\n"
        "/summarize [50 | 2h]: the last 50 messages or 2 hours of this chat (default: 50)"
    )
    needs_model = True

    @command("summarize", "summary", "tldr")
    async def summarize(self, ctx: Context, args: str) -> str:
        length, window, text = parse_options(args)
        if window is None and (text or ctx.message.reply_to is not None):
            body = input_text(ctx, text, what="the text to summarize")
            async with ctx.working():
                engine = await get_engine(ctx)
                pieces = [s for line in body.splitlines() for s in sentences(line)]
                result = await map_reduce(ctx, engine, pieces, "summarize.text", length)
            return _with_parts("**Summary**\n" + result.text, result)
        window = window or DEFAULT_WINDOW
        # One more than asked for: the /summarize command itself is the newest message.
        count = window.count or MAX_MESSAGES
        messages = await ctx.history(
            limit=count + 1, since=utcnow() - window.period if window.period else None
        )
        said = [
            m for m in messages if not m.from_bot and not is_command(m.text) and m.text.strip()
        ][-count:]
        if not said:
            raise UserError(f"Nobody said anything I can summarize in {window.describe()}.")
        lines = [f"{m.author_name or 'someone'}: {' '.join(m.text.split())}" for m in said]
        async with ctx.working():
            engine = await get_engine(ctx)
            result = await map_reduce(ctx, engine, lines, "summarize.conversation", length)
        people = Counter(m.author_name or "someone" for m in said)
        who = ", ".join(f"{name} ({count})" for name, count in people.most_common())
        header = f"**Summary of {window.describe()}** ({len(said)} messages from {who})"
        return _with_parts(f"{header}\n{result.text}", result)


async def map_reduce(
    ctx: Context, engine: Engine, pieces: list[str], key: str, length: str
) -> Summary:
    """Summarize ``pieces`` (sentences or chat lines) whatever their total length.

    Each round packs the pieces into chunks that fit the prompt, summarizes
    all chunks in one ``generate_batch`` and continues with the summaries;
    when everything fits one prompt, that prompt gives the final summary.
    """
    hint, final_tokens = LENGTHS[length]
    parts = rounds = 0
    while True:
        template = prompt(ctx, key, PROMPTS, length=hint, text="{text}")
        budget = engine.max_source_tokens - engine.count_tokens(template.replace("{text}", ""))
        if budget < 8:
            raise UserError("The summary prompt leaves no room for text with this model.")
        chunks = pack_by_tokens(engine, pieces, budget)
        if len(chunks) <= 1 or rounds >= MAX_ROUNDS:
            # After MAX_ROUNDS the summaries are not shrinking: the first chunk is the best left.
            final = await engine.generate(
                template.replace("{text}", chunks[0] if chunks else ""),
                GenerationOptions(max_new_tokens=output_budget(engine, final_tokens)),
            )
            return Summary(final.text.strip() or "(The model returned no summary.)", parts, rounds)
        options = GenerationOptions(max_new_tokens=output_budget(engine, MAP_TOKENS))
        results = await engine.generate_batch(
            [template.replace("{text}", chunk) for chunk in chunks], options
        )
        pieces = [r.text.strip() for r in results if r.text.strip()] or chunks[:1]
        parts = parts or len(chunks)
        rounds += 1
        key = "summarize.combine"


def _with_parts(text: str, result: Summary) -> str:
    if not result.parts:
        return text
    return (
        f"{text}\n\n(The input was longer than the model reads at once, so I summarized "
        f"it in {result.parts} parts first.)"
    )
