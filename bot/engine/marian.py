"""Marian (opus-mt) and BART: post-norm Transformer with biased projections.

The two differ only in embeddings: Marian scales token embeddings by sqrt(d_model) and
adds fixed sinusoidal positions; BART adds learned positions (offset by 2) followed by a
layer norm. Both tie the output head to the decoder embeddings and add a logits bias.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .base import BartStyleConfig, LayerHook, ModelInfo, Seq2SeqModel, keep, stacks
from .errors import EngineError
from .layers import (
    Attend,
    BartStyleLayer,
    Embedding,
    Linear,
    layer_norm_at,
    sinusoidal_positions,
)
from .weights import Weights

_BART_POSITION_OFFSET = 2


@dataclass
class MarianConfig(BartStyleConfig):
    learned_positions: bool

    @classmethod
    def from_hf(cls, cfg: dict[str, Any], source: str) -> MarianConfig:
        bart = cfg.get("model_type") == "bart"
        if cfg.get("normalize_before") or cfg.get("add_final_layer_norm"):
            raise EngineError(f"{source}: pre-norm BART variants (mBART) are not supported")
        act = "gelu" if bart else "swish"
        dims = cls.fields(cfg, source, activation=act, scale=not bart, positions=512)
        return cls(**dims, learned_positions=bart)


class _Layer(BartStyleLayer):
    def __call__(
        self, x: torch.Tensor, attend: Attend, cross: Attend | None = None
    ) -> torch.Tensor:
        """Post-norm: each sublayer's output is added to its input, then normalised."""
        x = self.norm1(x + self.o(attend(self.qkv(x))))
        if cross is not None:
            x = self.norm2(x + self.cross_o(cross(self.cross_q(x))))
        return self.norm_ff(x + self.fc2(self.act(self.fc1(x))))


class Marian(Seq2SeqModel):
    """Scaled token embeddings plus fixed (Marian) or learned (BART) positions."""

    def __init__(
        self, cfg: MarianConfig, w: Weights, info: ModelInfo, convert: LayerHook = keep
    ) -> None:
        self.cfg, self.info = cfg, info
        self.set_heads(cfg.d_model, cfg.encoder_heads, cfg.decoder_heads)
        self.embed_scale = math.sqrt(cfg.d_model) if cfg.scale_embedding else 1.0
        # Usually one table stored once ("shared"): read it once and share the object,
        # so int8 mode converts it once and a float copy is never duplicated.
        enc = w.first_name("encoder.embed_tokens.weight", "shared.weight")
        dec = w.first_name("decoder.embed_tokens.weight", "shared.weight")
        self.enc_embed = Embedding(w.get(enc))
        self.dec_embed = self.enc_embed if dec == enc else Embedding(w.get(dec))
        if cfg.learned_positions:
            self.enc_pos = w.get("encoder.embed_positions.weight")[_BART_POSITION_OFFSET:]
            self.dec_pos = w.get("decoder.embed_positions.weight")[_BART_POSITION_OFFSET:]
            self.enc_emb_norm = layer_norm_at(w, "encoder.layernorm_embedding")
            self.dec_emb_norm = layer_norm_at(w, "decoder.layernorm_embedding")
        else:
            self.enc_pos = self.dec_pos = sinusoidal_positions(cfg.max_positions, cfg.d_model)
            self.enc_emb_norm = self.dec_emb_norm = None
        self.encoder, self.decoder = stacks(
            lambda prefix, decoder: _Layer(w, prefix, cfg.activation, decoder),
            "layers",
            (cfg.encoder_layers, cfg.decoder_layers),
            convert,
        )
        head = w.get("lm_head.weight") if w.has("lm_head.weight") else self.dec_embed.weight
        bias = w.get("final_logits_bias").reshape(-1) if w.has("final_logits_bias") else None
        self.lm_head = Linear(head, bias)

    # -- the hooks of Seq2SeqModel's passes ------------------------------------------------
    def embed_source(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.enc_embed(ids) * self.embed_scale + self.enc_pos[: ids.shape[1]]
        return self.enc_emb_norm(x) if self.enc_emb_norm else x

    def embed_step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.dec_embed(tokens) * self.embed_scale + F.embedding(positions, self.dec_pos)
        return self.dec_emb_norm(x) if self.dec_emb_norm else x

    def embed_target(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed_step(ids, torch.arange(ids.shape[1]))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(x)


def build(
    cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep
) -> Marian:
    """Construct a Marian or BART model from config.json values and checkpoint tensors."""
    cfg = MarianConfig.from_hf(cfg_dict, source)
    pad = cfg_dict.get("pad_token_id", 0)
    eos = cfg_dict.get("eos_token_id", 0)
    start = cfg_dict.get("decoder_start_token_id", pad)
    info = cfg.info(cfg_dict, cfg_dict.get("model_type", "marian"), pad, eos, start)
    return Marian(cfg, weights, info, convert)
