"""BLEU (Papineni, Roukos, Ward & Zhu 2002, "BLEU: a Method for Automatic Evaluation of Machine
Translation"), on already-tokenised input (lists of tokens), without smoothing.

Scores are in [0, 1] as in the paper; sacreBLEU and minilm.metrics.bleu report 100 times that.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]


def ngrams(tokens: Tokens, n: int) -> Counter:
    """How often each n-gram (a tuple of n tokens) occurs in ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


# §2.1: modified n-gram precision.  Each hypothesis n-gram counts at most as often as it occurs in the
# reference that has it most often ("clipped"):
#   matches = sum_g min(count_hyp(g), max_ref count_ref(g)),   total = sum_g count_hyp(g)
def modified_precision(hyp: Tokens, refs: Sequence[Tokens], n: int) -> tuple[int, int]:
    """(clipped matches, hypothesis n-grams) of one hypothesis against its references."""
    max_ref = Counter()
    for ref in refs:
        max_ref |= ngrams(ref, n)  # | keeps the larger count of each n-gram
    counts = ngrams(hyp, n)
    return sum(min(c, max_ref[g]) for g, c in counts.items()), sum(counts.values())


# §2.2.2: the effective reference length of a hypothesis is that of its closest reference
# (ties go to the shorter one, as in mteval and sacreBLEU).
def closest_ref_length(hyp: Tokens, refs: Sequence[Tokens]) -> int:
    return min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]


# §2.2.2: BP = 1 if c > r else exp(1 - r / c), c = hypothesis length, r = effective reference length
# (both summed over the corpus); BP = 0 for an empty hypothesis.
def brevity_penalty(c: int, r: int) -> float:
    if c > r:
        return 1.0
    return math.exp(1 - r / c) if c > 0 else 0.0


# §2.3:  BLEU = BP exp( sum_{n=1..N} (1/N) log p_n ),  p_n = sum_s matches_n(s) / sum_s total_n(s):
# counts are pooled over the corpus before dividing.  Any p_n = 0 makes BLEU 0.
def corpus_bleu(hyps: Sequence[Tokens], refs: Sequence[Sequence[Tokens]], max_n: int = 4) -> float:
    """``hyps[s]`` a token list, ``refs[s]`` the list of its reference token lists."""
    c = sum(len(h) for h in hyps)
    r = sum(closest_ref_length(h, rs) for h, rs in zip(hyps, refs, strict=True))
    log_p = 0.0
    for n in range(1, max_n + 1):
        stats = [modified_precision(h, rs, n) for h, rs in zip(hyps, refs, strict=True)]
        matches, total = sum(m for m, _ in stats), sum(t for _, t in stats)
        if matches == 0:
            return 0.0
        log_p += math.log(matches / total) / max_n
    return brevity_penalty(c, r) * math.exp(log_p)
