"""BLEU (Papineni et al., ACL 2002), computed exactly as sacreBLEU does (Post, WMT 2018).

For hypotheses h_s with references r_{s,1..R} (s = 1..S segments) and n = 1..N (N = 4)::

    m_n = sum_s sum_{g in n-grams(h_s)} min(count_{h_s}(g), max_k count_{r_{s,k}}(g))   clipped matches
    t_n = sum_s max(|h_s| - n + 1, 0)                                                 hypothesis n-grams
    p_n = m_n / t_n                                                                   (Eq. 1 of the paper)

    c = sum_s |h_s|,   r = sum_s |r_{s,k*}|   with k* the reference length closest to |h_s|
                                              (ties go to the shorter reference)
    BP = 1 if c >= r else exp(1 - r / c)      (BP = 0 when c = 0)
    BLEU = 100 * BP * exp( (1/N) sum_n ln p_n )

Counts are pooled over the corpus *before* dividing (corpus BLEU is not a mean of sentence BLEUs).
Smoothing of zero counts (Chen & Cherry, WMT 2014), as sacreBLEU names them:

- ``none``: no smoothing; ln 0 is floored at -9999999999, so one p_n = 0 makes BLEU 0.
- ``floor`` (method 1): a p_n with m_n = 0 becomes ``smooth_value / t_n`` (default 0.1).
- ``add-k`` (method 2): add k (default 1) to m_n and t_n for n >= 2.
- ``exp`` (method 3, mteval-v13a's; the default): the i-th order with m_n = 0 gets p_n = 1 / (2^i t_n).

If no n-gram matches at all, BLEU is 0 whatever the smoothing.  With ``effective_order`` (the default
for sentence BLEU) N becomes the highest order with t_n > 0, so a 3-token hypothesis is not zeroed by
its missing 4-grams.

Tokenisers (applied after optional lower-casing and removal of trailing whitespace):

- ``13a``: mteval-v13a.pl's, the WMT standard: unescape ``&quot; &amp; &lt; &gt;``, split off
  punctuation and symbols, split ``.`` and ``,`` unless between digits, ``-`` after a digit.
- ``intl``: mteval-v14.pl's international tokeniser (Unicode punctuation and symbols).  The Unicode
  classes come from Python's :mod:`unicodedata`; sacreBLEU uses the ``regex`` package, whose Unicode
  version may be newer, so the two can differ on characters unassigned in Python's version.
- ``none``: split on whitespace only.

The signature string (``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``) is sacreBLEU's;
its ``version`` is the sacreBLEU release these numbers were tested equal to.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import sys
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

MAX_ORDER = 4
SMOOTH_DEFAULTS: dict[str, float | None] = {"none": None, "floor": 0.1, "add-k": 1.0, "exp": None}
TOKENIZERS = ("13a", "intl", "none")
SACREBLEU_VERSION = "2.6.0"
_LOG_ZERO = -9999999999  # sacreBLEU's floor for ln 0

# ---------------------------------------------------------------------------------------------------
# Tokenisation.  All lines are tokenised at once: they are joined with "\n" (a line never contains
# one after the steps below), every regular expression runs once over the whole text, and the text is
# split back.  The expressions only ever match within a line, so this equals tokenising line by line.

# mteval-v13a.pl: symbols and most ASCII punctuation; '.' ',' '-' are handled by the rules below.
# sacreBLEU's class also contains the space; padding a space with spaces changes no token, so the
# space is left out here (it matched every word boundary and was the slowest part).
_13A_RULES = (
    (re.compile(r"([\{-\~\[-\`!-\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),  # period and comma unless preceded by a digit
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),  # period and comma unless followed by a digit
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),  # dash after a digit
)


def _unescape_13a(line: str) -> str:
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return f" {line} "


@functools.cache
def _unicode_class(major: str) -> str:
    """A regex character class of every code point whose Unicode category starts with ``major``."""
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and unicodedata.category(chr(cp))[0] == major
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(cp - 1))}")
            start = None
    return "".join(ranges)


@functools.cache
def _intl_rules() -> tuple[tuple[re.Pattern, str], ...]:
    """mteval-v14.pl: \\p{P} punctuation, \\p{S} symbols, \\p{N} numbers (see the module docstring)."""
    p, s, n = _unicode_class("P"), _unicode_class("S"), _unicode_class("N")
    return (
        (re.compile(f"([^{n}])([{p}])"), r"\1 \2 "),  # punctuation after a non-number
        (re.compile(f"([{p}])([^{n}])"), r" \1 \2"),  # punctuation before a non-number
        (re.compile(f"([{s}])"), r" \1 "),  # symbols
    )


def _intl_line(line: str) -> str:
    for pattern, repl in _intl_rules():
        line = pattern.sub(repl, line)
    return line


def _tokenized_text(lines: Sequence[str], tokenize: str, lowercase: bool) -> str:
    """All ``lines`` tokenised and joined by "\\n"; tokens are the whitespace-separated pieces."""
    if tokenize not in TOKENIZERS:
        raise ValueError(f"tokenize={tokenize!r}; allowed: {', '.join(TOKENIZERS)}")
    lines = [line.lower().rstrip() if lowercase else line.rstrip() for line in lines]
    if tokenize == "13a":
        text = "\n".join(map(_unescape_13a, lines))
        for pattern, repl in _13A_RULES:
            text = pattern.sub(repl, text)
        return text
    lines = [line.replace("\n", " ") for line in lines]  # both are whitespace to every rule below
    return "\n".join(map(_intl_line, lines) if tokenize == "intl" else lines)


def tokenize_lines(lines: Sequence[str], tokenize: str = "13a", lowercase: bool = False) -> list[str]:
    """Each line as BLEU sees it: its tokens joined by single spaces."""
    return [" ".join(line.split()) for line in _tokenized_text(lines, tokenize, lowercase).split("\n")]


# ---------------------------------------------------------------------------------------------------
# Sufficient statistics: per segment, hypothesis length, closest reference length, m_n and t_n.

_TOKEN_OR_NEWLINE = re.compile(r"\S+|\n")


def _token_ids(texts: list[str]) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """For each "\\n"-joined text: integer ids (T,) of its tokens and the line (T,) each belongs to.

    Ids are shared by all texts; also returns the vocabulary size.
    """
    pieces = [_TOKEN_OR_NEWLINE.findall(text) for text in texts]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(["\n", *itertools.chain(*pieces)]))}
    streams = []
    for p in pieces:
        ids = np.fromiter(map(vocab.__getitem__, p), dtype=np.int64, count=len(p))
        newline = ids == 0  # (T + lines - 1,)
        streams.append((ids[~newline], np.cumsum(newline)[~newline]))
    return streams, len(vocab)


def _segment_statistics(hyp_text: str, ref_texts: list[str], n_segments: int) -> np.ndarray:
    """(S, 2 + 2 * MAX_ORDER) int64: hyp length, closest ref length, m_1..m_N, t_1..t_N per segment.

    Each n-gram of each segment gets an integer code by iterated factorisation: the code of a unigram
    is the rank of the pair (segment, token id), the code of an n-gram the rank of the pair (code of its
    (n-1)-gram prefix, id of its last token) -- so equal codes mean the same segment and the same n
    tokens, and hypothesis and references (coded together) share them.  Clipped matches are then
    ``min(hyp count, max over references of ref count)`` per code, all with ``np.unique``/``bincount``.
    """
    streams, n_vocab = _token_ids([hyp_text, *ref_texts])
    ids = np.concatenate([s[0] for s in streams])  # (T,) all streams, hypothesis first
    seg = np.concatenate([s[1] for s in streams])  # (T,)
    source = np.repeat(np.arange(len(streams)), [s[0].size for s in streams])  # (T,) 0 = hypothesis
    lengths = np.stack([np.bincount(s[1], minlength=n_segments) for s in streams])  # (1 + R, S)
    starts = np.cumsum(lengths.ravel()) - lengths.ravel()  # (S * (1 + R),) first position of each line
    line = source * n_segments + seg  # (T,) index of each token's line over all streams
    remaining = lengths.ravel()[line] - (np.arange(ids.size) - starts[line])  # (T,) tokens left in line

    stats = np.zeros((n_segments, 2 + 2 * MAX_ORDER), dtype=np.int64)
    hyp_len, ref_lens = lengths[0], lengths[1:]  # (S,), (R, S)
    stats[:, 0] = hyp_len
    closest = np.argmin(np.abs(ref_lens - hyp_len) * (ref_lens.max() + 1) + ref_lens, axis=0)  # (S,)
    stats[:, 1] = ref_lens[closest, np.arange(n_segments)]

    prefix = seg  # (T,) the "order 0" code of a position is its segment
    for n in range(1, MAX_ORDER + 1):
        start = np.flatnonzero(remaining >= n)  # (G_n,) positions where an n-gram starts
        codes, code_of = np.unique(prefix[start] * n_vocab + ids[start + n - 1], return_inverse=True)
        counts = np.bincount(source[start] * codes.size + code_of, minlength=len(streams) * codes.size)
        counts = counts.reshape(len(streams), codes.size)  # (1 + R, C) occurrences per stream
        clipped = np.minimum(counts[0], counts[1:].max(axis=0))  # (C,)
        seg_of_code = np.zeros(codes.size, dtype=np.int64)
        seg_of_code[code_of] = seg[start]
        stats[:, 1 + n] = np.bincount(seg_of_code, weights=clipped, minlength=n_segments).astype(np.int64)
        stats[:, 1 + MAX_ORDER + n] = np.maximum(hyp_len - n + 1, 0)
        prefix = np.zeros(ids.size, dtype=np.int64)
        prefix[start] = code_of
    return stats


# ---------------------------------------------------------------------------------------------------
# The score from the statistics.


@dataclass(frozen=True)
class BLEUScore:
    """A BLEU result; ``score`` and ``precisions`` are percentages (0-100)."""

    score: float
    precisions: list[float]
    bp: float
    sys_len: int
    ref_len: int
    counts: list[float]  # m_n (after add-k smoothing, as sacreBLEU reports them)
    totals: list[float]  # t_n
    signature: str = field(default="")

    def format(self) -> str:
        """sacreBLEU's text line: ``BLEU|<signature> = 42.17 57.9/44.1/38.0/33.5 (BP = ...)``."""
        precisions = "/".join(f"{p:.1f}" for p in self.precisions)
        ratio = self.sys_len / self.ref_len if self.ref_len else 0
        return (
            f"BLEU|{self.signature} = {self.score:.2f} {precisions} (BP = {self.bp:.3f} ratio = {ratio:.3f}"
            f" hyp_len = {self.sys_len:d} ref_len = {self.ref_len:d})"
        )


def _check_smooth(smooth: str) -> None:
    if smooth not in SMOOTH_DEFAULTS:
        raise ValueError(f"smooth={smooth!r}; allowed: {', '.join(SMOOTH_DEFAULTS)}")


def signature(n_refs: int, lowercase: bool, tokenize: str, smooth: str, smooth_value: float | None,
              effective_order: bool) -> str:  # fmt: skip
    """sacreBLEU's reproducibility signature for these settings."""
    if SMOOTH_DEFAULTS[smooth] is not None:
        smooth = f"{smooth}[{SMOOTH_DEFAULTS[smooth] if smooth_value is None else smooth_value:.2f}]"
    return (
        f"nrefs:{n_refs}|case:{'lc' if lowercase else 'mixed'}|eff:{'yes' if effective_order else 'no'}"
        f"|tok:{tokenize}|smooth:{smooth}|version:{SACREBLEU_VERSION}"
    )


def bleu_from_statistics(stats: Sequence[int], smooth: str = "exp", smooth_value: float | None = None,
                         effective_order: bool = False, sig: str = "") -> BLEUScore:  # fmt: skip
    """BLEU from summed statistics ``[c, r, m_1..m_N, t_1..t_N]`` (the module docstring's formulas)."""
    _check_smooth(smooth)
    k = SMOOTH_DEFAULTS[smooth] if smooth_value is None else smooth_value
    sys_len, ref_len = int(stats[0]), int(stats[1])
    correct = [int(x) for x in stats[2 : 2 + MAX_ORDER]]
    total = [int(x) for x in stats[2 + MAX_ORDER : 2 + 2 * MAX_ORDER]]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * MAX_ORDER
    if not any(correct):
        return BLEUScore(0.0, precisions, bp, sys_len, ref_len, correct, total, sig)

    halvings, order = 1.0, MAX_ORDER
    for n in range(1, MAX_ORDER + 1):
        if smooth == "add-k" and n > 1:
            correct[n - 1] += k
            total[n - 1] += k
        if total[n - 1] == 0:
            break
        if effective_order:
            order = n
        if correct[n - 1] == 0:
            if smooth == "exp":
                halvings *= 2
                precisions[n - 1] = 100.0 / (halvings * total[n - 1])
            elif smooth == "floor":
                precisions[n - 1] = 100.0 * k / total[n - 1]
        else:
            precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1]
    log_mean = sum(math.log(p) if p > 0 else _LOG_ZERO for p in precisions[:order]) / order
    return BLEUScore(bp * math.exp(log_mean), precisions, bp, sys_len, ref_len, correct, total, sig)


def _check_inputs(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    if len(hyps) == 0:
        raise ValueError("no hypotheses")
    if len(refs) == 0:
        raise ValueError("no reference streams")
    for k, stream in enumerate([hyps, *refs]):
        if isinstance(stream, str) or len(stream) != len(hyps) or not all(isinstance(x, str) for x in stream):
            name = "hypotheses" if k == 0 else f"reference stream {k - 1}"
            raise ValueError(f"{name} must be a sequence of {len(hyps)} strings (one per hypothesis)")


def corpus_statistics(hyps: Sequence[str], refs: Sequence[Sequence[str]], tokenize: str = "13a",
                      lowercase: bool = False) -> np.ndarray:  # fmt: skip
    """Per-segment statistics (S, 2 + 2 N): ``[c_s, r_s, m_1..m_N, t_1..t_N]`` for each hypothesis.

    ``refs`` is a list of reference *streams*, each with one reference per hypothesis (sacreBLEU's layout).
    """
    _check_inputs(hyps, refs)
    texts = [_tokenized_text(lines, tokenize, lowercase) for lines in [hyps, *refs]]
    return _segment_statistics(texts[0], texts[1:], len(hyps))


def corpus_bleu(hyps: Sequence[str], refs: Sequence[Sequence[str]], tokenize: str = "13a",
                lowercase: bool = False, smooth: str = "exp", smooth_value: float | None = None,
                effective_order: bool = False) -> BLEUScore:  # fmt: skip
    """Corpus BLEU with sacreBLEU's defaults (``sacrebleu.corpus_bleu(hyps, refs)``)."""
    _check_smooth(smooth)
    stats = corpus_statistics(hyps, refs, tokenize, lowercase).sum(axis=0)
    sig = signature(len(refs), lowercase, tokenize, smooth, smooth_value, effective_order)
    return bleu_from_statistics(stats, smooth, smooth_value, effective_order, sig)


def sentence_bleu(hyp: str, refs: Sequence[str], tokenize: str = "13a", lowercase: bool = False,
                  smooth: str = "exp", smooth_value: float | None = None,
                  effective_order: bool = True) -> BLEUScore:  # fmt: skip
    """BLEU of one hypothesis against its references (``sacrebleu.sentence_bleu(hyp, refs)``)."""
    if isinstance(refs, str):
        raise ValueError("refs must be a sequence of reference strings, not one string")
    return corpus_bleu([hyp], [[r] for r in refs], tokenize, lowercase, smooth, smooth_value, effective_order)
