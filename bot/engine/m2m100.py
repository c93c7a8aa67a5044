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

from .base import CrossFromDecoderLayers, LayerHook, ModelInfo, keep
from .cache import KVCache
from .errors import EngineError
from .layers import (
    ACTIVATIONS,
    BartStyleLayer,
    Embedding,
    Linear,
    attention,
    causal_bias,
    first_present,
    layer_norm_at,
    padding_bias,
)
from .weights import Weights, config_value


@dataclass
class M2M100Config:
    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_heads: int
    decoder_heads: int
    activation: str
    scale_embedding: bool
    max_positions: int
    pad: int
    tied_head: bool

    @classmethod
    def from_hf(cls, cfg: dict[str, Any], source: str) -> M2M100Config:
        act = cfg.get("activation_function", "relu")
        if act not in ACTIVATIONS:
            raise EngineError(f"{source}: activation_function {act!r} is not supported")
        return cls(
            vocab_size=config_value(cfg, "vocab_size", source),
            d_model=config_value(cfg, "d_model", source),
            encoder_layers=config_value(cfg, "encoder_layers", source),
            decoder_layers=config_value(cfg, "decoder_layers", source),
            encoder_heads=config_value(cfg, "encoder_attention_heads", source),
            decoder_heads=config_value(cfg, "decoder_attention_heads", source),
            activation=act,
            scale_embedding=bool(cfg.get("scale_embedding", True)),
            max_positions=cfg.get("max_position_embeddings", 1024),
            pad=_or(cfg.get("pad_token_id"), 1),
            tied_head=cfg.get("tie_word_embeddings", True) is not False,
        )


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


class _Layer(BartStyleLayer):
    """Pre-norm block: each sublayer reads a normalised copy and adds to the residual."""

    def __init__(self, w: Weights, prefix: str, cfg: M2M100Config, decoder: bool) -> None:
        super().__init__(w, prefix, cfg.activation, decoder)

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm_ff(x))))


class M2M100(CrossFromDecoderLayers):
    """Encoder, cached single-step decoder, and full decoder for scoring."""

    def __init__(
        self, cfg: M2M100Config, w: Weights, info: ModelInfo, convert: LayerHook = keep
    ) -> None:
        self.cfg, self.info = cfg, info
        self.pad = cfg.pad
        self.heads, self.enc_heads = cfg.decoder_heads, cfg.encoder_heads
        self.dk = cfg.d_model // cfg.decoder_heads
        self.enc_dk = cfg.d_model // cfg.encoder_heads
        self.scale, self.enc_scale = self.dk**-0.5, self.enc_dk**-0.5
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
        self.encoder = [
            convert(_Layer(w, f"encoder.layers.{i}", cfg, False)) for i in range(cfg.encoder_layers)
        ]
        self.decoder = [
            convert(_Layer(w, f"decoder.layers.{i}", cfg, True)) for i in range(cfg.decoder_layers)
        ]
        self.enc_norm = layer_norm_at(w, "encoder.layer_norm")
        self.dec_norm = layer_norm_at(w, "decoder.layer_norm")
        # Tied: the head reads the embedding's float table; int8 mode converts each of the
        # two once, when the whole model is converted last.
        self.lm_head = Linear(head)

    def _embed(
        self, table: Callable[[torch.Tensor], torch.Tensor], ids: torch.Tensor, rows: torch.Tensor
    ) -> torch.Tensor:
        return table(ids) * self.embed_scale + F.embedding(rows, self.positions)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.dec_norm(x))

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b, s = ids.shape
        heads, dk = self.enc_heads, self.enc_dk
        x = self._embed(self.enc_embed, ids, position_ids(ids, self.pad))
        bias = padding_bias(lengths, s)
        for layer in self.encoder:
            q, k, v = layer.qkv(layer.norm1(x)).view(b, s, 3, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, bias, self.enc_scale).transpose(1, 2).reshape(b, s, -1)
            x = x + layer.o(a)
            x = layer.ffn(x)
        return self.enc_norm(x)

    def decode_step(
        self,
        cache: KVCache,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        self_len: int,
    ) -> torch.Tensor:
        n, heads, dk = tokens.shape[0], self.heads, self.dk
        # One token per row at its own position; a padding token takes the zero row, as
        # transformers' cached step computes it.
        rows = torch.where(tokens == self.pad, self.pad, positions + self.pad + 1)
        x = self._embed(self.dec_embed, tokens, rows)
        hidden_keys = torch.arange(self_len)[None, :] > positions[:, None]
        self_bias = torch.zeros(n, self_len).masked_fill_(hidden_keys, float("-inf"))[
            :, None, None, :
        ]
        cross = cache.cross_attention(n)
        index = cache.write_index(positions)
        keys, values = cache.self_views(n, self_len)
        for i, layer in enumerate(self.decoder):
            q, k, v = layer.qkv(layer.norm1(x)).view(n, 3, heads, dk).unbind(1)
            cache.write(i, index, k, v)
            a = attention(q.unsqueeze(2), keys[i], values[i], self_bias, self.scale)
            x = x + layer.o(a.view(n, -1))
            q = layer.cross_q(layer.norm2(x)).view(n, heads, 1, dk)
            a = cross(i, q, self.scale)
            x = x + layer.cross_o(a.view(n, -1))
            x = layer.ffn(x)
        return self._logits(x)

    def decode_full(
        self, hidden: torch.Tensor, source_lengths: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        b, t = ids.shape
        s = hidden.shape[1]
        heads, dk = self.heads, self.dk
        x = self._embed(self.dec_embed, ids, position_ids(ids, self.pad))
        self_bias = causal_bias(t)
        cross_bias = padding_bias(source_lengths, s)
        for layer in self.decoder:
            q, k, v = layer.qkv(layer.norm1(x)).view(b, t, 3, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, self_bias, self.scale).transpose(1, 2).reshape(b, t, -1)
            x = x + layer.o(a)
            q = layer.cross_q(layer.norm2(x)).view(b, t, heads, dk).transpose(1, 2)
            k, v = layer.cross_kv(hidden).view(b, s, 2, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, cross_bias, self.scale).transpose(1, 2).reshape(b, t, -1)
            x = x + layer.cross_o(a)
            x = layer.ffn(x)
        return self._logits(x)


def build(
    cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep
) -> M2M100:
    """Construct an M2M100 / NLLB model from config.json values and checkpoint tensors."""
    cfg = M2M100Config.from_hf(cfg_dict, source)
    eos = cfg_dict.get("eos_token_id", 2)
    eos = eos[0] if isinstance(eos, list) else eos
    bad = [ids[0] for ids in cfg_dict.get("bad_words_ids") or [] if len(ids) == 1]
    info = ModelInfo(
        family="m2m100",
        vocab_size=cfg.vocab_size,
        pad_token_id=cfg.pad,
        eos_token_id=eos,
        decoder_start_token_id=_or(cfg_dict.get("decoder_start_token_id"), eos),
        max_source_positions=cfg.max_positions,
        layers=cfg.decoder_layers,
        heads=cfg.decoder_heads,
        head_dim=cfg.d_model // cfg.decoder_heads,
        bad_token_ids=bad,
        forced_bos_token_id=cfg_dict.get("forced_bos_token_id"),
        forced_eos_token_id=cfg_dict.get("forced_eos_token_id"),
    )
    return M2M100(cfg, weights, info, convert)


def _or(value: int | None, default: int) -> int:
    """A config id that may be absent or null."""
    return default if value is None else value
