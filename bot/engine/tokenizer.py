"""Text <-> token ids: ``tokenizer.json`` through ``tokenizers``, or Marian's SentencePiece pair.

Marian checkpoints ship ``source.spm``/``target.spm`` plus a ``vocab.json`` whose ids are
not the SentencePiece ids, so pieces are mapped through the vocabulary as transformers'
MarianTokenizer does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

from .errors import EngineError


class Tokenizer(Protocol):
    def encode(self, text: str) -> list[int]:
        """Source text -> ids ending with EOS."""
        ...

    def encode_target(self, text: str) -> list[int]:
        """Target-language text -> ids ending with EOS (scoring candidates)."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Generated ids -> text, special tokens dropped."""
        ...


class JsonTokenizer:
    """A ``tokenizer.json`` (T5, BART); EOS is appended if its post-processor does not."""

    def __init__(self, path: Path, eos_id: int) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        try:
            self._tok = RustTokenizer.from_file(str(path))
        except Exception as exc:
            raise EngineError(f"{path}: cannot read tokenizer ({str(exc)[:200]})") from None
        self._tok.no_truncation()
        self._tok.no_padding()
        self._eos = eos_id

    def encode(self, text: str) -> list[int]:
        ids = self._tok.encode(text).ids
        if not ids or ids[-1] != self._eos:
            ids.append(self._eos)
        return ids

    encode_target = encode

    def decode(self, ids: list[int]) -> str:
        return self._tok.decode(ids, skip_special_tokens=True)


class MarianTokenizer:
    """SentencePiece source/target models plus the checkpoint's piece vocabulary."""

    def __init__(self, directory: Path) -> None:
        import sentencepiece as spm

        self._source = spm.SentencePieceProcessor()
        self._target = spm.SentencePieceProcessor()
        for proc, name in ((self._source, "source.spm"), (self._target, "target.spm")):
            path = directory / name
            try:
                proc.Load(str(path))
            except Exception as exc:
                raise EngineError(f"{path}: cannot read SentencePiece model ({exc})") from None
        self._vocab = _read_json(directory / "vocab.json")
        target_vocab = directory / "target_vocab.json"
        self._target_vocab = _read_json(target_vocab) if target_vocab.is_file() else self._vocab
        self._pieces = {i: p for p, i in self._target_vocab.items()}
        self._unk = self._vocab.get("<unk>", 1)
        self._eos = self._vocab.get("</s>", 0)
        self._special = {self._eos, self._unk, self._vocab.get("<pad>", -1)}

    def _ids(self, text: str, proc: object, vocab: dict[str, int]) -> list[int]:
        code: list[str] = []
        if text.startswith(">>") and (end := text.find("<<")) != -1:
            code, text = [text[: end + 2]], text[end + 2 :]
        pieces = code + proc.encode(text, out_type=str)  # type: ignore[attr-defined]
        return [vocab.get(p, self._unk) for p in pieces] + [self._eos]

    def encode(self, text: str) -> list[int]:
        return self._ids(text, self._source, self._vocab)

    def encode_target(self, text: str) -> list[int]:
        return self._ids(text, self._target, self._target_vocab)

    def decode(self, ids: list[int]) -> str:
        pieces = [self._pieces.get(i, "<unk>") for i in ids if i not in self._special]
        return self._target.decode_pieces(pieces)


def _read_json(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read vocabulary ({exc})") from None


def load_tokenizer(directory: Path, family: str, eos_id: int) -> Tokenizer:
    """Pick the tokenizer files a checkpoint of this family ships."""
    if family == "marian" and (directory / "source.spm").is_file():
        return MarianTokenizer(directory)
    if (directory / "tokenizer.json").is_file():
        return JsonTokenizer(directory / "tokenizer.json", eos_id)
    raise EngineError(
        f"{directory}: no tokenizer found (expected tokenizer.json"
        f"{' or source.spm/target.spm/vocab.json' if family == 'marian' else ''})"
    )


def model_max_length(directory: Path) -> int | None:
    """``model_max_length`` from tokenizer_config.json when it is a real limit."""
    path = directory / "tokenizer_config.json"
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("model_max_length")
    except (OSError, ValueError):
        return None
    return int(value) if isinstance(value, int | float) and 0 < value < 1_000_000 else None
