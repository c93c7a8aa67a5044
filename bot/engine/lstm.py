"""The seed's model: embedding, bidirectional LSTM encoder, LSTM decoder with attention.

One file used for training (``LSTMSeq2Seq.forward``, teacher forcing) and serving
(:class:`LSTMFamily`, the engine's :class:`~.base.Seq2SeqModel` for ``seqbot-lstm``).
Shapes: B batch, S source length, T target length, E embed_dim, H hidden_dim, N layers.

- **Encoder.** ``embed(source) [B,S,E]`` -> bidirectional LSTM -> outputs ``[B,S,2H]``
  (forward and backward halves) and final states ``h_n, c_n [2N,B,H]``. The **bridge**
  maps each layer's two directions ``[h_fwd; h_bwd]`` to the decoder's initial
  ``h0 = tanh(W_h [..])`` and ``c0 = W_c [..]`` (``[N,B,H]``).
- **Attention memory.** Keys ``K = W_k out`` and values ``V = W_v out`` (``[B,S,H]``),
  computed once per source, as a Transformer's cross-attention K/V.
- **Decoder step.** ``x = [embed(y_prev); feed]`` -> LSTM (N layers) -> top state
  ``h_t [B,H]``; scores over the source: additive (Bahdanau) ``v . tanh(W_q h_t + K_j)``
  or multiplicative (Luong) ``h_t . K_j``; ``context = softmax(scores) V``; the attentional
  state ``feed = tanh(W_c [context; h_t])`` gives ``logits = W_o feed``, and with input
  feeding it is also the next step's ``feed`` (Luong et al. 2015).

Teacher forcing runs the same ``step`` once per target position, so training and the
engine compute the same function.

**In the engine's KV cache** (no change to the runner: it already moves every row's K/V
on compaction and beam reorder). The cache is built with ``N + 1`` layers, 1 head of
size H:

- ``self_k[l, row, 0, p]`` / ``self_v[l, row, 0, p]``: layer ``l``'s ``h`` / ``c`` after
  the token at decoder position ``p``; ``self_k[N, row, 0, p]``: that step's ``feed``.
  A step at position ``p`` reads slot ``p - 1`` and writes slot ``p``; beam reorder and
  compaction copy slots ``0..position-1``, so the newest state always moves with its row.
- ``cross_k[0]`` / ``cross_v[0]``: attention keys / values per source position.
  ``cross_k[1 + l, row, 0, 0]`` / ``cross_v[1 + l, row, 0, 0]``: the bridge's initial
  ``h0`` / ``c0`` of layer ``l``, read at position 0 (the cross cache is copied on
  compaction up to the source length, which is at least 1).

int8 mode keeps this family in float32 (its weights are torch modules, not the engine's
``Linear`` layers, so the quantizer finds nothing to convert).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .base import LayerHook, ModelInfo, Seq2SeqModel, keep
from .cache import KVCache
from .errors import EngineError
from .weights import Weights

MODEL_TYPE = "seqbot-lstm"
State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [N, B, H]


@dataclass
class LSTMConfig:
    """The model's shape and special tokens; config.json with ``"model_type": "seqbot-lstm"``."""

    vocab_size: int
    embed_dim: int = 256
    hidden_dim: int = 256
    num_layers: int = 1
    attention: Literal["bahdanau", "luong"] = "bahdanau"
    dropout: float = 0.1
    input_feeding: bool = True
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 2
    max_source_positions: int | None = None

    @classmethod
    def from_dict(cls, cfg: dict[str, Any], source: str = "config.json") -> LSTMConfig:
        """Known fields of ``cfg`` (others, such as ``model_type``, are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            config = cls(**{k: v for k, v in cfg.items() if k in names})
        except TypeError as exc:
            raise EngineError(f"{source}: {exc}") from None
        if config.attention not in ("bahdanau", "luong"):
            raise EngineError(f"{source}: attention must be 'bahdanau' or 'luong'")
        return config

    def to_dict(self) -> dict[str, Any]:
        return {"model_type": MODEL_TYPE, **dataclasses.asdict(self)}


class LSTMSeq2Seq(nn.Module):
    """Bidirectional LSTM encoder, bridged into an LSTM decoder with attention."""

    def __init__(self, cfg: LSTMConfig) -> None:
        super().__init__()
        self.cfg = cfg
        e, h, n = cfg.embed_dim, cfg.hidden_dim, cfg.num_layers
        between = cfg.dropout if n > 1 else 0.0  # nn.LSTM drops out between layers only
        self.embed = nn.Embedding(cfg.vocab_size, e, padding_idx=cfg.pad_token_id)
        self.encoder = nn.LSTM(e, h, n, batch_first=True, bidirectional=True, dropout=between)
        self.bridge_h = nn.Linear(2 * h, h)
        self.bridge_c = nn.Linear(2 * h, h)
        self.attn_k = nn.Linear(2 * h, h, bias=False)
        self.attn_v = nn.Linear(2 * h, h, bias=False)
        if cfg.attention == "bahdanau":
            self.attn_q = nn.Linear(h, h)
            self.attn_score = nn.Linear(h, 1, bias=False)
        feed = h if cfg.input_feeding else 0
        self.decoder = nn.LSTM(e + feed, h, n, batch_first=True, dropout=between)
        self.combine = nn.Linear(2 * h, h)
        self.out = nn.Linear(h, cfg.vocab_size)
        self.drop = nn.Dropout(cfg.dropout)

    # -- encoder ---------------------------------------------------------------------------
    def encode(self, source_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, State]:
        """``[B,S]`` ids -> outputs ``[B,S,2H]`` (zeros past each length), initial state.

        Packing makes the backward direction start at each row's last real token, so a
        row's result does not depend on how far it was padded.
        """
        x = self.drop(self.embed(source_ids))
        packed = pack_padded_sequence(
            x, lengths.cpu().clamp(min=1), batch_first=True, enforce_sorted=False
        )
        out, (h_n, c_n) = self.encoder(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=source_ids.shape[1])
        return out, self.bridge(h_n, c_n)

    def bridge(self, h_n: torch.Tensor, c_n: torch.Tensor) -> State:
        """``[2N,B,H]`` final states (layer-major, forward then backward) -> ``[N,B,H]`` each."""
        n, b = self.cfg.num_layers, h_n.shape[1]

        def both(s: torch.Tensor) -> torch.Tensor:
            return s.view(n, 2, b, -1).permute(0, 2, 1, 3).reshape(n, b, -1)

        return torch.tanh(self.bridge_h(both(h_n))), self.bridge_c(both(c_n))

    def memory(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Attention keys and values ``[B,S,H]`` of the encoder outputs."""
        return self.attn_k(outputs), self.attn_v(outputs)

    # -- decoder ---------------------------------------------------------------------------
    def attend(
        self, h: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Top decoder state ``[B,H]`` -> context ``[B,H]``; ``mask [B,S]`` is True on tokens."""
        if self.cfg.attention == "bahdanau":
            scores = self.attn_score(torch.tanh(self.attn_q(h)[:, None, :] + keys))[..., 0]
        else:
            scores = torch.einsum("bh,bsh->bs", h, keys)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
        return torch.einsum("bs,bsh->bh", weights, values)

    def step(
        self,
        tokens: torch.Tensor,
        feed: torch.Tensor,
        state: State,
        memory: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, State]:
        """One decoder step for ``[B]`` tokens -> logits ``[B,V]``, the new feed and state."""
        x = self.drop(self.embed(tokens))
        if self.cfg.input_feeding:
            x = torch.cat([x, feed], dim=-1)
        out, state = self.decoder(x[:, None, :], state)
        h = out[:, 0]
        context = self.attend(h, memory[0], memory[1], mask)
        feed = torch.tanh(self.combine(torch.cat([context, h], dim=-1)))
        return self.out(self.drop(feed)), feed, state

    def decode(
        self,
        decoder_input_ids: torch.Tensor,
        memory: tuple[torch.Tensor, torch.Tensor],
        mask: torch.Tensor,
        state: State,
    ) -> torch.Tensor:
        """Teacher forcing: ``[B,T]`` decoder inputs -> ``[B,T,V]`` logits, step by step."""
        feed = memory[1].new_zeros(decoder_input_ids.shape[0], self.cfg.hidden_dim)
        logits = []
        for t in range(decoder_input_ids.shape[1]):
            step_logits, feed, state = self.step(decoder_input_ids[:, t], feed, state, memory, mask)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    def forward(
        self, source_ids: torch.Tensor, source_mask: torch.Tensor, decoder_input_ids: torch.Tensor
    ) -> torch.Tensor:
        """Training: ``[B,S]`` sources, their mask, ``[B,T]`` decoder inputs -> ``[B,T,V]``."""
        mask = source_mask.bool()
        outputs, state = self.encode(source_ids, mask.sum(dim=1))
        return self.decode(decoder_input_ids, self.memory(outputs), mask, state)

    @torch.no_grad()
    def greedy(
        self, source_ids: torch.Tensor, source_mask: torch.Tensor, max_new_tokens: int
    ) -> list[list[int]]:
        """Batched greedy decoding, one step per token (validation; no EOS in the result).

        Carries the state forward instead of re-running ``forward`` over the prefix, so
        it costs one decoder step per token, as the engine does. Call it in eval mode
        (dropout would otherwise apply).
        """
        cfg, mask = self.cfg, source_mask.bool()
        outputs, state = self.encode(source_ids, mask.sum(dim=1))
        memory = self.memory(outputs)
        b = source_ids.shape[0]
        device = source_ids.device
        tokens = torch.full((b,), cfg.decoder_start_token_id, dtype=torch.long, device=device)
        feed = memory[1].new_zeros(b, cfg.hidden_dim)
        done = torch.zeros(b, dtype=torch.bool, device=device)
        rows: list[list[int]] = [[] for _ in range(b)]
        for _ in range(max_new_tokens):
            logits, feed, state = self.step(tokens, feed, state, memory, mask)
            tokens = logits.argmax(-1)
            done |= tokens == cfg.eos_token_id
            for i in (~done).nonzero()[:, 0].tolist():
                rows[i].append(int(tokens[i]))
            if bool(done.all()):
                break
        return rows

    # -- files -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        """config.json and model.safetensors (the trainer adds tokenizer.json)."""
        from safetensors.torch import save_file

        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(self.cfg.to_dict(), indent=2) + "\n")
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}
        save_file(tensors, str(path / "model.safetensors"), metadata={"format": "pt"})

    @classmethod
    def load(cls, directory: str | Path) -> LSTMSeq2Seq:
        """A model saved by :meth:`save`, in eval mode."""
        from safetensors.torch import load_file

        path = Path(directory)
        cfg = LSTMConfig.from_dict(json.loads((path / "config.json").read_text()))
        model = cls(cfg)
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        return model.eval()


class LSTMFamily(Seq2SeqModel):
    """Serves an :class:`LSTMSeq2Seq` through the engine's passes (cache layout: module doc).

    ``encode`` returns one tensor per source, as the runner moves it around by batch
    row: the encoder outputs ``[B,S,2H]`` followed by ``N`` positions holding each
    layer's initial ``[h0; c0]`` (also 2H wide), so ``[B, S + N, 2H]``.
    """

    def __init__(self, net: LSTMSeq2Seq) -> None:
        cfg = net.cfg
        self.net = net.eval()
        self.layers = cfg.num_layers
        self.encoder, self.decoder = [], []
        self.info = ModelInfo(
            family=MODEL_TYPE,
            vocab_size=cfg.vocab_size,
            pad_token_id=cfg.pad_token_id,
            eos_token_id=cfg.eos_token_id,
            decoder_start_token_id=cfg.decoder_start_token_id,
            max_source_positions=cfg.max_source_positions,
            layers=cfg.num_layers + 1,
            heads=1,
            head_dim=cfg.hidden_dim,
        )

    def _split(self, hidden: torch.Tensor) -> tuple[torch.Tensor, State]:
        """``encode``'s packed tensor -> encoder outputs and initial state ``[N,B,H]``."""
        outputs, states = hidden[:, : -self.layers], hidden[:, -self.layers :]
        h0, c0 = states.transpose(0, 1).chunk(2, dim=-1)
        return outputs, (h0.contiguous(), c0.contiguous())

    def encode(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        outputs, (h0, c0) = self.net.encode(ids, lengths)
        return torch.cat([outputs, torch.cat([h0, c0], dim=-1).transpose(0, 1)], dim=1)

    def fill_cross(
        self, cache: KVCache, rows: torch.Tensor, hidden: torch.Tensor, lengths: torch.Tensor
    ) -> None:
        """Attention keys/values into cross layer 0, the initial state into layers 1..N."""
        outputs, (h0, c0) = self._split(hidden)
        keys, values = self.net.memory(outputs)
        width = keys.shape[1]
        cache.cross_k[0, rows, 0, :width] = keys
        cache.cross_v[0, rows, 0, :width] = values
        cache.cross_k[1:, rows, 0, 0] = h0
        cache.cross_v[1:, rows, 0, 0] = c0
        cache.source_len[rows] = lengths.clamp(min=1)

    def _previous(self, cache: KVCache, positions: torch.Tensor) -> tuple[torch.Tensor, State]:
        """Each row's feed and state before this step: slot ``p - 1``, or the bridge's at 0."""
        n, layers = positions.shape[0], self.layers
        rows, slot = torch.arange(n), (positions - 1).clamp(min=0)
        first = (positions == 0)[None, :, None]
        h = torch.where(first, cache.cross_k[1:, :n, 0, 0], cache.self_k[:layers, rows, 0, slot])
        c = torch.where(first, cache.cross_v[1:, :n, 0, 0], cache.self_v[:layers, rows, 0, slot])
        feed = cache.self_k[layers, rows, 0, slot].masked_fill(first[0], 0.0)
        return feed, (h.contiguous(), c.contiguous())

    def decode_step(
        self, cache: KVCache, tokens: torch.Tensor, positions: torch.Tensor, self_len: int
    ) -> torch.Tensor:
        """One step for the first ``n`` rows; the new state is written at each position."""
        n, layers = tokens.shape[0], self.layers
        lengths = cache.source_len[:n]
        width = max(1, int(lengths.max()))
        memory = (cache.cross_k[0, :n, 0, :width], cache.cross_v[0, :n, 0, :width])
        mask = torch.arange(width)[None, :] < lengths[:, None]
        feed, state = self._previous(cache, positions)
        logits, feed, (h, c) = self.net.step(tokens, feed, state, memory, mask)
        rows = torch.arange(n)
        cache.self_k[:layers, rows, 0, positions] = h
        cache.self_v[:layers, rows, 0, positions] = c
        cache.self_k[layers, rows, 0, positions] = feed
        return logits.float()

    def decode_full(
        self, hidden: torch.Tensor, source_lengths: torch.Tensor, ids: torch.Tensor
    ) -> torch.Tensor:
        outputs, state = self._split(hidden)
        mask = torch.arange(outputs.shape[1])[None, :] < source_lengths[:, None]
        return self.net.decode(ids, self.net.memory(outputs), mask, state)


def build(
    cfg_dict: dict[str, Any], weights: Weights, source: str, convert: LayerHook = keep
) -> LSTMFamily:
    """The engine's model for a ``seqbot-lstm`` directory (``convert`` is not applied: float32)."""
    net = LSTMSeq2Seq(LSTMConfig.from_dict(cfg_dict, f"{source}/config.json"))
    names = list(net.state_dict())
    missing = [k for k in names if not weights.has(k)]
    if missing:
        raise EngineError(f"{source}: weights missing from the checkpoint: {missing[:5]}")
    net.load_state_dict({k: weights.get(k) for k in names})
    return LSTMFamily(net)
