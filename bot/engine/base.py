"""What the runner needs from a model family, and the plumbing every family shares.

A family file (``t5.py``, ``marian.py``, ``m2m100.py``) holds its architecture: the
config, the embeddings, one block's order of norms and residuals (its layer's
``__call__``), the position biases and the output head. :class:`Seq2SeqModel` runs the
passes around them, which are the same for every family: splitting heads, reading and
writing the KV cache, masks.

A block is called as ``layer(x, attend, cross)``. ``attend`` takes the block's fused
Q/K/V projection and returns the attention output with heads merged; ``cross`` (decoder
blocks only) takes the cross-attention query projection and does the same against the
encoder states. So a family writes what its block computes, nanoGPT-style, and the pass
decides where K and V come from (the cache, or the whole sequence).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import torch

from .cache import KVCache, fill_cross_attention
from .errors import EngineError
from .layers import ACTIVATIONS, NEG_INF, attention, causal_bias, padding_bias
from .weights import config_value

L = TypeVar("L")
#: Applied to each layer as soon as it is built (int8: fold norms, quantize), so the
#: float32 weights of only one layer are alive at a time while a model loads.
LayerHook = Callable[[Any], Any]


def keep(layer: L) -> L:
    """The default :data:`LayerHook`: the layer as built (float32)."""
    return layer


def stacks(
    make: Callable[[str, bool], L], block: str, counts: tuple[int, int], convert: LayerHook
) -> tuple[list[L], list[L]]:
    """The encoder and decoder layers ``{stack}.{block}.{i}``, each converted once built.

    ``make(prefix, decoder)`` builds one layer from the checkpoint; ``counts`` is
    (encoder layers, decoder layers).
    """
    encoder = [convert(make(f"encoder.{block}.{i}", False)) for i in range(counts[0])]
    decoder = [convert(make(f"decoder.{block}.{i}", True)) for i in range(counts[1])]
    return encoder, decoder


@dataclass
class ModelInfo:
    """Token ids and limits read from config.json."""

    family: str
    vocab_size: int
    pad_token_id: int
    eos_token_id: int
    decoder_start_token_id: int
    max_source_positions: int | None
    layers: int
    heads: int
    head_dim: int
    bad_token_ids: list[int] = field(default_factory=list)
    forced_bos_token_id: int | None = None  # BART-style: first generated token
    forced_eos_token_id: int | None = None  # Marian/BART: last token when max_new_tokens is hit


@dataclass
class BartStyleConfig:
    """The config.json fields Marian, BART and M2M100/NLLB share, under the same names."""

    vocab_size: int
    d_model: int
    encoder_layers: int
    decoder_layers: int
    encoder_heads: int
    decoder_heads: int
    activation: str
    scale_embedding: bool
    max_positions: int

    @staticmethod
    def fields(
        cfg: dict[str, Any], source: str, *, activation: str, scale: bool, positions: int
    ) -> dict[str, Any]:
        """These fields from ``cfg``; the keywords are the family's defaults for the last three."""
        act = cfg.get("activation_function", activation)
        if act not in ACTIVATIONS:
            raise EngineError(f"{source}: activation_function {act!r} is not supported")
        return dict(
            vocab_size=config_value(cfg, "vocab_size", source),
            d_model=config_value(cfg, "d_model", source),
            encoder_layers=config_value(cfg, "encoder_layers", source),
            decoder_layers=config_value(cfg, "decoder_layers", source),
            encoder_heads=config_value(cfg, "encoder_attention_heads", source),
            decoder_heads=config_value(cfg, "decoder_attention_heads", source),
            activation=act,
            scale_embedding=bool(cfg.get("scale_embedding", scale)),
            max_positions=cfg.get("max_position_embeddings", positions),
        )

    def info(
        self, cfg: dict[str, Any], family: str, pad: int, eos: int | list[int], start: int
    ) -> ModelInfo:
        """The model's :class:`ModelInfo`, with the decoding constraints ``cfg`` sets."""
        return ModelInfo(
            family=family,
            vocab_size=self.vocab_size,
            pad_token_id=pad,
            eos_token_id=first_id(eos),
            decoder_start_token_id=start,
            max_source_positions=self.max_positions,
            layers=self.decoder_layers,
            heads=self.decoder_heads,
            head_dim=self.d_model // self.decoder_heads,
            bad_token_ids=[ids[0] for ids in cfg.get("bad_words_ids") or [] if len(ids) == 1],
            forced_bos_token_id=cfg.get("forced_bos_token_id"),
            forced_eos_token_id=cfg.get("forced_eos_token_id"),
        )


def first_id(value: int | list[int]) -> int:
    """A config token id that may be a list (several EOS ids): the first one."""
    return value[0] if isinstance(value, list) else value


class Seq2SeqModel:
    """The four passes the runner calls, all under ``torch.inference_mode``.

    A family sets the attributes below and implements the hooks (``embed_*``,
    ``logits``, and the biases where its positions are not just a causal mask).
    """

    info: ModelInfo
    encoder: list[Any]
    decoder: list[Any]
    heads: int  # decoder attention heads, their size, and the softmax scale
    dk: int
    scale: float
    enc_heads: int  # the same for the encoder
    enc_dk: int
    enc_scale: float

    def set_heads(self, d_model: int, encoder_heads: int, decoder_heads: int) -> None:
        """Heads of ``d_model / heads`` each, softmax scaled by ``1 / sqrt(head size)``."""
        self.heads, self.enc_heads = decoder_heads, encoder_heads
        self.dk, self.enc_dk = d_model // decoder_heads, d_model // encoder_heads
        self.scale, self.enc_scale = self.dk**-0.5, self.enc_dk**-0.5

    # -- what a family provides ------------------------------------------------------
    def embed_source(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed_step(self, tokens: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """``[n]`` tokens, each at its own decoder position -> ``[n, D]``."""
        raise NotImplementedError

    def embed_target(self, ids: torch.Tensor) -> torch.Tensor:
        """``[B, T]`` whole (padded) targets from position 0 -> ``[B, T, D]``."""
        raise NotImplementedError

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def encoder_out(self, x: torch.Tensor) -> torch.Tensor:
        """The last encoder layer's output -> encoder states (a final norm, if any)."""
        return x

    def source_bias(self, lengths: torch.Tensor, width: int) -> torch.Tensor:
        return padding_bias(lengths, width)

    def step_bias(self, positions: torch.Tensor, length: int) -> torch.Tensor:
        """``[n, 1, 1, length]``: each row sees cache positions up to its own."""
        hidden = torch.arange(length)[None, :] > positions[:, None]
        return torch.zeros(positions.shape[0], length).masked_fill_(hidden, NEG_INF)[
            :, None, None, :
        ]

    def target_bias(self, length: int) -> torch.Tensor:
        return causal_bias(length)

    # -- the passes --------------------------------------------------------------------
    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[B, S]`` padded source ids -> ``[B, S, D]`` encoder states."""
        b, s = ids.shape
        heads, dk, scale = self.enc_heads, self.enc_dk, self.enc_scale
        bias = self.source_bias(lengths, s)

        def attend(qkv: torch.Tensor) -> torch.Tensor:
            q, k, v = qkv.view(b, s, 3, heads, dk).permute(2, 0, 3, 1, 4)
            return attention(q, k, v, bias, scale).transpose(1, 2).reshape(b, s, -1)

        x = self.embed_source(ids)
        for layer in self.encoder:
            x = layer(x, attend)
        return self.encoder_out(x)

    def fill_cross(
        self, cache: KVCache, rows: torch.Tensor, hidden: torch.Tensor, lengths: torch.Tensor
    ) -> None:
        """Project encoder states to each layer's cross-attention K/V in the given rows."""
        fill_cross_attention(self.decoder, self.heads, self.dk, cache, rows, hidden, lengths)

    def decode_step(
        self, cache: KVCache, tokens: torch.Tensor, positions: torch.Tensor, self_len: int
    ) -> torch.Tensor:
        """One token for each of the first ``n`` rows -> ``[n, V]`` float32 logits.

        Row ``i`` is fed ``tokens[i]`` at ``positions[i]``; its K/V are written there,
        and it attends over cache positions ``0..positions[i]`` (``self_len`` bounds all).
        """
        n, heads, dk, scale = tokens.shape[0], self.heads, self.dk, self.scale
        bias = self.step_bias(positions, self_len)
        cross = cache.cross_attention(n)
        index = cache.write_index(positions)
        keys, values = cache.self_views(n, self_len)

        def attend(i: int, qkv: torch.Tensor) -> torch.Tensor:
            q, k, v = qkv.view(n, 3, heads, dk).unbind(1)
            cache.write(i, index, k, v)
            return attention(q.unsqueeze(2), keys[i], values[i], bias, scale).view(n, -1)

        def attend_cross(i: int, q: torch.Tensor) -> torch.Tensor:
            return cross(i, q.view(n, heads, 1, dk), scale).view(n, -1)

        x = self.embed_step(tokens, positions)
        for i, layer in enumerate(self.decoder):
            x = layer(x, partial(attend, i), partial(attend_cross, i))
        return self.logits(x)

    def decode_full(
        self, hidden: torch.Tensor, source_lengths: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        """Teacher-forced ``[B, T]`` decoder ids -> ``[B, T, V]`` logits (for scoring)."""
        b, t = ids.shape
        s = hidden.shape[1]
        heads, dk, scale = self.heads, self.dk, self.scale
        self_bias, cross_bias = self.target_bias(t), padding_bias(source_lengths, s)

        def attend(qkv: torch.Tensor) -> torch.Tensor:
            q, k, v = qkv.view(b, t, 3, heads, dk).permute(2, 0, 3, 1, 4)
            return attention(q, k, v, self_bias, scale).transpose(1, 2).reshape(b, t, -1)

        def attend_cross(layer: Any, q: torch.Tensor) -> torch.Tensor:
            q = q.view(b, t, heads, dk).transpose(1, 2)
            k, v = layer.cross_kv(hidden).view(b, s, 2, heads, dk).permute(2, 0, 3, 1, 4)
            return attention(q, k, v, cross_bias, scale).transpose(1, 2).reshape(b, t, -1)

        x = self.embed_target(ids)
        for layer in self.decoder:
            x = layer(x, attend, partial(attend_cross, layer))
        return self.logits(x)
