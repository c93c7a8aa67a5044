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
    layer_norm_at,
    padding_bias,
    sinusoidal_positions,
)
from .weights import Weights, config_value

_BART_POSITION_OFFSET = 2


@dataclass
class MarianConfig:
    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_heads: int
    decoder_heads: int
    activation: str
    scale_embedding: bool
    max_positions: int
    learned_positions: bool

    @classmethod
    def from_hf(cls, cfg: dict[str, Any], source: str) -> MarianConfig:
        bart = cfg.get("model_type") == "bart"
        if cfg.get("normalize_before") or cfg.get("add_final_layer_norm"):
            raise EngineError(f"{source}: pre-norm BART variants (mBART) are not supported")
        act = cfg.get("activation_function", "gelu" if bart else "swish")
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
            scale_embedding=bool(cfg.get("scale_embedding", not bart)),
            max_positions=cfg.get("max_position_embeddings", 512),
            learned_positions=bart,
        )


class _Layer(BartStyleLayer):
    """Post-norm block: each sublayer's output is added to its input, then normalised."""

    def __init__(self, w: Weights, prefix: str, cfg: MarianConfig, decoder: bool) -> None:
        super().__init__(w, prefix, cfg.activation, decoder)

    def ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_ff(x + self.fc2(self.act(self.fc1(x))))


class Marian(CrossFromDecoderLayers):
    """Encoder, cached single-step decoder, and full decoder for scoring."""

    def __init__(
        self, cfg: MarianConfig, w: Weights, info: ModelInfo, convert: LayerHook = keep
    ) -> None:
        self.cfg, self.info = cfg, info
        self.heads = cfg.decoder_heads
        self.enc_heads = cfg.encoder_heads
        self.dk = cfg.d_model // cfg.decoder_heads
        self.enc_dk = cfg.d_model // cfg.encoder_heads
        self.scale = self.dk**-0.5
        self.enc_scale = self.enc_dk**-0.5
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
        self.encoder = [
            convert(_Layer(w, f"encoder.layers.{i}", cfg, False)) for i in range(cfg.encoder_layers)
        ]
        self.decoder = [
            convert(_Layer(w, f"decoder.layers.{i}", cfg, True)) for i in range(cfg.decoder_layers)
        ]
        head = w.get("lm_head.weight") if w.has("lm_head.weight") else self.dec_embed.weight
        bias = w.get("final_logits_bias").reshape(-1) if w.has("final_logits_bias") else None
        self.lm_head = Linear(head, bias)

    def _embed_source(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.enc_embed(ids) * self.embed_scale + self.enc_pos[: ids.shape[1]]
        return self.enc_emb_norm(x) if self.enc_emb_norm else x

    def _embed_target(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.dec_embed(ids) * self.embed_scale + F.embedding(positions, self.dec_pos)
        return self.dec_emb_norm(x) if self.dec_emb_norm else x

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        b, s = ids.shape
        heads, dk = self.enc_heads, self.enc_dk
        x = self._embed_source(ids)
        bias = padding_bias(lengths, s)
        for layer in self.encoder:
            q, k, v = layer.qkv(x).view(b, s, 3, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, bias, self.enc_scale).transpose(1, 2).reshape(b, s, -1)
            x = layer.norm1(x + layer.o(a))
            x = layer.ffn(x)
        return x

    def decode_step(
        self,
        cache: KVCache,
        tokens: torch.Tensor,
        positions: torch.Tensor,
        self_len: int,
    ) -> torch.Tensor:
        n, heads, dk = tokens.shape[0], self.heads, self.dk
        x = self._embed_target(tokens, positions)
        hidden_keys = torch.arange(self_len)[None, :] > positions[:, None]
        self_bias = torch.zeros(n, self_len).masked_fill_(hidden_keys, float("-inf"))[
            :, None, None, :
        ]
        cross = cache.cross_attention(n)
        index = cache.write_index(positions)
        keys, values = cache.self_views(n, self_len)
        for i, layer in enumerate(self.decoder):
            q, k, v = layer.qkv(x).view(n, 3, heads, dk).unbind(1)
            cache.write(i, index, k, v)
            a = attention(q.unsqueeze(2), keys[i], values[i], self_bias, self.scale)
            x = layer.norm1(x + layer.o(a.view(n, -1)))
            q = layer.cross_q(x).view(n, heads, 1, dk)
            a = cross(i, q, self.scale)
            x = layer.norm2(x + layer.cross_o(a.view(n, -1)))
            x = layer.ffn(x)
        return self.lm_head(x)

    def decode_full(
        self, hidden: torch.Tensor, source_lengths: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        b, t = ids.shape
        s = hidden.shape[1]
        heads, dk = self.heads, self.dk
        x = self._embed_target(ids, torch.arange(t))
        self_bias = causal_bias(t)
        cross_bias = padding_bias(source_lengths, s)
        for layer in self.decoder:
            q, k, v = layer.qkv(x).view(b, t, 3, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, self_bias, self.scale).transpose(1, 2).reshape(b, t, -1)
            x = layer.norm1(x + layer.o(a))
            q = layer.cross_q(x).view(b, t, heads, dk).transpose(1, 2)
            k, v = layer.cross_kv(hidden).view(b, s, 2, heads, dk).permute(2, 0, 3, 1, 4)
            a = attention(q, k, v, cross_bias, self.scale).transpose(1, 2).reshape(b, t, -1)
            x = layer.norm2(x + layer.cross_o(a))
            x = layer.ffn(x)
        return self.lm_head(x)


def build(
    cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep
) -> Marian:
    """Construct a Marian or BART model from config.json values and checkpoint tensors."""
    cfg = MarianConfig.from_hf(cfg_dict, source)
    pad = cfg_dict.get("pad_token_id", 0)
    eos = cfg_dict.get("eos_token_id", 0)
    bad = [ids[0] for ids in cfg_dict.get("bad_words_ids") or [] if len(ids) == 1]
    info = ModelInfo(
        family=cfg_dict.get("model_type", "marian"),
        vocab_size=cfg.vocab_size,
        pad_token_id=pad,
        eos_token_id=eos[0] if isinstance(eos, list) else eos,
        decoder_start_token_id=cfg_dict.get("decoder_start_token_id", pad),
        max_source_positions=cfg.max_positions,
        layers=cfg.decoder_layers,
        heads=cfg.decoder_heads,
        head_dim=cfg.d_model // cfg.decoder_heads,
        bad_token_ids=bad,
        forced_bos_token_id=cfg_dict.get("forced_bos_token_id"),
        forced_eos_token_id=cfg_dict.get("forced_eos_token_id"),
    )
    return Marian(cfg, weights, info, convert)
