"""``/translate [to <language>] [from <language>] <text>``, or replying to a message.

The target defaults to the user's ``/settings language`` and the source is
detected when not given. A Marian (opus-mt) model configured for the pair in
``settings.translation_models`` is used when there is one; else the multilingual
model of ``settings.translation_model`` (NLLB-200, M2M100), which gets the bare
sentences with the two languages' codes (``eng_Latn`` → ``deu_Latn``); else the
default model with an instruction prompt. Text is split into sentences, translated
in one batch (the engine decodes them side by side), and put back together
line by line so line breaks and list markers survive.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from bot.context import Context
from bot.engine.options import GenerationOptions
from bot.errors import UserError
from bot.locale import language_name, resolve_language
from bot.plugins import Task, command
from tasks._engine_tasks import (
    TaskEngine,
    cut_words,
    generate_in_waves,
    get_engine,
    input_text,
    output_budget,
    prompt,
    requests_at_once,
)
from tasks._sentences import sentences
from tasks._translation_languages import detect, model_language

log = logging.getLogger(__name__)

PROMPTS = {
    "translate.known_source": "Translate {source} to {target}:\n{text}",
    "translate.unknown_source": "Translate to {target}:\n{text}",
}
#: A list marker or indentation at the start of a line, kept untranslated. A marker is
#: followed by a space, so "3.5 percent" or "-5 degrees" stay whole sentences.
_LINE_PREFIX = re.compile(r"^(\s*(?:(?:[-*•]|\d{1,3}[.)])(?=\s))?\s*)(.*)$")
MAX_SEGMENTS = 400


@dataclass
class _Line:
    prefix: str
    segments: list[str]


def parse_request(args: str, default_target: str) -> tuple[str, str | None, str]:
    """Split ``[to X] [from Y] text`` (either order) into (target, source, text)."""
    target: str | None = None
    source: str | None = None
    rest = args.strip()
    while True:
        word, _, after = rest.partition(" ")
        keyword = word.lower()
        if keyword in ("to", "into") and target is None and after.strip():
            name, _, rest = after.strip().partition(" ")
            target = resolve_language(name)
        elif keyword == "from" and source is None and after.strip():
            name, _, rest = after.strip().partition(" ")
            source = resolve_language(name)
        else:
            break
        rest = rest.strip()
    return target or default_target, source, rest


def split_lines(text: str, language: str | None = None) -> list[_Line]:
    """Each line as (prefix to keep, sentences to translate); blank lines have no sentences.

    Sentences follow the source language's rules ("3. Mai" is a date in German).
    """
    lines = []
    for raw in text.split("\n"):
        match = _LINE_PREFIX.match(raw)
        prefix, body = (match[1], match[2]) if match else ("", raw)
        lines.append(_Line(prefix if body.strip() else raw, sentences(body, language or "en")))
    return lines


class Translate(Task):
    name = "translate"
    summary = "Translate text between languages."
    usage = (
        "/translate <text>: into your language (/settings language)\n"
        "/translate to <language> [from <language>] <text>\n"
        "Reply to a message with /translate [to <language>] to translate it."
    )
    needs_model = True

    @command("translate", "tr")
    async def translate(self, ctx: Context, args: str) -> str:
        target, source, text = parse_request(args, ctx.user.language)
        text = input_text(ctx, text, what="the text to translate")
        detected = source is None
        if source is None:
            found = await detect(text)
            source = found.code if found else None
        if source == target:
            if detected:
                raise UserError(
                    f"That text already looks like {language_name(target)}; say which language to "
                    "translate it to, e.g. /translate to de <text>."
                )
            raise UserError("The source and target language are the same.")
        pair_model = _pair_model(ctx, source, target)
        async with ctx.working():
            engine, codes = await _engine_for(ctx, pair_model, source, target)
            lines = split_lines(text, source)
            bare = pair_model is not None or codes is not None
            template = _template(ctx, source, target, bare=bare)
            budget = engine.max_source_tokens - engine.count_tokens(template.replace("{text}", ""))
            if budget < 8:
                raise UserError("The translation prompt leaves no room for text with this model.")
            for line in lines:
                line.segments = [
                    piece
                    for sentence in line.segments
                    for piece in (
                        [sentence]
                        if engine.count_tokens(sentence) <= budget
                        else cut_words(engine, sentence, budget)
                    )
                ]
            segments = [s for line in lines for s in line.segments]
            if not segments:
                raise UserError("There is no text to translate in that message.")
            if len(segments) > MAX_SEGMENTS:
                raise UserError(
                    f"That text has {len(segments)} sentences; I translate at most "
                    f"{MAX_SEGMENTS} at a time. Please send it in parts."
                )
            at_once = requests_at_once(ctx, engine)
            outputs = await _translate_all(engine, template, segments, at_once, codes)
        translated = iter(outputs)
        body = "\n".join(
            line.prefix + " ".join(next(translated) for _ in line.segments) for line in lines
        )
        header = (
            f"{language_name(source)} → {language_name(target)}"
            if source
            else f"→ {language_name(target)}"
        )
        return f"**{header}**\n{body}"


def _pair_model(ctx: Context, source: str | None, target: str) -> str | None:
    """The Marian checkpoint configured for this pair, if any (keys like ``"en-de"``)."""
    models: dict[str, str] = ctx.settings.translation_models
    if source is None:
        return None
    return models.get(f"{source}-{target}")


#: translation_model settings already reported as lacking language codes (warn once each).
_WARNED: set[str] = set()


async def _engine_for(
    ctx: Context, pair_model: str | None, source: str | None, target: str
) -> tuple[TaskEngine, tuple[str, str] | None]:
    """The engine for this pair, and the model's (source, target) codes if it takes codes.

    A Marian pair model first; then ``translation_model`` when it has language codes;
    else the default model (which gets an instruction prompt).
    """
    multilingual: str | None = ctx.settings.translation_model
    if pair_model is not None or not multilingual:
        return await get_engine(ctx, pair_model), None
    engine = await get_engine(ctx, multilingual)
    languages = engine.languages
    if not languages:
        if multilingual not in _WARNED:
            _WARNED.add(multilingual)
            log.warning(
                "translation_model %s has no language codes (not NLLB or M2M100); "
                "/translate uses the default model instead",
                multilingual,
            )
        return await get_engine(ctx), None
    if source is None:
        raise UserError(
            "I can't tell which language that text is in; say it with from <language>, "
            "e.g. /translate from fr to de <text>."
        )
    codes = []
    for tag in (source, target):
        code = model_language(tag, languages)
        if code is None:
            raise UserError(f"The translation model does not support {language_name(tag)} ({tag}).")
        codes.append(code)
    return engine, (codes[0], codes[1])


def _template(ctx: Context, source: str | None, target: str, *, bare: bool) -> str:
    """A ``{text}`` template: bare text for a translation model, an instruction otherwise."""
    if bare:
        return "{text}"
    key = "translate.known_source" if source else "translate.unknown_source"
    # Fill the language names now and leave {text} for each segment.
    return prompt(
        ctx,
        key,
        PROMPTS,
        source=language_name(source) if source else "",
        target=language_name(target),
        text="{text}",
    )


async def _translate_all(
    engine: TaskEngine,
    template: str,
    segments: list[str],
    at_once: int,
    codes: tuple[str, str] | None = None,
) -> list[str]:
    """Every segment, batched in waves the engine accepts; an empty output keeps the segment.

    ``codes``: the multilingual model's (source, target) language codes.
    """
    longest = max(engine.count_tokens(s) for s in segments)
    source_language, target_language = codes or (None, None)
    options = GenerationOptions(
        max_new_tokens=output_budget(engine, 2 * longest + 16),
        source_language=source_language,
        target_language=target_language,
    )
    prompts = [template.replace("{text}", s) for s in segments]
    results = await generate_in_waves(engine, prompts, options, at_once)
    return [r.text.strip() or s for r, s in zip(results, segments, strict=True)]
