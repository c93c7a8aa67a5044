"""Text <-> token ids: ``tokenizer.json`` through ``tokenizers``, or SentencePiece + vocab.json.

Marian checkpoints ship ``source.spm``/``target.spm`` plus a ``vocab.json`` whose ids are
not the SentencePiece ids, so pieces are mapped through the vocabulary as transformers'
MarianTokenizer does. facebook/m2m100_* ship ``sentencepiece.bpe.model`` + ``vocab.json``
the same way, with their language tokens numbered after the vocabulary.

Multilingual models (NLLB-200, M2M100) have language-code tokens: NLLB's ``deu_Latn``
(added tokens of its tokenizer.json), M2M100's ``__de__``. With a language, a text is
encoded ``[code] pieces </s>`` (NLLB's non-legacy layout, and M2M100's), for the source
and for a scored target alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

from .errors import EngineError

#: Language-code tokens: NLLB / FLORES-200 (``deu_Latn``) and M2M100 (``__de__``).
LANGUAGE_TOKEN = re.compile(r"[a-z]{2,3}_[A-Z][a-z]{3}|__[a-z]{2,3}__")

#: The language tokens of facebook/m2m100_* and wmt21 tokenizers, in id order after the
#: vocabulary (``language_codes`` in tokenizer_config.json; fairseq's dictionaries).
_M2M100_CODES = (
    "af am ar ast az ba be bg bn br bs ca ceb cs cy da de el en es et fa ff fi fr fy ga gd "
    "gl gu ha he hi hr ht hu hy id ig ilo is it ja jv ka kk km kn ko lb lg ln lo lt lv mg "
    "mk ml mn mr ms my ne nl no ns oc or pa pl ps pt ro ru sd si sk sl so sq sr ss su sv sw "
    "ta th tl tn tr uk ur uz vi wo xh yi yo zh zu"
)
M2M100_LANGUAGES = {
    "m2m100": _M2M100_CODES.split(),
    "wmt21": ["en", "ha", "is", "ja", "cs", "ru", "zh", "de"],
}


class Tokenizer(Protocol):
    #: Language-code token -> id (``deu_Latn``, ``__de__``); empty for models without codes.
    language_ids: Mapping[str, int]

    def encode(self, text: str, language: str | None = None) -> list[int]:
        """Source text -> ids ending with EOS; ``[language] ... </s>`` with a language token."""
        ...

    def encode_target(self, text: str, language: str | None = None) -> list[int]:
        """Target-language text -> ids ending with EOS (scoring candidates)."""
        ...

    def decode(self, ids: list[int]) -> str:
        """Generated ids -> text, special tokens dropped."""
        ...


class JsonTokenizer:
    """A ``tokenizer.json`` (T5, BART, NLLB); EOS is appended if its post-processor does not.

    With ``languages`` (the m2m100 family), added tokens that look like language codes
    become :attr:`language_ids`; a text without a language keeps the file's own
    post-processor (NLLB's: ``eng_Latn ... </s>``, what transformers does by default).
    """

    def __init__(self, path: Path, eos_id: int, languages: bool = False) -> None:
        from tokenizers import Tokenizer as RustTokenizer

        try:
            self._tok = RustTokenizer.from_file(str(path))
        except Exception as exc:
            raise EngineError(f"{path}: cannot read tokenizer ({str(exc)[:200]})") from None
        self._tok.no_truncation()
        self._tok.no_padding()
        self._eos = eos_id
        self.language_ids: dict[str, int] = {}
        if languages:
            self.language_ids = {
                token.content: i
                for i, token in sorted(self._tok.get_added_tokens_decoder().items())
                if LANGUAGE_TOKEN.fullmatch(token.content)
            }
        # Dropped from decoded text even where the file does not mark them special.
        self._language_set = frozenset(self.language_ids.values())

    def encode(self, text: str, language: str | None = None) -> list[int]:
        if language is not None:
            pieces = self._tok.encode(text, add_special_tokens=False).ids
            return [self.language_ids[language], *pieces, self._eos]
        ids = self._tok.encode(text).ids
        if not ids or ids[-1] != self._eos:
            ids.append(self._eos)
        return ids

    encode_target = encode

    def decode(self, ids: list[int]) -> str:
        if self._language_set:
            ids = [i for i in ids if i not in self._language_set]
        return self._tok.decode(ids, skip_special_tokens=True)


class MarianTokenizer:
    """SentencePiece source/target models plus the checkpoint's piece vocabulary."""

    language_ids: Mapping[str, int] = {}

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

    def encode(self, text: str, language: str | None = None) -> list[int]:
        _no_languages(language)
        return self._ids(text, self._source, self._vocab)

    def encode_target(self, text: str, language: str | None = None) -> list[int]:
        _no_languages(language)
        return self._ids(text, self._target, self._target_vocab)

    def decode(self, ids: list[int]) -> str:
        pieces = [self._pieces.get(i, "<unk>") for i in ids if i not in self._special]
        return self._target.decode_pieces(pieces)


class M2M100Tokenizer:
    """facebook/m2m100_*: one SentencePiece model, ``vocab.json``, then the language tokens.

    As transformers' M2M100Tokenizer: pieces map through vocab.json, ``__xx__`` tokens
    take the ids after it in the order of :data:`M2M100_LANGUAGES`, and a text without a
    language gets tokenizer_config.json's ``src_lang`` (default ``en``).
    """

    def __init__(self, directory: Path) -> None:
        import sentencepiece as spm

        path = directory / "sentencepiece.bpe.model"
        self._spm = spm.SentencePieceProcessor()
        try:
            self._spm.Load(str(path))
        except Exception as exc:
            raise EngineError(f"{path}: cannot read SentencePiece model ({exc})") from None
        self._vocab = _read_json(directory / "vocab.json")
        config = _read_config(directory)
        codes = M2M100_LANGUAGES.get(str(config.get("language_codes", "m2m100")))
        if codes is None:
            raise EngineError(
                f"{directory / 'tokenizer_config.json'}: language_codes "
                f"{config.get('language_codes')!r} is not supported (m2m100, wmt21)"
            )
        self.language_ids = {f"__{c}__": len(self._vocab) + i for i, c in enumerate(codes)}
        self._default = f"__{config.get('src_lang') or 'en'}__"
        self._pieces = {i: p for p, i in self._vocab.items()}
        self._unk = self._vocab.get("<unk>", 3)
        self._eos = self._vocab.get("</s>", 2)
        self._special = {self._vocab.get(t, -1) for t in ("<s>", "<pad>", "</s>", "<unk>")}

    def encode(self, text: str, language: str | None = None) -> list[int]:
        # A default from tokenizer_config.json that is no language token: no prefix at all.
        code = self.language_ids[language] if language else self.language_ids.get(self._default)
        prefix = [] if code is None else [code]
        pieces = self._spm.encode(text, out_type=str)
        return [*prefix, *(self._vocab.get(p, self._unk) for p in pieces), self._eos]

    encode_target = encode

    def decode(self, ids: list[int]) -> str:
        pieces = [self._pieces[i] for i in ids if i in self._pieces and i not in self._special]
        return self._spm.decode_pieces(pieces).strip()


def _no_languages(language: str | None) -> None:
    if language is not None:  # the engine checks first; this guards direct callers
        raise ValueError("this model has no language codes")


def _read_json(path: Path) -> dict[str, int]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read vocabulary ({exc})") from None


def _read_config(directory: Path) -> dict[str, object]:
    """tokenizer_config.json as a dict ({} when absent or unreadable: only hints live there)."""
    try:
        value = json.loads((directory / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


_OTHER_FILES = {
    "marian": " or source.spm/target.spm/vocab.json",
    "m2m100": " or sentencepiece.bpe.model/vocab.json",
}


def load_tokenizer(directory: Path, family: str, eos_id: int) -> Tokenizer:
    """Pick the tokenizer files a checkpoint of this family ships."""
    if family == "marian" and (directory / "source.spm").is_file():
        return MarianTokenizer(directory)
    if (directory / "tokenizer.json").is_file():
        return JsonTokenizer(directory / "tokenizer.json", eos_id, languages=family == "m2m100")
    if family == "m2m100" and (directory / "sentencepiece.bpe.model").is_file():
        if not (directory / "vocab.json").is_file():
            raise EngineError(f"{directory}: sentencepiece.bpe.model needs vocab.json beside it")
        return M2M100Tokenizer(directory)
    raise EngineError(
        f"{directory}: no tokenizer found (expected tokenizer.json{_OTHER_FILES.get(family, '')})"
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
