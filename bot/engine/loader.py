"""From a model name to a ready model and tokenizer.

A name is a local directory or a hub id. Loading never downloads: hub ids resolve only
through the local huggingface_hub cache. A model loads on first use, not at start, so a
bot without it (offline, or never pulled) starts and works; each request that needs the
model gets :class:`ModelNotAvailable`, one sentence saying to run ``seqbot model pull`` or
to set ``SEQBOT_MODEL`` to a local directory. Downloading is :mod:`.download`'s job, and
an interactive ``seqbot chat`` offers it at start (:mod:`bot.model_offer`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import lstm, m2m100, marian, t5
from .base import LayerHook, Seq2SeqModel, keep
from .errors import EngineError, ModelNotAvailable
from .tokenizer import Tokenizer, load_tokenizer, model_max_length
from .weights import load_weights

log = logging.getLogger(__name__)

FAMILIES = {
    "t5": t5.build,
    "mt5": t5.build,
    "marian": marian.build,
    "bart": marian.build,
    # NLLB-200 and M2M100; transformers writes "m2m_100", some exports "m2m100".
    "m2m_100": m2m100.build,
    "m2m100": m2m100.build,
    # The seed's LSTM + attention model, trained by `seqbot train --arch lstm`.
    lstm.MODEL_TYPE: lstm.build,
}
DEFAULT_MAX_SOURCE = 512
# Decoding constraints transformers applies by default; we apply them too, so outputs match.
GENERATION_KEYS = ("bad_words_ids", "forced_bos_token_id", "forced_eos_token_id")


@dataclass
class LoadedModel:
    model: Seq2SeqModel
    tokenizer: Tokenizer
    directory: Path
    max_source_tokens: int


def resolve(name: str, cache_dir: str | None = None) -> Path:
    """A local directory holding config.json, or ModelNotAvailable."""
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EngineError(f"{path}: no config.json (is this a model directory?)")
        return path
    if path.is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        raise ModelNotAvailable(name)
    from huggingface_hub import snapshot_download

    try:
        snapshot = Path(snapshot_download(name, cache_dir=cache_dir, local_files_only=True))
    except Exception:
        raise ModelNotAvailable(name) from None
    if not (snapshot / "config.json").is_file():
        raise ModelNotAvailable(name)
    return snapshot


def read_config(directory: Path) -> dict[str, Any]:
    path = directory / "config.json"
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineError(f"{path}: cannot read config ({exc})") from None
    if not isinstance(cfg, dict):
        raise EngineError(f"{path}: not a JSON object")
    gen_path = directory / "generation_config.json"
    if gen_path.is_file():
        try:
            gen = json.loads(gen_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("%s: unreadable, ignored", gen_path)
            gen = {}
        for key in GENERATION_KEYS:
            if key not in cfg and gen.get(key) is not None:
                cfg[key] = gen[key]
    return cfg


def load(name: str, cache_dir: str | None = None, convert: LayerHook | None = None) -> LoadedModel:
    """Resolve, read config, weights and tokenizer, and build the family's model.

    ``convert`` (int8: fold norms, quantize) is applied to each layer as the family
    builds it and then to the whole model (output head, anything left), so float32
    weights of only one layer are alive at a time: the load's peak memory is the
    converted model plus one float layer, not the whole float checkpoint.
    """
    directory = resolve(name, cache_dir)
    cfg = read_config(directory)
    model_type = cfg.get("model_type")
    build = FAMILIES.get(str(model_type))
    if build is None:
        raise EngineError(
            f"{directory / 'config.json'}: model_type {model_type!r} is not supported "
            f"(supported: {', '.join(sorted(FAMILIES))})"
        )
    weights = load_weights(directory)
    model = build(cfg, weights, str(directory), convert or keep)
    weights.release()
    del weights
    if convert is not None:
        convert(model)
    tokenizer = load_tokenizer(directory, model.info.family, model.info.eos_token_id)
    limits = [v for v in (model.info.max_source_positions, model_max_length(directory)) if v]
    return LoadedModel(model, tokenizer, directory, min(limits) if limits else DEFAULT_MAX_SOURCE)
