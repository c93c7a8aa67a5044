"""The requests every engine replays, and the sizes of a full and a quick run.

Token ids map to words one to one (see ``_engine_model``), so a request can ask for an
exact source length, and CTranslate2 (which takes token strings) sees the same ids.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import _engine_model as model_files

Request = tuple[float, list[int], int]  # arrival seconds, source ids (ending with EOS), tokens
Chat = list[tuple[list[int], int]]  # one chat's requests in order: source ids, tokens
Single = tuple[list[int], int]  # the single-request latency source and its forced tokens
EOS = 1


@dataclass(frozen=True)
class Plan:
    """How much work each part of a run does; ``full`` and ``quick`` are the two used."""

    requests: int
    source_tokens: tuple[int, int]
    output_tokens: tuple[int, int]
    single_tokens: int
    drift_samples: int
    drift_new_tokens: int
    long_source: int
    long_output: int
    # chats -> requests per chat, for the closed-loop scaling points
    scaling_normal: dict[int, int] = field(default_factory=dict)
    scaling_long: dict[int, int] = field(default_factory=dict)
    drift_paths: int = 3  # the first N CPU paths this machine runs: quick checks only one

    @staticmethod
    def full() -> Plan:
        # Sized so every scaling point decodes for ~10 s or more on 2 quiet cores for the
        # faster engine (seqbot int8 measured ~4-5 ms/token single, ~500-900 tok/s with
        # 8-128 chats), with at least 2 requests per chat so each point is a closed loop.
        # CTranslate2 takes 1.5-3x as long on the same points.
        return Plan(
            requests=64,
            source_tokens=(16, 256),
            output_tokens=(8, 64),
            single_tokens=64,
            drift_samples=16,
            drift_new_tokens=32,
            long_source=512,
            long_output=64,
            scaling_normal={1: 64, 8: 16, 32: 6, 128: 2},
            scaling_long={1: 20, 8: 6, 32: 2},
        )

    @staticmethod
    def quick() -> Plan:
        return Plan(
            requests=8,
            source_tokens=(16, 64),
            output_tokens=(4, 16),
            single_tokens=16,
            drift_samples=4,
            drift_new_tokens=8,
            long_source=512,
            long_output=4,
            scaling_normal={1: 2, 4: 1},
            scaling_long={2: 1},
            drift_paths=1,
        )


def source(rng: random.Random, length: int) -> list[int]:
    """``length`` ids ending with EOS, none of them special."""
    vocab = model_files.FLAN_T5_SMALL["vocab_size"]
    return [rng.randrange(len(model_files.SPECIALS), vocab) for _ in range(length - 1)] + [EOS]


def open_loop(plan: Plan, seed: int, mean_gap: float = 0.03) -> list[Request]:
    """Requests at seeded random times (exponential gaps), the first at 0."""
    rng = random.Random(seed)
    arrival, requests = 0.0, []
    for _ in range(plan.requests):
        arrival += rng.expovariate(1 / mean_gap)
        ids = source(rng, rng.randint(*plan.source_tokens))
        requests.append((arrival, ids, rng.randint(*plan.output_tokens)))
    first = requests[0][0]
    return [(a - first, ids, n) for a, ids, n in requests]


def single(plan: Plan, seed: int) -> Single:
    """The single-request latency measurement: a 64-token source, forced output length."""
    return source(random.Random(seed + 1), 64), plan.single_tokens


def closed_loop(plan: Plan, kind: str, seed: int) -> dict[int, list[Chat]]:
    """chats -> each chat's fixed, seeded list of requests, for one scaling workload."""
    points = plan.scaling_normal if kind == "normal" else plan.scaling_long
    out: dict[int, list[Chat]] = {}
    for chats, per_chat in points.items():
        rng = random.Random(f"{seed}-{kind}-{chats}")
        out[chats] = [
            [_chat_request(plan, kind, rng) for _ in range(per_chat)] for _ in range(chats)
        ]
    return out


def _chat_request(plan: Plan, kind: str, rng: random.Random) -> tuple[list[int], int]:
    if kind == "long":
        return source(rng, plan.long_source), plan.long_output
    return source(rng, rng.randint(*plan.source_tokens)), rng.randint(*plan.output_tokens)


def token(i: int) -> str:
    """The token string CTranslate2 sees for id ``i``."""
    specials = model_files.SPECIALS
    return specials[i] if i < len(specials) else f"w{i - len(specials)}"


def token_id(tok: str) -> int:
    specials = model_files.SPECIALS
    return specials.index(tok) if tok in specials else int(tok[1:]) + len(specials)


def text(ids: list[int]) -> str:
    """Text seqbot tokenizes back to ``ids`` (its tokenizer appends the EOS again)."""
    return model_files.words(ids[:-1])


def until_special(ids: list[int]) -> list[int]:
    """Generated ids up to the first special token (EOS, pad, unk): a text round-trips."""
    cut = next((i for i, t in enumerate(ids) if t < len(model_files.SPECIALS)), len(ids))
    return list(ids[:cut])


def describe(plan: Plan, workload: list[Request]) -> dict[str, object]:
    """The workload as recorded in the JSON report."""
    return {
        "requests": len(workload),
        "mean_gap_s": 0.03,
        "source_tokens": [min(len(r[1]) for r in workload), max(len(r[1]) for r in workload)],
        "output_tokens": [min(r[2] for r in workload), max(r[2] for r in workload)],
        "single_request": {"source_tokens": 64, "new_tokens": plan.single_tokens},
        "drift": {"samples": plan.drift_samples, "max_new_tokens": plan.drift_new_tokens},
        "scaling_requests_per_chat": {
            "normal": plan.scaling_normal,
            "long": plan.scaling_long,
            "long_source_tokens": plan.long_source,
            "long_output_tokens": plan.long_output,
        },
        "max_batch": 32,
    }
