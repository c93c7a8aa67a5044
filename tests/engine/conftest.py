"""Tiny random checkpoints built with transformers, saved the way the hub ships them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "translate English to German: the house is wonderful",
    "summarize: the meeting was moved to next tuesday at noon",
    "question: what is the capital of france? answer: paris",
    "a small model that says random things about cats and dogs",
    "remind me to call my mother tomorrow morning please",
    "how many legs does a spider have and why is the sky blue",
    "the weather today is sunny with a light breeze from the west",
    "seqbot answers questions translates text and sets reminders",
    "every language task runs on one shared engine in a worker thread",
]


def _train_json_tokenizer(
    path: Path, vocab_size: int, specials: tuple[str, ...] = ("<pad>", "</s>", "<unk>")
) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    from tokenizers import decoders

    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size, special_tokens=list(specials), unk_token="<unk>"
    )
    tok.train_from_iterator(SENTENCES * 4, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", tok.token_to_id("</s>"))]
    )
    tok.save(str(path / "tokenizer.json"))
    _fix_piece_order(path / "tokenizer.json")


def _fix_piece_order(path: Path) -> None:
    """Give pieces the same ids and scores in every run.

    The Unigram trainer is not deterministic: near-tied pieces swap ids and some scores
    move by 1e-4 from run to run, so one sentence became different token ids and e.g. the
    int8 drift of one fixture varied from 0.6 to 1.4 nats between test sessions.
    """
    data = json.loads(path.read_text())
    vocab = data["model"]["vocab"]
    specials = len(data["added_tokens"])
    pieces = sorted(([p, round(s, 2)] for p, s in vocab[specials:]), key=lambda v: (-v[1], v[0]))
    data["model"]["vocab"] = vocab[:specials] + pieces
    path.write_text(json.dumps(data))


def _randomize(model: torch.nn.Module) -> None:
    """Wider weights than the default init, so tiny models say varied things, not one token."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2:
                param.normal_(0, 1.0 / param.shape[1] ** 0.5 * 2.0)
            elif "norm" in name and "weight" in name:
                param.uniform_(0.8, 1.2)
            else:
                param.normal_(0, 0.1)


def _t5(path: Path, *, gated: bool, seed: int) -> Path:
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    _train_json_tokenizer(path, 100)
    cfg = T5Config(
        vocab_size=128,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=20,
        feed_forward_proj="gated-gelu" if gated else "relu",
        tie_word_embeddings=not gated,
        pad_token_id=0,
        eos_token_id=1,
        decoder_start_token_id=0,
    )
    model = T5ForConditionalGeneration(cfg).eval()
    _randomize(model)
    model.save_pretrained(path)
    if gated:
        # transformers 5 always ties T5's head when building a model; flan-T5 checkpoints
        # nonetheless carry their own lm_head, which it then loads untied. Write one.
        from safetensors.torch import load_file, save_file

        tensors = load_file(str(path / "model.safetensors"))
        tensors["lm_head.weight"] = torch.randn(cfg.vocab_size, cfg.d_model) / cfg.d_model**0.5 * 2
        save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))
    return path


def _marian(path: Path, seed: int) -> Path:
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel

    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 4),
        model_writer=buf,
        vocab_size=90,
        hard_vocab_limit=False,
        model_type="unigram",
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
    )
    for name in ("source.spm", "target.spm"):
        (path / name).write_bytes(buf.getvalue())
    proc = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    pieces = [
        proc.id_to_piece(i) for i in range(proc.get_piece_size()) if proc.id_to_piece(i) != "<unk>"
    ]
    vocab = {"</s>": 0, "<unk>": 1} | {p: i + 2 for i, p in enumerate(pieces)}
    vocab["<pad>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))
    size = len(vocab)
    cfg = MarianConfig(
        vocab_size=size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=size - 1,
        eos_token_id=0,
        decoder_start_token_id=size - 1,
        bad_words_ids=[[size - 1]],
        scale_embedding=True,
    )
    model = MarianMTModel(cfg).eval()
    _randomize(model)
    with torch.no_grad():  # random but non-zero so the logits bias is exercised
        model.final_logits_bias.normal_(0, 0.1)
    model.save_pretrained(path)
    return path


def _bart(path: Path, seed: int) -> Path:
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    _train_json_tokenizer(path, 100)
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))
    cfg = BartConfig(
        vocab_size=128,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        decoder_start_token_id=1,
        forced_eos_token_id=1,
    )
    model = BartForConditionalGeneration(cfg).eval()
    _randomize(model)
    model.save_pretrained(path)
    return path


#: NLLB-style language codes the tiny NLLB tokenizer knows (added special tokens, as in
#: the real tokenizer.json); every other FLORES-200 code is unknown to it.
NLLB_LANGUAGES = ("eng_Latn", "deu_Latn", "fra_Latn", "spa_Latn", "zho_Hans", "zho_Hant")


def _nllb_tokenizer(path: Path) -> None:
    """A Unigram tokenizer.json laid out like NLLB's: <s> <pad> </s> <unk> first, language
    codes as added special tokens, and the ``eng_Latn $A </s>`` post-processor."""
    from tokenizers import Tokenizer, processors

    _train_json_tokenizer(path, 100, specials=("<s>", "<pad>", "</s>", "<unk>"))
    tok = Tokenizer.from_file(str(path / "tokenizer.json"))
    tok.add_special_tokens(list(NLLB_LANGUAGES))
    tok.post_processor = processors.TemplateProcessing(
        single="eng_Latn $A </s>",
        special_tokens=[("eng_Latn", tok.token_to_id("eng_Latn")), ("</s>", 2)],
    )
    tok.save(str(path / "tokenizer.json"))


def _m2m100_model(path: Path, vocab_size: int, seed: int, *, tied: bool = True) -> None:
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    torch.manual_seed(seed)
    cfg = M2M100Config(
        vocab_size=vocab_size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        scale_embedding=True,
        tie_word_embeddings=tied,
    )
    model = M2M100ForConditionalGeneration(cfg).eval()
    _randomize(model)
    model.save_pretrained(path)
    (path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 64}))


def _nllb(path: Path, seed: int, *, tied: bool = True) -> Path:
    """A tiny NLLB-200-shaped checkpoint (model_type m2m_100) with an NLLB tokenizer.json."""
    path.mkdir(parents=True, exist_ok=True)
    _nllb_tokenizer(path)
    _m2m100_model(path, 128, seed, tied=tied)
    return path


def _m2m100_spm(path: Path, seed: int) -> Path:
    """A tiny facebook/m2m100_418M-shaped checkpoint: sentencepiece.bpe.model + vocab.json,
    language tokens ``__xx__`` numbered after the vocabulary, no tokenizer.json."""
    import sentencepiece as spm

    path.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SENTENCES * 4),
        model_writer=buf,
        vocab_size=90,
        hard_vocab_limit=False,
        model_type="unigram",
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
    )
    (path / "sentencepiece.bpe.model").write_bytes(buf.getvalue())
    proc = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    pieces = [proc.id_to_piece(i) for i in range(proc.get_piece_size())]
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab))
    # 100 language tokens and 8 "madeup words" follow the vocabulary, as in m2m100_418M.
    _m2m100_model(path, len(vocab) + 108, seed)
    return path


@pytest.fixture(scope="session")
def nllb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _nllb(tmp_path_factory.mktemp("nllb"), seed=7)


@pytest.fixture(scope="session")
def m2m100_spm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _m2m100_spm(tmp_path_factory.mktemp("m2m100"), seed=8)


@pytest.fixture(scope="session")
def bart_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bart(tmp_path_factory.mktemp("bart"), seed=4)


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _t5(tmp_path_factory.mktemp("t5v1"), gated=False, seed=1)


@pytest.fixture(scope="session")
def flan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _t5(tmp_path_factory.mktemp("flan"), gated=True, seed=2)


@pytest.fixture(scope="session")
def marian_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _marian(tmp_path_factory.mktemp("marian"), seed=3)


def hf_model(path: Path):
    from transformers import AutoModelForSeq2SeqLM

    return AutoModelForSeq2SeqLM.from_pretrained(path).eval()
