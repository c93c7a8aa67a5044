"""Train a ``tokenizer.json`` on the pairs, laid out as the LSTM family's config expects.

The engine reads it with :class:`bot.engine.tokenizer.JsonTokenizer`, which appends EOS when
the post-processor does not; ours appends ``</s>`` itself so both agree. Ids are fixed by
the order of the special tokens: ``<pad>`` = 0, ``</s>`` = 1 (EOS), ``<s>`` = 2 (decoder
start), ``<unk>`` = 3 — the defaults of ``LSTMConfig``. Metaspace pre-tokenisation keeps
spaces in the pieces so that decode(encode(text)) gives the text back.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

PAD, EOS, START, UNK = "<pad>", "</s>", "<s>", "<unk>"
SPECIAL_TOKENS = [PAD, EOS, START, UNK]
PAD_ID, EOS_ID, START_ID, UNK_ID = range(4)


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000) -> Tokenizer:
    """A BPE tokenizer over sources and targets (one vocabulary, shared embeddings possible).

    Small data gives fewer merges than ``vocab_size``; that is fine, the model is sized
    from :meth:`Tokenizer.get_vocab_size` afterwards.
    """
    tok = Tokenizer(models.BPE(unk_token=UNK))
    # Digits and punctuation stay single pieces so numbers, dates and codes can be
    # rebuilt from parts the model has seen rather than memorised as whole words.
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(),
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.Punctuation(),
        ]
    )
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {EOS}", special_tokens=[(EOS, EOS_ID)]
    )
    for token, expected in zip(SPECIAL_TOKENS, range(4), strict=True):
        if tok.token_to_id(token) != expected:  # the layout the model config relies on
            raise RuntimeError(f"tokenizer: {token} got id {tok.token_to_id(token)}")
    return tok


def save_tokenizer(tok: Tokenizer, directory: Path) -> Path:
    path = Path(directory) / "tokenizer.json"
    tok.save(str(path))
    return path


def load_tokenizer(directory: Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(directory) / "tokenizer.json"))
