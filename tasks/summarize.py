"""``/summarize``: a text, the message replied to, or the chat's recent conversation.

``/summarize`` alone is the "catch me up" case: the last messages of the chat
(``/summarize 50``, ``/summarize 2h``) as "Name: text" lines, so the model can
say who said what. Input longer than the model's limit is summarized
map-reduce: chunks cut by the engine's own token count, chunk summaries
generated in waves the engine's queue accepts, then a summary of the
summaries (repeated, each round at most half as long, if those still do not fit).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from bot.context import Context
from bot.engine.options import GenerationOptions
from bot.errors import UserError
from bot.plugins import Task, command
from storage.models import utcnow
from tasks._engine_tasks import (
    TaskEngine,
    Window,
    clip,
    generate_in_waves,
    get_engine,
    input_text,
    is_command,
    output_budget,
    pack_by_tokens,
    parse_window,
    prompt,
    requests_at_once,
)
from tasks._sentences import sentences

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
#: Tokens each chunk summary may use at most.
MAP_TOKENS = 64
#: A chunk summary has at most 1/SHRINK of its chunk's tokens, so each round reads at most
#: half of the one before; MAX_ROUNDS of them cover 2**MAX_ROUNDS prompts' worth at least
#: (and 8**MAX_ROUNDS with flan-T5's 512 tokens, where MAP_TOKENS is the tighter cap).
SHRINK = 2
MAX_ROUNDS = 4
NO_SUMMARY = "(The model returned no summary.)"
#: The most messages read for one conversation summary.
MAX_MESSAGES = 1000
_FIRST_WORD = re.compile(r"(\S+)\s*(.*)", re.S)


@dataclass
class Summary:
    text: str
    #: How many chunk summaries the first (map) round produced; 0 if the input fit at once.
    parts: int
    #: Tokens each round of chunk summaries read, first to last; each at most half the one
    #: before.
    sizes: list[int] = field(default_factory=list)
    #: True when the final prompt read only the first part of what was left: the summaries
    #: still did not fit one prompt after MAX_ROUNDS, or the model summarized no part at all.
    cut: bool = False

    @property
    def rounds(self) -> int:
        return len(self.sizes)


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
                plan = plan_for(ctx, engine, "summarize.text", length)
                result = await map_reduce(engine, pieces, plan)
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
            plan = plan_for(ctx, engine, "summarize.conversation", length)
            result = await map_reduce(engine, lines, plan)
        people = Counter(m.author_name or "someone" for m in said)
        who = ", ".join(f"{name} ({count})" for name, count in people.most_common())
        header = f"**Summary of {window.describe()}** ({len(said)} messages from {who})"
        return _with_parts(f"{header}\n{result.text}", result)


@dataclass(frozen=True)
class Plan:
    """What a map-reduce needs besides the text: its prompts, answer size and wave size."""

    #: ``{text}`` templates: the first round reads the input, later rounds combine summaries.
    first: str
    combine: str
    final_tokens: int
    #: Requests submitted together at most (see ``requests_at_once``).
    at_once: int


def plan_for(ctx: Context, engine: TaskEngine, key: str, length: str) -> Plan:
    hint, final_tokens = LENGTHS[length]
    return Plan(
        first=prompt(ctx, key, PROMPTS, length=hint, text="{text}"),
        combine=prompt(ctx, "summarize.combine", PROMPTS, length=hint, text="{text}"),
        final_tokens=final_tokens,
        at_once=requests_at_once(ctx, engine),
    )


async def map_reduce(engine: TaskEngine, pieces: list[str], plan: Plan) -> Summary:
    """Summarize ``pieces`` (sentences or chat lines) whatever their total length.

    Each round packs the pieces into chunks that fit the prompt, summarizes them
    in waves the engine accepts, and continues with the summaries; when they fit
    one prompt, that prompt gives the final summary. Why it always ends:

    - each chunk summary is clipped to at most 1/``SHRINK`` of its chunk's
      tokens, so a round's summaries total at most half of what it read;
    - a round that would not read at most half of what the round before read
      (a tokenizer that counts joined text higher) is not run;
    - at most ``MAX_ROUNDS`` rounds run, then the start of what is left is read,
      and the reply says so.
    """
    template, sizes, parts, cut = plan.first, [], 0, False
    while True:
        budget = engine.max_source_tokens - engine.count_tokens(template.replace("{text}", ""))
        if budget < 8:
            raise UserError("The summary prompt leaves no room for text with this model.")
        chunks = pack_by_tokens(engine, pieces, budget)
        size = sum(engine.count_tokens(chunk) for chunk in chunks)
        shrunk = not sizes or size <= sizes[-1] // SHRINK
        if len(chunks) <= 1 or len(sizes) >= MAX_ROUNDS or not shrunk:
            return await _final(engine, template, chunks, plan, Summary("", parts, sizes, cut))
        sizes.append(size)
        pieces = await _summarize_chunks(engine, template, chunks, plan.at_once)
        if not pieces:  # no summary of any part: go on with the start of the text, and say so
            pieces, cut = [clip(engine, chunks[0], engine.count_tokens(chunks[0]) // SHRINK)], True
        parts = parts or len(chunks)
        template = plan.combine


async def _summarize_chunks(
    engine: TaskEngine, template: str, chunks: list[str], at_once: int
) -> list[str]:
    """One round: a summary per chunk, each at most 1/``SHRINK`` of its chunk's tokens.

    ``max_new_tokens`` keeps generation short; the clip, by the engine's own
    count of the text, is what guarantees the bound, since a model's decoded
    output can count more tokens than it generated.
    """
    allowances = [min(MAP_TOKENS, engine.count_tokens(chunk) // SHRINK) for chunk in chunks]
    options = GenerationOptions(max_new_tokens=output_budget(engine, max(allowances) - 1))
    prompts = [template.replace("{text}", chunk) for chunk in chunks]
    results = await generate_in_waves(engine, prompts, options, at_once)
    clipped = (
        clip(engine, result.text.strip(), allowance)
        for result, allowance in zip(results, allowances, strict=True)
    )
    return [summary for summary in clipped if summary]


async def _final(
    engine: TaskEngine, template: str, chunks: list[str], plan: Plan, summary: Summary
) -> Summary:
    """The last prompt: everything left when it fits one chunk, else its first chunk."""
    summary.cut = summary.cut or len(chunks) > 1
    if not chunks:
        summary.text = NO_SUMMARY
        return summary
    final = await engine.generate(
        template.replace("{text}", chunks[0]),
        GenerationOptions(max_new_tokens=output_budget(engine, plan.final_tokens)),
    )
    summary.text = final.text.strip() or NO_SUMMARY
    return summary


def _with_parts(text: str, result: Summary) -> str:
    if result.cut:
        return (
            f"{text}\n\n(The input was too long to summarize whole, so this summary covers "
            "only its first part; summarize a shorter text or period to cover all of it.)"
        )
    if not result.parts:
        return text
    return (
        f"{text}\n\n(The input was longer than the model reads at once, so I summarized "
        f"it in {result.parts} parts first.)"
    )
