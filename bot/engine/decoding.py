"""Decoding strategies: how each request turns its rows' logits into next tokens.

A request owns one row (greedy, sampling) or ``num_beams`` rows (beam search). The
runner hands each strategy the ``[rows, V]`` logits of its rows; the strategy returns
the next tokens, which parent row each new row continues (beam search reorders), and
whether the request is finished. Processors follow transformers' order (repetition
penalty, no-repeat n-gram, banned tokens, min new tokens; then temperature, top-k,
top-p) so greedy and beam outputs match it token for token.

Plain greedy rows skip all of that: :func:`shared_argmax` picks their tokens for the
whole batch in one op. Both paths apply the same :class:`TokenRules` (banned tokens,
no EOS before ``min_new_tokens``, forced first and last tokens), defined once there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .options import FinishReason, GenerationOptions

NEG_INF = float("-inf")
ALL_ROWS = slice(None)


@dataclass
class Step:
    tokens: list[int]
    parents: list[int] | None  # row i continues the sequence of row parents[i]
    done: bool


@dataclass(frozen=True)
class TokenRules:
    """The rules every step obeys, in one place: banned tokens (:meth:`ban`), no EOS before
    ``min_new_tokens`` (:meth:`blocks_eos`), forced first and last tokens (:meth:`forced`).

    Both paths apply them: :func:`process` for a request that picks from its own logits,
    :func:`shared_argmax` for all plain greedy rows at once. The constants are the
    model's; each strategy holds its own rules (``strategy.rules``): a translation request to a
    multilingual model gets a copy whose ``forced_bos`` is its target-language token
    (``dataclasses.replace``), so requests to different languages share one batch.
    """

    eos: int
    start: int
    banned: list[int]
    forced_bos: int | None = None
    forced_eos: int | None = None

    def forced(self, generated: int, opts: GenerationOptions) -> int | None:
        """The token this step must produce, if the config or the request forces one."""
        if generated == 0 and self.forced_bos is not None:
            return self.forced_bos
        if generated == opts.max_new_tokens - 1 and self.forced_eos is not None:
            return self.forced_eos
        return None

    @staticmethod
    def blocks_eos(generated: int, opts: GenerationOptions) -> bool:
        """True until ``min_new_tokens`` are out: the sequence may not end yet."""
        return generated < opts.min_new_tokens

    def ban(self, scores: torch.Tensor, eos_rows: list[int] | slice) -> None:
        """Mask in place what no step may produce: the banned tokens in every row of
        ``scores``, and EOS in ``eos_rows`` (those :meth:`blocks_eos` holds for)."""
        if self.banned:
            scores[:, self.banned] = NEG_INF
        if eos_rows:
            scores[eos_rows, self.eos] = NEG_INF


def process(
    scores: torch.Tensor,
    histories: list[list[int]],
    generated: int,
    opts: GenerationOptions,
    rules: TokenRules,
) -> torch.Tensor:
    """Apply the logit processors in place; ``histories`` include the decoder start token."""
    if opts.repetition_penalty != 1.0:
        for row, history in enumerate(histories):
            idx = torch.tensor(history)
            seen = scores[row].gather(0, idx)
            seen = torch.where(
                seen < 0, seen * opts.repetition_penalty, seen / opts.repetition_penalty
            )
            scores[row].scatter_(0, idx, seen)
    n = opts.no_repeat_ngram_size
    if n > 0:
        for row, history in enumerate(histories):
            banned = _ngram_bans(history, n)
            if banned:
                scores[row, list(banned)] = NEG_INF
    rules.ban(scores, ALL_ROWS if rules.blocks_eos(generated, opts) else [])
    forced = rules.forced(generated, opts)
    if forced is not None:
        scores[:] = NEG_INF
        scores[:, forced] = 0.0
    return scores


def shared_argmax(
    logits: torch.Tensor, requests: Sequence[tuple[Strategy, list[int]]], rules: TokenRules
) -> list[int]:
    """The greedy token of every row of ``logits`` in one op, with the token rules applied.

    ``requests`` pairs each live request's strategy with its rows; ``rules`` are the
    model's (requests differ only in their forced token, taken from each strategy's own
    rules: a target language forces the first token). Strategies that need their own
    logits (beams, sampling, processors) read ``logits`` afterwards, so it is masked in
    place only when none does: the hot batched-greedy path copies nothing.
    """
    plain = all(not strategy.needs_own_logits for strategy, _ in requests)
    masked = logits if plain else logits.clone()
    early = [row for s, rows in requests if rules.blocks_eos(s.generated, s.opts) for row in rows]
    rules.ban(masked, early)
    tokens = masked.argmax(-1).tolist()
    for strategy, rows in requests:
        forced = strategy.rules.forced(strategy.generated, strategy.opts)
        if forced is not None:
            for row in rows:
                tokens[row] = forced
    return tokens


def _ngram_bans(history: list[int], n: int) -> set[int]:
    if len(history) + 1 < n:
        return set()
    prefix = tuple(history[len(history) - n + 1 :]) if n > 1 else ()
    return {
        history[i + n - 1]
        for i in range(len(history) - n + 1)
        if tuple(history[i : i + n - 1]) == prefix
    }


def warp(scores: torch.Tensor, opts: GenerationOptions) -> torch.Tensor:
    """Sampling warpers: temperature, top-k, top-p (nucleus)."""
    if opts.temperature != 1.0:
        scores = scores / opts.temperature
    if opts.top_k > 0:
        k = min(opts.top_k, scores.shape[-1])
        kth = torch.topk(scores, k).values[..., -1:]
        scores = scores.masked_fill(scores < kth, NEG_INF)
    if opts.top_p < 1.0:
        ordered, order = torch.sort(scores, descending=False)
        cumulative = ordered.softmax(-1).cumsum(-1)
        drop = cumulative <= 1 - opts.top_p
        drop[..., -1] = False
        scores = scores.masked_fill(drop.scatter(-1, order, drop), NEG_INF)
    return scores


class Strategy:
    """Per-request decoding state; subclasses implement :meth:`select`."""

    rows: int = 1

    def __init__(self, opts: GenerationOptions, rules: TokenRules) -> None:
        self.opts, self.rules = opts, rules
        self.generated = 0

    @property
    def needs_own_logits(self) -> bool:
        """False when :func:`shared_argmax` already gives this request's token."""
        return True

    def select(self, logits: torch.Tensor, argmax: list[int]) -> Step:
        raise NotImplementedError

    def result(self) -> tuple[list[int], FinishReason]:
        raise NotImplementedError


class Greedy(Strategy):
    """Argmax or sampling for one row."""

    def __init__(self, opts: GenerationOptions, rules: TokenRules) -> None:
        super().__init__(opts, rules)
        self.history = [rules.start]
        self.finish: FinishReason = "length"
        self._generator: torch.Generator | None = None
        if opts.do_sample:
            self._generator = torch.Generator()
            if opts.seed is not None:
                self._generator.manual_seed(opts.seed)
            else:
                self._generator.seed()

    @property
    def needs_own_logits(self) -> bool:
        return not self.opts.plain_greedy

    def select(self, logits: torch.Tensor, argmax: list[int]) -> Step:
        if self.needs_own_logits:
            scores = process(
                logits.float().clone(), [self.history], self.generated, self.opts, self.rules
            )
            if self.opts.do_sample:
                probs = warp(scores, self.opts).softmax(-1)
                token = int(torch.multinomial(probs, 1, generator=self._generator)[0, 0])
            else:
                token = int(scores[0].argmax())
        else:
            token = argmax[0]
        self.generated += 1
        self.history.append(token)
        done = token == self.rules.eos or self.generated >= self.opts.max_new_tokens
        if token == self.rules.eos:
            self.finish = "eos"
        return Step([token], None, done)

    def result(self) -> tuple[list[int], FinishReason]:
        ids = self.history[1:]
        if self.finish == "eos":
            ids = ids[:-1]
        return ids, self.finish


class BeamSearch(Strategy):
    """transformers' vectorised beam search for one request (batch of 1), same tie-breaking."""

    def __init__(self, opts: GenerationOptions, rules: TokenRules) -> None:
        super().__init__(opts, rules)
        b = self.rows = opts.num_beams
        self.running: list[list[int]] = [[rules.start] for _ in range(b)]
        self.running_scores = torch.full((1, b), -1e9)
        self.running_scores[0, 0] = 0.0
        self.finished: list[list[int]] = [[] for _ in range(b)]
        self.finished_scores = torch.full((1, b), -1e9)
        self.is_finished = torch.zeros((1, b), dtype=torch.bool)
        self.open_heuristic = torch.ones((1, 1), dtype=torch.bool)
        self.top_mask = torch.cat(
            [torch.ones(b, dtype=torch.bool), torch.zeros(b, dtype=torch.bool)]
        )

    def select(self, logits: torch.Tensor, argmax: list[int]) -> Step:
        b, vocab = logits.shape
        opts = self.opts
        cur_len = self.generated + 1  # transformers counts the decoder start token
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        log_probs = process(log_probs, self.running, self.generated, opts, self.rules)
        log_probs = (log_probs + self.running_scores[0, :, None]).reshape(1, b * vocab)
        top_lp, top_idx = torch.topk(log_probs, k=2 * b)
        parents = (top_idx // vocab)[0].tolist()
        tokens = (top_idx % vocab)[0].tolist()
        at_limit = self.generated + 1 >= opts.max_new_tokens
        hits = torch.tensor([[at_limit or t == self.rules.eos for t in tokens]])
        candidates = [self.running[p] + [t] for p, t in zip(parents, tokens, strict=True)]

        # Running beams: best b candidates that did not finish.
        keep = torch.topk(top_lp + hits.float() * -1e9, k=b)[1][0].tolist()
        self.running = [candidates[i] for i in keep]
        self.running_scores = (top_lp + hits.float() * -1e9)[:, keep]

        # Finished hypotheses: merge new EOS/limit hits among the top b with the kept ones.
        just_done = hits & self.top_mask[None, :]
        scored = top_lp / ((cur_len + 1 - 1) ** opts.length_penalty)
        full = torch.all(self.is_finished, dim=-1, keepdim=True) & opts.early_stopping
        scored = scored + full.float() * -1e9 + (~self.open_heuristic).float() * -1e9
        scored = scored + (~just_done) * -1e9
        merged_scores = torch.cat([self.finished_scores, scored], dim=1)
        merged_done = torch.cat([self.is_finished, just_done], dim=1)
        merged = self.finished + candidates
        best = torch.topk(merged_scores, k=b)[1][0].tolist()
        self.finished = [merged[i] for i in best]
        self.finished_scores = merged_scores[:, best]
        self.is_finished = merged_done[:, best]

        self.generated += 1
        best_running = self.running_scores[:, :1] / (self.generated**opts.length_penalty)
        worst_done = torch.where(
            self.is_finished, torch.min(self.finished_scores, dim=1, keepdim=True)[0], -1.0e9
        )
        self.open_heuristic = self.open_heuristic & torch.any(
            best_running > worst_done, dim=-1, keepdim=True
        )
        open_beam = not (bool(self.is_finished.all()) and opts.early_stopping)
        done = not (bool(self.open_heuristic.any()) and open_beam and not bool(hits.all()))
        return Step([seq[-1] for seq in self.running], [parents[i] for i in keep], done)

    def result(self) -> tuple[list[int], FinishReason]:
        ids = self.finished[0][1:]
        if ids and ids[-1] == self.rules.eos:
            return ids[:-1], "eos"
        return ids, "length"


def strategy_for(opts: GenerationOptions, rules: TokenRules) -> Strategy:
    return BeamSearch(opts, rules) if opts.num_beams > 1 else Greedy(opts, rules)
