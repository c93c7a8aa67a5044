"""Exact match, chrF and BLEU for validation and ``seqbot train eval``.

sacrebleu is an optional extra (``.[train]``); without it chrF comes from a small
re-implementation of the same definition (character 1..6-grams, beta 2, spaces removed) so
that training can report progress on a plain install, and BLEU is simply not reported.
"""

from __future__ import annotations

from collections import Counter


def exact_match(hypotheses: list[str], references: list[str]) -> float:
    """Share of outputs identical to the reference after stripping, in percent."""
    if not references:
        return 0.0
    same = sum(h.strip() == r.strip() for h, r in zip(hypotheses, references, strict=True))
    return 100.0 * same / len(references)


def _ngrams(text: str, n: int) -> Counter[str]:
    text = text.replace(" ", "")
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def _chrf_fallback(hypotheses: list[str], references: list[str], order: int = 6) -> float:
    """Corpus chrF as sacrebleu computes it: n-gram statistics summed over the corpus."""
    beta2 = 4.0
    precisions, recalls = [], []
    for n in range(1, order + 1):
        match = hyp_total = ref_total = 0
        for h, r in zip(hypotheses, references, strict=True):
            hyp, ref = _ngrams(h, n), _ngrams(r, n)
            match += sum((hyp & ref).values())
            hyp_total += sum(hyp.values())
            ref_total += sum(ref.values())
        if hyp_total and ref_total:
            precisions.append(match / hyp_total)
            recalls.append(match / ref_total)
    if not precisions:
        return 0.0
    p, r = sum(precisions) / len(precisions), sum(recalls) / len(recalls)
    if p + r == 0:
        return 0.0
    return 100.0 * (1 + beta2) * p * r / (beta2 * p + r)


def chrf(hypotheses: list[str], references: list[str]) -> float:
    try:
        import sacrebleu
    except ImportError:
        return _chrf_fallback(hypotheses, references)
    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def bleu(hypotheses: list[str], references: list[str]) -> float | None:
    """Corpus BLEU, or None when sacrebleu is not installed."""
    try:
        import sacrebleu
    except ImportError:
        return None
    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)
