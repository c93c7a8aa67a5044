"""``/sentiment``: the mood of a text, a message, or the recent conversation.

Labels are chosen by scoring, not by parsing generated text: the engine
gives the log-probability of each candidate label as the answer to a
classification prompt, and a softmax over those turns them into a
confidence. ``/sentiment`` alone classifies every recent message at once
(all score requests are submitted together, so the engine's scheduler
admits and runs them as one batch) and reports the mood overall and per
participant.
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Sequence

from bot.context import Context
from bot.errors import UserError
from bot.plugins import Task, command
from storage.models import utcnow
from tasks._engine_tasks import (
    TaskEngine,
    Window,
    cut_words,
    ensure_fits,
    get_engine,
    input_text,
    is_command,
    parse_window,
    prompt,
)

PROMPTS = {
    "sentiment.classify": "Is the sentiment of the following text {labels}?\n\n{text}",
}
DEFAULT_LABELS = ("positive", "negative", "neutral")
DEFAULT_WINDOW = Window(count=50)
#: The most messages classified at once; the engine queue must hold them all.
MAX_MESSAGES = 200


def labels_of(ctx: Context) -> list[str]:
    labels = ctx.settings.sentiment_labels or DEFAULT_LABELS
    return [str(label) for label in labels]


def softmax(values: Sequence[float]) -> list[float]:
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    total = sum(exps)
    return [e / total for e in exps]


def _or_list(labels: Sequence[str]) -> str:
    return labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " or " + labels[-1]


async def classify_all(
    engine: TaskEngine, prompts: list[str], labels: list[str]
) -> list[list[float]]:
    """A probability per label for every prompt, all submitted to the engine at once.

    Every ``score`` call is started before any is awaited, so the engine's scheduler
    admits them together and scores them in one batched pass instead of one by one.
    """
    results = await asyncio.gather(*(engine.score(p, labels) for p in prompts))
    return [softmax([r.total for r in per_prompt]) for per_prompt in results]


class Sentiment(Task):
    name = "sentiment"
    summary = "Tell whether a text, or the recent conversation, is positive or negative."
    usage = (
        "/sentiment <text>\n"
        "Reply to a message with /sentiment to classify it.\n"
        "/sentiment [50 | 2h]: the mood of the last 50 messages or 2 hours here (default: 50)"
    )
    needs_model = True

    @command("sentiment", "mood")
    async def sentiment(self, ctx: Context, args: str) -> str:
        words = args.split()
        window = parse_window(words[0], max_count=MAX_MESSAGES) if len(words) == 1 else None
        if window is None and (args.strip() or ctx.message.reply_to is not None):
            return await self._text(ctx, input_text(ctx, args, what="the text to classify"))
        return await self._conversation(ctx, window or DEFAULT_WINDOW)

    async def _text(self, ctx: Context, text: str) -> str:
        labels = labels_of(ctx)
        async with ctx.working():
            engine = await get_engine(ctx)
            source = prompt(ctx, "sentiment.classify", PROMPTS, labels=_or_list(labels), text=text)
            ensure_fits(engine, source)
            (probabilities,) = await classify_all(engine, [source], labels)
        best = max(range(len(labels)), key=probabilities.__getitem__)
        others = ", ".join(
            f"{label} {p:.0%}" for label, p in zip(labels, probabilities, strict=True)
        )
        return f"**{labels[best]}** ({probabilities[best]:.0%} confident; {others})"

    async def _conversation(self, ctx: Context, window: Window) -> str:
        labels = labels_of(ctx)
        limit = min(window.count or MAX_MESSAGES, MAX_MESSAGES)
        since = utcnow() - window.period if window.period else None
        messages = [
            m
            for m in await ctx.history(limit=limit + 1, since=since)
            if not m.from_bot and not is_command(m.text) and m.text.strip()
        ][-limit:]
        if not messages:
            raise UserError(f"Nobody said anything I can read the mood of in {window.describe()}.")
        async with ctx.working():
            engine = await get_engine(ctx)
            template = prompt(
                ctx, "sentiment.classify", PROMPTS, labels=_or_list(labels), text="{text}"
            )
            budget = engine.max_source_tokens - engine.count_tokens(template.replace("{text}", ""))
            prompts = []
            for m in messages:
                text = " ".join(m.text.split())
                if engine.count_tokens(text) > budget:
                    text = cut_words(engine, text, budget)[0]  # the opening sets the tone
                prompts.append(template.replace("{text}", text))
            probabilities = await classify_all(engine, prompts, labels)
        return _mood_report(window, labels, messages, probabilities)


def _mood_report(window: Window, labels: list[str], messages, probabilities) -> str:  # type: ignore[no-untyped-def]
    """Overall and per-person mood: the mean distribution, and counts of each message's label."""

    def mean(rows: list[list[float]]) -> list[float]:
        return [sum(col) / len(rows) for col in zip(*rows, strict=True)]

    counts = defaultdict(int)
    by_person: dict[str, list[list[float]]] = defaultdict(list)
    for message, probs in zip(messages, probabilities, strict=True):
        counts[labels[max(range(len(labels)), key=probs.__getitem__)]] += 1
        by_person[message.author_name or "someone"].append(probs)
    overall = mean(probabilities)
    best = max(range(len(labels)), key=overall.__getitem__)
    tally = ", ".join(f"{label} {counts[label]}" for label in labels)
    lines = [
        f"**Mood of {window.describe()}**: mostly {labels[best]} ({overall[best]:.0%})",
        f"{len(messages)} messages: {tally}",
    ]
    for person, rows in sorted(by_person.items(), key=lambda item: -len(item[1])):
        avg = mean(rows)
        top = max(range(len(labels)), key=avg.__getitem__)
        n = len(rows)
        lines.append(f"- {person}: {labels[top]} ({avg[top]:.0%}, {n} message{'s' * (n != 1)})")
    return "\n".join(lines)
