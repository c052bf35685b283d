"""ROUGE-N and ROUGE-L (Lin 2004, "ROUGE: A Package for Automatic Evaluation of Summaries"), on
already-tokenised input.  Each returns (precision, recall, F1), F1 = 2 P R / (P + R), 0 when P + R = 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]


def _prf(overlap: int, n_prediction: int, n_target: int) -> tuple[float, float, float]:
    p = overlap / n_prediction if n_prediction else 0.0
    r = overlap / n_target if n_target else 0.0
    return p, r, (2 * p * r / (p + r) if p + r > 0 else 0.0)


# §2, eq. (1):  ROUGE-N recall = sum_g Count_match(g) / sum_g Count_target(g) over n-grams g, with
# Count_match(g) = min(Count_target(g), Count_prediction(g)); precision divides by the prediction's n-grams.
def rouge_n(target: Tokens, prediction: Tokens, n: int) -> tuple[float, float, float]:
    t = Counter(tuple(target[i : i + n]) for i in range(len(target) - n + 1))
    p = Counter(tuple(prediction[i : i + n]) for i in range(len(prediction) - n + 1))
    overlap = sum(min(count, p[g]) for g, count in t.items())
    return _prf(overlap, sum(p.values()), sum(t.values()))


# The longest common subsequence by dynamic programming (Cormen et al., §15.4):
#   L[i][j] = L[i-1][j-1] + 1 if a_i = b_j else max(L[i-1][j], L[i][j-1]),   L[0][*] = L[*][0] = 0
def lcs_length(a: Tokens, b: Tokens) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            same = a[i - 1] == b[j - 1]
            table[i][j] = table[i - 1][j - 1] + 1 if same else max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


# §3.1:  P_lcs = LCS(T, P) / |P|,  R_lcs = LCS(T, P) / |T|  (F1 with beta = 1, as rouge-score reports it)
def rouge_l(target: Tokens, prediction: Tokens) -> tuple[float, float, float]:
    return _prf(lcs_length(target, prediction), len(prediction), len(target))
