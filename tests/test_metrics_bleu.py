"""BLEU against sacreBLEU (tolerance 1e-6 BLEU points): tokenisers, corpus and sentence BLEU, smoothing;
the factorised n-gram counting against the Counter-based textbook form (minilm.reference.bleu)."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.metrics import BLEU

import minilm.reference as reference
from minilm.metrics import bleu

TOL = 1e-6
# pieces that exercise every tokeniser rule: punctuation, digits around . , -, HTML escapes, unicode
# punctuation/symbols/digits, odd whitespace, case
PIECES = [
    "the", "The", "cat", "cats", "sat", "on", "mat", "a", "dog", "DOG", "naïve", "Straße", "İstanbul",
    ".", ",", "!", "?", "'s", "don't", '"', "(", ")", "[x]", "{y}", "-", "--", "/", ":", ";", "@", "#",
    "$5", "3.14", "1,000", "12-3", "2020.", "x.y", "a,b", "&quot;", "&amp;", "&lt;", "&gt;", "<skipped>",
    "日本語", "«", "»", "—", "–", "…", "€", "½", "٣", "²", "🙂", "e\u0301", "\u00a0", "\t", "  ", "\u3000",
    "ΟΔΟΣ", "x-\n", "\n",
]  # fmt: skip


def random_sentence(rng: np.random.Generator, max_len: int = 14) -> str:
    n = int(rng.integers(0, max_len + 1))
    seps = rng.choice([" ", "", " "], size=n)
    return "".join(
        str(PIECES[i]) + str(s) for i, s in zip(rng.integers(0, len(PIECES), n), seps, strict=True)
    )


def perturb(rng: np.random.Generator, sentence: str) -> str:
    """A reference that overlaps the hypothesis: some tokens replaced, dropped or added."""
    words = sentence.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            continue
        out.append(PIECES[rng.integers(len(PIECES))] if r < 0.35 else w)
        if rng.random() < 0.1:
            out.append(PIECES[rng.integers(len(PIECES))])
    return " ".join(out)


def assert_same(ours: bleu.BLEUScore, ref, signature: str | None = None) -> None:
    assert abs(ours.score - ref.score) <= TOL
    np.testing.assert_allclose(ours.precisions, ref.precisions, rtol=0, atol=TOL)
    assert abs(ours.bp - ref.bp) <= 1e-12
    assert (ours.sys_len, ours.ref_len) == (ref.sys_len, ref.ref_len)
    if signature is not None:
        assert ours.signature == signature


# --- tokenisers -------------------------------------------------------------------------------------

unicode_text = st.text(st.characters(exclude_categories=("Cs", "Cn")), max_size=40)


@pytest.fixture(scope="module")
def sacre_tokenizers():
    from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
    from sacrebleu.tokenizers.tokenizer_intl import TokenizerV14International

    return {"13a": Tokenizer13a(), "intl": TokenizerV14International(), "none": lambda s: " ".join(s.split())}


@settings(max_examples=50, deadline=None, derandomize=True)
@given(st.lists(unicode_text | st.sampled_from(PIECES), min_size=1, max_size=6))
def test_tokenisers_match_sacrebleu_on_unicode(sacre_tokenizers, pieces):
    # Characters assigned only after Python's Unicode version are excluded (module docstring).
    line = " ".join(pieces)
    for name, tok in sacre_tokenizers.items():
        ours = bleu.tokenize_lines([line, line.upper()], name)
        expected = [" ".join(tok(x.rstrip()).split()) for x in (line, line.upper())]
        assert ours == expected, name


def test_tokenisers_on_hand_made_lines(sacre_tokenizers):
    lines = [
        "Hello, world. It's 3.14 and 1,000 -- see 12-3!",
        "&quot;quoted&quot; &amp; &lt;tag&gt; <skipped> end-\nof line",
        "«Bonjour» — dit-il… 5€ ½ ٣٤",
        ".leading and trailing.  ",
        "",
    ]
    for name, tok in sacre_tokenizers.items():
        assert bleu.tokenize_lines(lines, name) == [" ".join(tok(x.rstrip()).split()) for x in lines]


# --- corpus and sentence BLEU -----------------------------------------------------------------------

SETTINGS = [
    dict(tokenize="13a", smooth="exp", lowercase=False),
    dict(tokenize="13a", smooth="none", lowercase=True),
    dict(tokenize="13a", smooth="floor", lowercase=False),
    dict(tokenize="13a", smooth="floor", smooth_value=0.3, lowercase=False),
    dict(tokenize="13a", smooth="add-k", lowercase=False),
    dict(tokenize="13a", smooth="add-k", smooth_value=2, lowercase=True),
    dict(tokenize="intl", smooth="exp", lowercase=False),
    dict(tokenize="none", smooth="exp", lowercase=True),
]


def sacre_kwargs(cfg: dict) -> dict:
    return dict(
        tokenize=cfg["tokenize"],
        smooth_method=cfg["smooth"],
        smooth_value=cfg.get("smooth_value"),
        lowercase=cfg["lowercase"],
    )


CASES = list(enumerate(SETTINGS))
CASE_IDS = ["-".join(str(v) for v in c.values()) for c in SETTINGS]


@pytest.mark.parametrize("seed, cfg", CASES, ids=CASE_IDS)
def test_corpus_bleu_matches_sacrebleu(seed, cfg):
    rng = np.random.default_rng(seed)
    for trial in range(12):
        n_refs = int(rng.integers(1, 4))
        n = int(rng.integers(1, 25))
        hyps = [random_sentence(rng) for _ in range(n)]
        refs = [
            [perturb(rng, h) if rng.random() < 0.8 else random_sentence(rng) for h in hyps]
            for _ in range(n_refs)
        ]
        effective = bool(trial % 3 == 0)
        ours = bleu.corpus_bleu(hyps, refs, effective_order=effective, **cfg)
        metric = BLEU(**sacre_kwargs(cfg), effective_order=effective)
        ref = metric.corpus_score(hyps, refs)
        assert_same(ours, ref, metric.get_signature().format())


@pytest.mark.parametrize("seed, cfg", CASES, ids=CASE_IDS)
def test_sentence_bleu_matches_sacrebleu(seed, cfg):
    rng = np.random.default_rng(100 + seed)
    for _ in range(25):
        hyp = random_sentence(rng, max_len=8)
        refs = [perturb(rng, hyp) for _ in range(int(rng.integers(1, 3)))]
        ours = bleu.sentence_bleu(hyp, refs, **cfg)
        ref = sacrebleu.sentence_bleu(hyp, refs, **sacre_kwargs(cfg))
        assert_same(ours, ref)


@pytest.mark.parametrize(
    "hyp, refs",
    [
        ("", ["the cat sat"]),  # empty hypothesis
        ("the cat sat", [""]),  # empty reference
        ("the cat", ["the cat sat on the mat"]),  # no 3- or 4-grams; brevity penalty
        ("the mat cat sat", ["the cat sat on the mat"]),  # no matches at some orders
        ("the cat sat on the mat and more and more words here", ["the cat sat"]),  # longer than ref
        ("dog dog dog", ["cat"]),  # nothing matches at all
        ("a b c d", ["a b c d", "a b", "a b c d e f"]),  # several refs, perfect match
    ],
)
@pytest.mark.parametrize("smooth", ["exp", "none", "floor", "add-k"])
def test_edge_cases(hyp, refs, smooth):
    for effective in (True, False):
        ours = bleu.sentence_bleu(hyp, refs, smooth=smooth, effective_order=effective)
        ref = sacrebleu.sentence_bleu(hyp, refs, smooth_method=smooth, use_effective_order=effective)
        assert_same(ours, ref)
        corpus = bleu.corpus_bleu(
            [hyp, hyp], [[r, r] for r in refs], smooth=smooth, effective_order=effective
        )
        ref = sacrebleu.corpus_bleu([hyp, hyp], [[r, r] for r in refs], smooth_method=smooth,
                                    use_effective_order=effective)  # fmt: skip
        assert_same(corpus, ref)


def test_ngram_statistics_match_reference():
    """Per segment: hypothesis length, closest reference length, clipped matches and n-gram totals."""
    rng = np.random.default_rng(7)

    def tokens() -> list[str]:
        return [f"w{i}" for i in rng.integers(0, 4, int(rng.integers(0, 15)))]  # 4 words: many repeats

    for _ in range(20):
        n_refs = int(rng.integers(1, 4))
        hyps = [tokens() for _ in range(int(rng.integers(1, 10)))]
        refs = [[tokens() for _ in range(n_refs)] for _ in hyps]
        streams = [[" ".join(rs[k]) for rs in refs] for k in range(n_refs)]
        stats = bleu.corpus_statistics([" ".join(h) for h in hyps], streams, tokenize="none")
        for row, h, rs in zip(stats, hyps, refs, strict=True):
            counts = [reference.modified_precision(h, rs, n) for n in range(1, bleu.MAX_ORDER + 1)]
            matches, totals = zip(*counts, strict=True)
            assert row.tolist() == [len(h), reference.closest_ref_length(h, rs), *matches, *totals]
        score = bleu.bleu_from_statistics(stats.sum(axis=0), smooth="none").score
        assert score == pytest.approx(100 * reference.corpus_bleu(hyps, refs), abs=1e-9)


def test_hand_computed_value():
    # hyp "the cat sat on the mat" vs itself: all precisions 100, BP 1 -> BLEU 100
    assert bleu.corpus_bleu(["the cat sat on the mat"], [["the cat sat on the mat"]]).score == pytest.approx(
        100
    )
    # 4 tokens vs 8-token ref, all n-grams match: BP = exp(1 - 8/4) = e^-1
    s = bleu.corpus_bleu(["a b c d"], [["a b c d e f g h"]])
    assert (
        s.precisions == [100.0] * 4
        and s.bp == pytest.approx(np.exp(-1))
        and s.score == pytest.approx(100 / np.e)
    )


def test_signature_and_format():
    s = bleu.corpus_bleu(["a b"], [["a b"], ["a c"]], smooth="floor", lowercase=True)
    assert (
        s.signature == f"nrefs:2|case:lc|eff:no|tok:13a|smooth:floor[0.10]|version:{bleu.SACREBLEU_VERSION}"
    )
    assert s.format().startswith(f"BLEU|{s.signature} = ")
    if sacrebleu.__version__ != bleu.SACREBLEU_VERSION:
        pytest.skip(f"installed sacreBLEU {sacrebleu.__version__} is not the one the signature names")
    metric = BLEU(smooth_method="floor", lowercase=True)
    metric.corpus_score(["a b"], [["a b"], ["a c"]])
    assert s.signature == metric.get_signature().format()


def test_errors():
    with pytest.raises(ValueError, match="no hypotheses"):
        bleu.corpus_bleu([], [[]])
    with pytest.raises(ValueError, match="reference stream 0"):
        bleu.corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="tokenize"):
        bleu.corpus_bleu(["a"], [["a"]], tokenize="moses")
    with pytest.raises(ValueError, match="smooth"):
        bleu.corpus_bleu(["a"], [["a"]], smooth="laplace")


def test_real_translations_multi30k(data_root):
    """Cased, punctuated, accented text: Multi30k validation English vs a reordered variant of itself."""
    import gzip

    with gzip.open(data_root / "multi30k" / "val.en.gz", "rt", encoding="utf-8") as f:
        refs = f.read().split("\n")[:-1]
    de = gzip.open(data_root / "multi30k" / "val.de.gz", "rt", encoding="utf-8").read().split("\n")[:-1]
    hyps = [" ".join(r.split()[::-1][:5] + r.split()[:-5]) for r in refs]
    for tok in ("13a", "intl"):
        assert_same(
            bleu.corpus_bleu(hyps, [refs, de], tokenize=tok),
            sacrebleu.corpus_bleu(hyps, [refs, de], tokenize=tok),
        )
