"""Sentence splitting and token chunking: no text is ever lost on the way to the model.

``sentences()`` feeds /translate and /summarize; whatever the input, its
pieces must join back to the text (only the whitespace between sentences is
trimmed), and chunking by tokens must keep every character in order.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks._engine_tasks import cut_words, pack_by_tokens
from tasks._sentences import sentence_spans, sentences


class WordCounter:
    """Counts like the scripted engine: one token per word, plus the end-of-sequence token."""

    max_source_tokens = 64

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 1


class CharCounter:
    """Counts like a subword tokenizer on text without spaces: about three characters a token."""

    max_source_tokens = 64

    def count_tokens(self, text: str) -> int:
        return len(text) // 3 + 1


FRAGMENTS = [
    "Version 2.0 is out",
    "The price rose 3.5 percent today.",
    "Dr. Smith",
    "arrived at 5 p.m.",
    "Wir brauchen z.B. Milch.",
    "e.g.",
    "U.S.A.",
    "see https://example.com/a.b?c=d.e#f.",
    "write to anna.b@example.co.uk.",
    "今日は晴れ。",
    "明日は雨！",
    "本当？",
    "你好。你好吗？",
    "no punctuation at all",
    "Hi 😀.",
    "👍🏽👨‍👩‍👧",
    "...",
    "?!",
    "“Quoted.”",
    "(Yes.)",
    "1.",
    "- item",
    "3,14",
    "v1.2.3-rc.1",
    "…",
]
SEPARATORS = [" ", "  ", "\n", "\n\n", "\t", "\u00a0", "", ". ", "\r\n", "\u2028"]

texts = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS + SEPARATORS), max_size=40).map("".join),
    st.lists(
        st.one_of(st.sampled_from(FRAGMENTS), st.sampled_from(SEPARATORS), st.text(max_size=12)),
        max_size=30,
    ).map("".join),
    st.text(max_size=300),
    # A very long sentence with no punctuation at all.
    st.integers(1, 600).map(lambda n: " ".join(f"word{i}" for i in range(n))),
)


def _squeeze(text: str) -> str:
    """``text`` without any whitespace: what must survive splitting and chunking unchanged."""
    return "".join(text.split())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.sampled_from(["en", "de", "ja", "zh", "xx"]))
def test_spans_tile_the_text_exactly(text, language):
    spans = sentence_spans(text, language)
    assert "".join(text[start:end] for start, end in spans) == text
    assert all(start < end for start, end in spans)  # no empty piece
    assert [start for start, _ in spans] == [0, *(end for _, end in spans)][: len(spans)]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.sampled_from(["en", "de", "ja"]))
def test_sentences_keep_every_character_in_order(text, language):
    """The documented rule: sentences are trimmed, and only whitespace lies between them."""
    found = sentences(text, language)
    assert all(piece and piece == piece.strip() for piece in found)
    position = 0
    for piece in found:
        start = text.index(piece, position)
        assert text[position:start].strip() == ""  # nothing but whitespace was skipped
        position = start + len(piece)
    assert text[position:].strip() == ""
    assert _squeeze("".join(found)) == _squeeze(text)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.sampled_from([WordCounter(), CharCounter()]), st.integers(8, 40))
def test_chunks_are_bounded_and_keep_every_character(text, counter, budget):
    chunks = pack_by_tokens(counter, sentences(text), budget)
    assert all(counter.count_tokens(chunk) <= budget for chunk in chunks)
    assert _squeeze("".join(chunks)) == _squeeze(text)


@pytest.mark.parametrize(
    "text",
    [
        "Version 2.0 is out",
        "The price rose 3.5 percent today.",
        "Write to anna.b@example.com for access.",
        "The docs live at https://example.com/v2.1/index.html today.",
        "Version 2.0 is out.",
    ],
)
def test_dots_inside_numbers_addresses_and_urls_do_not_end_a_sentence(text):
    assert sentences(text) == [text]


def test_abbreviations_are_not_sentence_ends():
    assert sentences("We met Dr. Smith at 5 p.m. and talked. Then it rained.") == [
        "We met Dr. Smith at 5 p.m. and talked.",
        "Then it rained.",
    ]
    assert sentences("Wir brauchen z.B. Milch. Dann gehen wir.", "de") == [
        "Wir brauchen z.B. Milch.",
        "Dann gehen wir.",
    ]


def test_cjk_full_stops_and_text_without_punctuation():
    assert sentences("今日は晴れ。明日は雨！本当？", "ja") == [
        "今日は晴れ。",
        "明日は雨！",
        "本当？",
    ]
    assert sentences("  just some words without an end  ") == ["just some words without an end"]
    assert sentences(" \n ") == [] and sentence_spans("") == []


def test_a_long_sentence_without_punctuation_is_cut_to_the_budget():
    text = " ".join(f"word{i}" for i in range(500))
    (sentence,) = sentences(text)
    pieces = cut_words(WordCounter(), sentence, 20)
    assert [len(p.split()) for p in pieces] == [19] * 26 + [6]  # full pieces: 19 words + EOS
    assert " ".join(pieces) == text
    cjk = "長い文章" * 200  # no spaces and no punctuation: cut inside the "word"
    pieces = cut_words(CharCounter(), cjk, 20)
    assert all(CharCounter().count_tokens(p) <= 20 for p in pieces)
    assert "".join(pieces) == cjk


def test_a_text_the_segmenter_panics_on_is_still_split_whole():
    """sentencex (Rust) panics on some multi-byte sequences; nothing may be lost then."""
    text = "V\x85. µÉwrite to anna.b@example.co.uk.^½_arrived at 5 p.m. Version 2.0 is out?! ok"
    spans = sentence_spans(text, "xx")
    assert "".join(text[start:end] for start, end in spans) == text
    # The plain split: after sentence-final punctuation followed by whitespace.
    assert spans == [(0, 4), (4, 57), (57, 78), (78, 80)]
