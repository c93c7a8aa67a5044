"""``--base MODEL``: fine-tune a pretrained T5 / flan-T5 / mT5 / Marian / BART checkpoint.

Training runs on transformers' own modules: they carry what training needs and serving
does not (dropout, each family's label shifting, tied weights on save), and transformers
is the reference the engine's model code is tested against. What ties the result to
seqbot is everything around the model:

- **Tokens.** Texts are tokenized with the engine's tokenizer classes for the base's
  files (:func:`bot.engine.tokenizer.load_tokenizer`), so training sees the ids serving
  will feed. Labels use the target side (Marian's ``target.spm``).
- **Output.** ``save_pretrained`` (config, generation config, one safetensors file) plus
  the base's tokenizer files, copied at start: a Hugging Face directory that both
  ``Engine.load`` and ``AutoModelForSeq2SeqLM.from_pretrained`` read.
- **Validation.** Plain greedy decoding with the decoding constraints the engine applies
  too (``bad_words_ids``, forced BOS/EOS), not the base's beam or length settings.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bot.engine.errors import EngineError, ModelNotAvailable
from bot.engine.loader import GENERATION_KEYS, read_config, resolve
from bot.engine.tokenizer import load_tokenizer

from .options import TrainError, TrainOptions
from .recipe import Batch, strip_eos

#: model_type values this recipe fine-tunes, and the tokenizer family each reads as.
FAMILIES = {"t5": "t5", "mt5": "t5", "marian": "marian", "bart": "bart"}
DEFAULT_LR = 1e-4
DEFAULT_MAX_LEN = 128
#: The base's files that describe its tokenizer; weights and configs are written anew.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "spiece.model",
    "source.spm",
    "target.spm",
    "vocab.json",
    "target_vocab.json",
    "merges.txt",
    "sentencepiece.bpe.model",
)


def base_directory(name: str, cache_dir: str | None) -> Path:
    """The base's local directory; a hub id must have been downloaded first."""
    try:
        return resolve(name, cache_dir)
    except ModelNotAvailable:
        raise TrainError(
            f"--base {name!r} is not available here: download it with "
            f"`seqbot model pull {name}` (needs the Hugging Face hub) or pass a local directory"
        ) from None
    except EngineError as exc:
        raise TrainError(f"--base {name!r}: {exc}") from None


def _family(directory: Path) -> tuple[str, dict[str, Any]]:
    try:
        cfg = read_config(directory)
    except EngineError as exc:
        raise TrainError(str(exc)) from None
    model_type = str(cfg.get("model_type"))
    if model_type not in FAMILIES:
        raise TrainError(
            f"{directory}: model_type {model_type!r} cannot be fine-tuned "
            f"(supported: {', '.join(sorted(FAMILIES))})"
        )
    return FAMILIES[model_type], cfg


def _copy_tokenizer(base: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)


def _hf_model(directory: Path) -> nn.Module:
    try:
        from transformers import AutoModelForSeq2SeqLM
    except ImportError:
        raise TrainError(
            "--base needs transformers: pip install torch==2.13.0 -e '.[train]'"
        ) from None
    try:
        return AutoModelForSeq2SeqLM.from_pretrained(directory)
    except Exception as exc:
        raise TrainError(f"{directory}: transformers cannot load it ({str(exc)[:200]})") from None


class FinetuneRecipe:
    """A transformers Seq2Seq model loaded from ``opts.base``, tokenized as the engine does."""

    def __init__(self, opts: TrainOptions, device: torch.device) -> None:
        assert opts.base is not None
        base = base_directory(opts.base, opts.cache_dir)
        if base.resolve() == opts.out.resolve():
            raise TrainError("--out must not be the --base directory (it would be overwritten)")
        family, cfg = _family(base)
        self.default_lr = DEFAULT_LR
        self.eos_id = int(cfg["eos_token_id"])
        self.pad_id = int(cfg["pad_token_id"])
        self.max_len = opts.max_len or DEFAULT_MAX_LEN
        self._constraints = {k: cfg[k] for k in GENERATION_KEYS if cfg.get(k) is not None}
        try:
            self.tokenizer = load_tokenizer(base, family, self.eos_id)
        except EngineError as exc:
            raise TrainError(str(exc)) from None
        _copy_tokenizer(base, opts.out)
        torch.manual_seed(opts.seed)
        self.model = _hf_model(base).to(device)

    def loss(self, batch: Batch) -> torch.Tensor:
        out = self.model(
            input_ids=batch["source"], attention_mask=batch["mask"], labels=batch["labels"]
        )
        return out.loss

    @torch.no_grad()
    def generate(self, batch: Batch) -> list[list[int]]:
        from transformers import GenerationConfig

        config = self.model.config
        generation = GenerationConfig(
            max_new_tokens=self.max_len,
            num_beams=1,
            do_sample=False,
            decoder_start_token_id=config.decoder_start_token_id,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
            **self._constraints,
        )
        ids = self.model.generate(
            input_ids=batch["source"], attention_mask=batch["mask"], generation_config=generation
        )
        return strip_eos(ids[:, 1:].tolist(), self.eos_id)

    def save(self, out: Path) -> None:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # one shard; its bar would break our own progress bar
        self.model.save_pretrained(out, safe_serialization=True, max_shard_size="1000GB")
