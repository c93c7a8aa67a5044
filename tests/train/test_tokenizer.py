"""The trained tokenizer: special-token ids the LSTM config expects, and a round trip."""

from __future__ import annotations

from pathlib import Path

from bot.engine.tokenizer import JsonTokenizer
from bot.train.recipe import cut
from bot.train.synthetic import make_pairs
from bot.train.tokenizer import (
    EOS_ID,
    PAD_ID,
    START_ID,
    load_tokenizer,
    save_tokenizer,
    train_tokenizer,
)


def texts() -> list[str]:
    pairs = make_pairs(300, seed=0)
    return [p["source"] for p in pairs] + [p["target"] for p in pairs]


def test_special_ids_and_round_trip(tmp_path: Path) -> None:
    tok = train_tokenizer(texts(), vocab_size=300)
    assert (tok.token_to_id("<pad>"), tok.token_to_id("</s>"), tok.token_to_id("<s>")) == (
        PAD_ID,
        EOS_ID,
        START_ID,
    )
    path = save_tokenizer(tok, tmp_path)
    again = load_tokenizer(tmp_path)
    served = JsonTokenizer(path, eos_id=EOS_ID)
    for text in ["Tuesday, March 3rd 2019", "2019-03-05", "the 1st of May  2001"]:
        ids = served.encode(text)
        assert ids[-1] == EOS_ID and ids == again.encode(text).ids  # EOS from the file itself
        assert served.decode(ids) == text
    # Digits are single pieces, so unseen dates are built from seen parts.
    assert "2" in again.encode("2049-12-31").tokens


def test_engine_json_tokenizer_reads_it(tmp_path: Path) -> None:
    tok = train_tokenizer(texts(), vocab_size=300)
    path = save_tokenizer(tok, tmp_path)
    engine = JsonTokenizer(path, eos_id=EOS_ID)
    text = "Aug 7 1999"
    assert engine.encode(text) == tok.encode(text).ids
    assert engine.decode(engine.encode(text)) == text


def test_long_text_is_cut_with_eos_last() -> None:
    tok = train_tokenizer(texts(), vocab_size=300)
    ids = cut(tok.encode("1999 " * 40).ids, 16, EOS_ID)
    assert len(ids) == 16 and ids[-1] == EOS_ID and ids[:15] == tok.encode("1999 " * 40).ids[:15]
