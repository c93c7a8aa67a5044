"""T5 family: T5 v1.0 (relu), T5 v1.1 / flan-T5 / mT5 (gated-gelu, untied head).

Pre-norm blocks with scale-only RMS norms, no attention scaling, and a learned bucketed
relative position bias computed once in the first layer and shared by all layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from .base import LayerHook, ModelInfo, Seq2SeqModel, first_id, keep, stacks
from .errors import EngineError
from .layers import (
    ACTIVATIONS,
    Embedding,
    Linear,
    PreNormBlock,
    fold_scale,
    fuse,
    padding_bias,
    rms_norm,
)
from .weights import Weights, config_value


@dataclass
class T5Config:
    vocab_size: int
    d_model: int
    d_kv: int
    d_ff: int
    num_layers: int
    num_decoder_layers: int
    num_heads: int
    num_buckets: int
    max_distance: int
    eps: float
    gated: bool
    activation: str
    scale_decoder_outputs: bool

    @classmethod
    def from_hf(cls, cfg: dict[str, Any], source: str) -> T5Config:
        proj = cfg.get("feed_forward_proj", "relu")
        gated = proj.startswith("gated-")
        act = proj.split("-", 1)[1] if gated else proj
        if proj == "gated-gelu":
            act = "gelu_new"  # what transformers maps "gated-gelu" to
        if act not in ACTIVATIONS:
            raise EngineError(f"{source}: feed_forward_proj {proj!r} is not supported")
        # Old configs signal v1.1's unscaled outputs with tie_word_embeddings=false;
        # transformers 5 writes scale_decoder_outputs instead. Head tying is decided by
        # whether the checkpoint has its own lm_head (see T5.__init__).
        tied = cfg.get("tie_word_embeddings", True) is not False
        num_layers = config_value(cfg, "num_layers", source)
        return cls(
            vocab_size=config_value(cfg, "vocab_size", source),
            d_model=config_value(cfg, "d_model", source),
            d_kv=config_value(cfg, "d_kv", source),
            d_ff=config_value(cfg, "d_ff", source),
            num_layers=num_layers,
            num_decoder_layers=cfg.get("num_decoder_layers") or num_layers,
            num_heads=config_value(cfg, "num_heads", source),
            num_buckets=cfg.get("relative_attention_num_buckets", 32),
            max_distance=cfg.get("relative_attention_max_distance", 128),
            eps=cfg.get("layer_norm_epsilon", 1e-6),
            gated=gated,
            activation=act,
            scale_decoder_outputs=cfg.get("scale_decoder_outputs", tied),
        )


def relative_buckets(
    relative: torch.Tensor, bidirectional: bool, num_buckets: int, max_distance: int
) -> torch.Tensor:
    """Map key-minus-query distances to T5's log-spaced buckets."""
    buckets = torch.zeros_like(relative)
    if bidirectional:
        num_buckets //= 2
        buckets += (relative > 0).long() * num_buckets
        relative = relative.abs()
    else:
        relative = -torch.clamp(relative, max=0)
    exact = num_buckets // 2
    large = (
        exact
        + (
            torch.log(relative.float() / exact)
            / math.log(max_distance / exact)
            * (num_buckets - exact)
        ).long()
    )
    large = torch.clamp(large, max=num_buckets - 1)
    return buckets + torch.where(relative < exact, relative, large)


class _FeedForward:
    def __init__(self, w: Weights, prefix: str, cfg: T5Config) -> None:
        self.act = ACTIVATIONS[cfg.activation]
        self.gated = cfg.gated
        self.d_ff = cfg.d_ff
        if cfg.gated:
            self.wi = fuse(
                Linear(w.get(f"{prefix}.wi_0.weight")), Linear(w.get(f"{prefix}.wi_1.weight"))
            )
        else:
            self.wi = Linear(w.get(f"{prefix}.wi.weight"))
        self.wo = Linear(w.get(f"{prefix}.wo.weight"))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.gated:
            gate, up = self.wi(x).chunk(2, dim=-1)
            return self.wo(self.act(gate) * up)
        return self.wo(self.act(self.wi(x)))


class _Layer(PreNormBlock):
    """One encoder or decoder block (pre-norm); decoder blocks also have cross-attention."""

    def __init__(self, w: Weights, prefix: str, cfg: T5Config, decoder: bool) -> None:
        att = f"{prefix}.layer.0.SelfAttention"
        self.norm1 = rms_norm(w.get(f"{prefix}.layer.0.layer_norm.weight"), cfg.eps)
        self.qkv = fuse(*(Linear(w.get(f"{att}.{p}.weight")) for p in "qkv"))
        self.o = Linear(w.get(f"{att}.o.weight"))
        ff = 1
        if decoder:
            cross = f"{prefix}.layer.1.EncDecAttention"
            self.norm2 = rms_norm(w.get(f"{prefix}.layer.1.layer_norm.weight"), cfg.eps)
            self.cross_q = Linear(w.get(f"{cross}.q.weight"))
            self.cross_kv = fuse(
                Linear(w.get(f"{cross}.k.weight")), Linear(w.get(f"{cross}.v.weight"))
            )
            self.cross_o = Linear(w.get(f"{cross}.o.weight"))
            ff = 2
        self.norm_ff = rms_norm(w.get(f"{prefix}.layer.{ff}.layer_norm.weight"), cfg.eps)
        self.ffn = _FeedForward(w, f"{prefix}.layer.{ff}.DenseReluDense", cfg)

    def fold_norm_scales(self) -> None:
        """Fold each RMS norm scale into the projection after it (int8 mode, see fold_scale)."""
        fold_scale(self.norm1, self.qkv)
        fold_scale(self.norm_ff, self.ffn.wi)
        if hasattr(self, "norm2"):
            fold_scale(self.norm2, self.cross_q)


class T5(Seq2SeqModel):
    """Shared embeddings, relative position bias, RMS norms; no attention scaling."""

    def __init__(
        self, cfg: T5Config, w: Weights, info: ModelInfo, convert: LayerHook = keep
    ) -> None:
        self.cfg, self.info = cfg, info
        self.heads = self.enc_heads = cfg.num_heads
        self.dk = self.enc_dk = cfg.d_kv
        self.scale = self.enc_scale = 1.0  # T5 folds 1/sqrt(d_kv) into its weights
        self.embed = Embedding(w.get("shared.weight"))
        untied = w.has("lm_head.weight")
        if untied:  # int8 now, so two float 32k-row tables are never alive at once
            self.embed = convert(self.embed)
        self.encoder, self.decoder = stacks(
            lambda prefix, decoder: _Layer(w, prefix, cfg, decoder),
            "block",
            (cfg.num_layers, cfg.num_decoder_layers),
            convert,
        )
        rel = "layer.0.SelfAttention.relative_attention_bias.weight"
        self.enc_rel = w.get(f"encoder.block.0.{rel}")
        self.dec_rel = w.get(f"decoder.block.0.{rel}")
        self.enc_norm = rms_norm(w.get("encoder.final_layer_norm.weight"), cfg.eps)
        self.dec_norm = rms_norm(w.get("decoder.final_layer_norm.weight"), cfg.eps)
        head = w.get("lm_head.weight") if untied else self.embed.weight
        # Tied-embedding T5 (v1.0) rescales decoder outputs before the shared head.
        self._out_scale = cfg.d_model**-0.5 if cfg.scale_decoder_outputs else None
        self.lm_head = Linear(head)
        self._dec_bias = torch.empty(cfg.num_heads, 0, 0)
        self._dec_bias_by_query = torch.empty(0, cfg.num_heads, 0)

    # -- position bias -------------------------------------------------------------
    def _bias(
        self, table: torch.Tensor, q_len: int, k_len: int, bidirectional: bool
    ) -> torch.Tensor:
        rel = torch.arange(k_len)[None, :] - torch.arange(q_len)[:, None]
        buckets = relative_buckets(rel, bidirectional, self.cfg.num_buckets, self.cfg.max_distance)
        return F.embedding(buckets, table).permute(2, 0, 1).contiguous()  # [H, q, k]

    def decoder_bias(self, length: int) -> torch.Tensor:
        """``[H, T, T]`` position bias with the causal mask folded in, grown on demand."""
        if self._dec_bias.shape[1] < length:
            size = max(length, 2 * self._dec_bias.shape[1], 64)
            bias = self._bias(self.dec_rel, size, size, bidirectional=False)
            self._dec_bias = bias.masked_fill_(
                torch.ones(size, size, dtype=torch.bool).triu_(1), float("-inf")
            )
            # Query-major copy: a decode step gathers one contiguous row per sequence.
            self._dec_bias_by_query = self._dec_bias.transpose(0, 1).contiguous()
        return self._dec_bias

    def fold_norm_scales(self) -> None:
        """Fold every RMS norm scale into the next projection (int8 mode only, see fold_scale)."""
        for layer in self.encoder + self.decoder:
            layer.fold_norm_scales()
        if isinstance(self.lm_head, Linear):
            fold_scale(self.dec_norm, self.lm_head, extra=self._out_scale or 1.0)
            self._out_scale = None

    # -- the hooks of Seq2SeqModel's passes ------------------------------------------------
    def embed_source(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)

    def embed_step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.embed(tokens)  # positions enter through the attention bias only

    def embed_target(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)

    def source_bias(self, lengths: torch.Tensor, width: int) -> torch.Tensor:
        relative = self._bias(self.enc_rel, width, width, bidirectional=True)
        return relative[None] + padding_bias(lengths, width)

    def step_bias(self, positions: torch.Tensor, length: int) -> torch.Tensor:
        self.decoder_bias(length)
        return self._dec_bias_by_query[:, :, :length].index_select(0, positions).unsqueeze(2)

    def target_bias(self, length: int) -> torch.Tensor:
        return self.decoder_bias(length)[None, :, :length, :length]

    def encoder_out(self, x: torch.Tensor) -> torch.Tensor:
        return self.enc_norm(x)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = self.dec_norm(x)
        if self._out_scale is not None:
            x = x * self._out_scale
        return self.lm_head(x)


def build(cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep) -> T5:
    """Construct a T5-family model from config.json values and checkpoint tensors."""
    cfg = T5Config.from_hf(cfg_dict, source)
    info = ModelInfo(
        family="t5",
        vocab_size=cfg.vocab_size,
        pad_token_id=cfg_dict.get("pad_token_id", 0),
        eos_token_id=first_id(cfg_dict.get("eos_token_id", 1)),
        decoder_start_token_id=cfg_dict.get(
            "decoder_start_token_id", cfg_dict.get("pad_token_id", 0)
        ),
        max_source_positions=None,
        layers=cfg.num_decoder_layers,
        heads=cfg.num_heads,
        head_dim=cfg.d_kv,
    )
    return T5(cfg, weights, info, convert)
