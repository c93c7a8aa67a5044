"""M2M100 and NLLB-200: pre-norm Transformer with fairseq sinusoidal positions.

Both ship ``model_type: m2m_100``. Blocks hold the same weights as BART's
(:class:`~.layers.BartStyleLayer`) but normalise each sublayer's *input*, and the encoder
and decoder end in a final layer norm. Token embeddings are scaled by sqrt(d_model);
positions come from a fixed table built the fairseq way (sines in the first half, cosines
in the second, rows offset by ``padding_idx + 1``, the padding row zero). The output head
is tied to the shared embeddings unless the config unties it; there is no logits bias.

Translation direction is not part of the model: the source starts with a language token
and the target language token is forced as the first generated one (see
:mod:`.tokenizer` and ``GenerationOptions.source_language`` / ``target_language``).

int8: the LayerNorms here are one fused op each (affine included), so unlike T5's RMS
norms there is nothing to save by folding their scale into the next projection; the
engine converts the linear layers and the embedding tables (:class:`~.layers.Embedding`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .base import (
    BartStyleConfig,
    LayerHook,
    ModelInfo,
    Seq2SeqModel,
    first_id,
    keep,
    stacks,
)
from .errors import EngineError
from .layers import (
    BartStyleLayer,
    Embedding,
    Linear,
    PreNormBlock,
    first_present,
    layer_norm_at,
)
from .weights import Weights


@dataclass
class M2M100Config(BartStyleConfig):
    pad: int
    tied_head: bool

    @classmethod
    def from_hf(cls, cfg: dict[str, Any], source: str) -> M2M100Config:
        dims = cls.fields(cfg, source, activation="relu", scale=True, positions=1024)
        pad = _or(cfg.get("pad_token_id"), 1)
        return cls(**dims, pad=pad, tied_head=cfg.get("tie_word_embeddings", True) is not False)


def fairseq_positions(count: int, dim: int, padding_idx: int) -> torch.Tensor:
    """fairseq's sinusoidal table (M2M100SinusoidalPositionalEmbedding), row for row.

    Unlike Marian's table (:func:`~.layers.sinusoidal_positions`) the frequencies are
    spaced by ``log(10000) / (half - 1)`` and computed in float32, exactly as the
    reference does, so the values are bit-identical and greedy outputs match.
    """
    half = dim // 2
    step = math.log(10000) / (half - 1)
    freqs = torch.exp(torch.arange(half, dtype=torch.int64).float() * -step)
    angles = torch.arange(count, dtype=torch.int64).float().unsqueeze(1) * freqs.unsqueeze(0)
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).view(count, -1)
    if dim % 2 == 1:
        table = torch.cat([table, torch.zeros(count, 1)], dim=1)
    table[padding_idx, :] = 0
    return table


def position_ids(ids: torch.Tensor, pad: int) -> torch.Tensor:
    """Rows of the position table for ``[B, T]`` ids: ``pad + 1 + i`` for the i-th
    non-padding token, ``pad`` (the zero row) for padding, as fairseq's make_positions."""
    mask = ids.ne(pad).long()
    return torch.cumsum(mask, dim=1) * mask + pad


class _Layer(BartStyleLayer, PreNormBlock):
    """Pre-norm, as fairseq: every sublayer, the feed-forward too, reads a normalised copy."""

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class M2M100(Seq2SeqModel):
    """Scaled token embeddings plus fairseq positions; final norms on both stacks."""

    def __init__(
        self, cfg: M2M100Config, w: Weights, info: ModelInfo, convert: LayerHook = keep
    ) -> None:
        self.cfg, self.info = cfg, info
        self.pad = cfg.pad
        self.set_heads(cfg.d_model, cfg.encoder_heads, cfg.decoder_heads)
        self.embed_scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        # Tied (the default, and NLLB/M2M100 on the hub): encoder, decoder and head share
        # ``shared``, read once: at NLLB's 256k x 1024 every extra copy is 1 GB. Untied,
        # transformers keeps the per-stack embeddings and the head apart, and so do we.
        if cfg.tied_head:
            self.enc_embed = self.dec_embed = Embedding(
                first_present(
                    w, "shared.weight", "decoder.embed_tokens.weight", "encoder.embed_tokens.weight"
                )
            )
            head = self.dec_embed.weight
        else:  # converted (int8) at once, so the float tables are never all alive together
            self.enc_embed = convert(
                Embedding(first_present(w, "encoder.embed_tokens.weight", "shared.weight"))
            )
            self.dec_embed = convert(
                Embedding(first_present(w, "decoder.embed_tokens.weight", "shared.weight"))
            )
            if not w.has("lm_head.weight"):
                raise EngineError(
                    f"{w.source}: tie_word_embeddings is false but weight 'lm_head.weight' "
                    "is missing"
                )
            head = w.get("lm_head.weight")
        # Rows up to the last position the engine uses (max_positions tokens after the
        # padding_idx + 1 offset); transformers grows its table lazily to the same values.
        self.positions = fairseq_positions(cfg.max_positions + cfg.pad + 1, cfg.d_model, cfg.pad)
        self.encoder, self.decoder = stacks(
            lambda prefix, decoder: _Layer(w, prefix, cfg.activation, decoder),
            "layers",
            (cfg.encoder_layers, cfg.decoder_layers),
            convert,
        )
        self.enc_norm = layer_norm_at(w, "encoder.layer_norm")
        self.dec_norm = layer_norm_at(w, "decoder.layer_norm")
        # Tied: the head reads the embedding's float table; int8 mode converts each of the
        # two once, when the whole model is converted last.
        self.lm_head = Linear(head)

    def _embed(
        self, table: Callable[[torch.Tensor], torch.Tensor], ids: torch.Tensor, rows: torch.Tensor
    ) -> torch.Tensor:
        return table(ids) * self.embed_scale + F.embedding(rows, self.positions)

    # -- the hooks of Seq2SeqModel's passes ------------------------------------------------
    def embed_source(self, ids: torch.Tensor) -> torch.Tensor:
        return self._embed(self.enc_embed, ids, position_ids(ids, self.pad))

    def embed_step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        # Each row at its own position; a padding token takes the zero row, as
        # transformers' cached step computes it.
        rows = torch.where(tokens == self.pad, self.pad, positions + self.pad + 1)
        return self._embed(self.dec_embed, tokens, rows)

    def embed_target(self, ids: torch.Tensor) -> torch.Tensor:
        return self._embed(self.dec_embed, ids, position_ids(ids, self.pad))

    def encoder_out(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc_norm(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.dec_norm(x))


def build(
    cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep
) -> M2M100:
    """Construct an M2M100 / NLLB model from config.json values and checkpoint tensors."""
    cfg = M2M100Config.from_hf(cfg_dict, source)
    eos = first_id(cfg_dict.get("eos_token_id", 2))
    start = _or(cfg_dict.get("decoder_start_token_id"), eos)
    info = cfg.info(cfg_dict, "m2m100", cfg.pad, eos, start)
    return M2M100(cfg, weights, info, convert)


def _or(value: int | None, default: int) -> int:
    """A config id that may be absent or null."""
    return default if value is None else value
