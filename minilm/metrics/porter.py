"""The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980).

ROUGE with stemming (rouge-score's ``use_stemmer=True``) stems with NLTK's ``PorterStemmer()``, whose
default mode (``NLTK_EXTENSIONS``) adds a few fixes to the 1980 rules; this file implements exactly that
variant, marked "NLTK:" below, and is tested equal to NLTK on generated and real words.

Vocabulary of the paper: a word is [C](VC)^m[V], with C a run of consonants and V a run of vowels
(a, e, i, o, u, and y after a consonant); m is its *measure*.  Conditions on a stem:

    m > k       the measure of the stem
    *v*         the stem contains a vowel
    *d          the stem ends with a double consonant
    *o          the stem ends consonant-vowel-consonant, the last not w, x or y
                (NLTK: also a two-letter stem vowel-consonant)

Each step tries its rules in order; the first rule whose suffix matches decides -- it rewrites the
word if its condition holds and otherwise leaves it unchanged (later rules are not tried).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable

_VOWELS = frozenset("aeiou")

# NLTK: words stemmed by table instead of by rule.
_IRREGULAR = {
    "skies": "sky", "sky": "sky", "dying": "die", "lying": "lie", "tying": "tie", "news": "news",
    "innings": "inning", "inning": "inning", "outings": "outing", "outing": "outing",
    "cannings": "canning", "canning": "canning", "howe": "howe",
    "proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}  # fmt: skip


def _consonants(word: str) -> list[bool]:
    """Whether each letter is a consonant; y is one at the start or after a vowel."""
    flags: list[bool] = []
    for i, ch in enumerate(word):
        flags.append(ch not in _VOWELS and (ch != "y" or i == 0 or not flags[i - 1]))
    return flags


def measure(stem: str) -> int:
    """m in [C](VC)^m[V]: the number of vowel-to-consonant transitions."""
    flags = _consonants(stem)
    return sum(1 for a, b in itertools.pairwise(flags) if not a and b)


def _has_vowel(stem: str) -> bool:
    return not all(_consonants(stem))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonants(word)[-1]


def _cvc(word: str) -> bool:
    c = _consonants(word)
    if len(word) == 2:  # NLTK
        return not c[0] and c[1]
    return len(word) >= 3 and c[-3] and not c[-2] and c[-1] and word[-1] not in "wxy"


Rule = tuple[str, str, Callable[[str], bool]]


def _m_gt(k: int) -> Callable[[str], bool]:
    return lambda stem: measure(stem) > k


def _apply(word: str, rules: list[Rule]) -> str:
    """The first rule whose suffix ends ``word`` replaces it if its condition holds on the stem."""
    for suffix, replacement, condition in rules:
        if word.endswith(suffix):
            stem = word[: len(word) - len(suffix)]
            return stem + replacement if condition(stem) else word
    return word


def _step1a(word: str) -> str:
    if word.endswith("ies") and len(word) == 4:  # NLTK: ties -> tie, not ti
        return word[:-3] + "ie"
    always = lambda stem: True  # noqa: E731
    return _apply(
        word, [("sses", "ss", always), ("ies", "i", always), ("ss", "ss", always), ("s", "", always)]
    )


def _step1b(word: str) -> str:
    if word.endswith("ied"):  # NLTK: died -> die, cried -> cri
        return word[:-3] + ("ie" if len(word) == 4 else "i")
    if word.endswith("eed"):  # (m > 0) EED -> EE
        return word[:-1] if measure(word[:-3]) > 0 else word
    for suffix in ("ed", "ing"):  # (*v*) ED ->, (*v*) ING ->
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and _has_vowel(stem):
            break
    else:
        return word
    # tidy up what is left: conflat(ed) -> conflate, hopp(ing) -> hop, fil(ing) -> file
    if stem.endswith(("at", "bl", "iz")):
        return stem + "e"
    if _double_consonant(stem):
        return stem if stem[-1] in "lsz" else stem[:-1]
    return stem + "e" if measure(stem) == 1 and _cvc(stem) else stem


def _step1c(word: str) -> str:
    # NLTK: (*c and not c) Y -> I -- y after a consonant that is not the whole stem: happy -> happi
    return _apply(word, [("y", "i", lambda stem: len(stem) > 1 and _consonants(stem)[-1])])


_STEP2 = [
    (suffix, replacement, _m_gt(0))
    for suffix, replacement in [
        ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
        ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
        ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
        ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
        ("fulli", "ful"),  # NLTK
    ]
] + [("logi", "log", lambda stem: measure(stem + "l") > 0)]  # fmt: skip


def _step2(word: str) -> str:
    if word.endswith("alli") and measure(word[:-4]) > 0:  # NLTK: ...alli -> ...al, then step 2 again
        return _step2(word[:-4] + "al")
    return _apply(word, _STEP2)


_STEP3 = [
    (suffix, replacement, _m_gt(0))
    for suffix, replacement in [
        ("icate", "ic"), ("ative", ""), ("alize", "al"), ("iciti", "ic"), ("ical", "ic"), ("ful", ""),
        ("ness", ""),
    ]
]  # fmt: skip

_STEP4 = [
    (suffix, "", _m_gt(1) if suffix != "ion" else lambda stem: measure(stem) > 1 and stem[-1] in "st")
    for suffix in [
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
        "ism", "ate", "iti", "ous", "ive", "ize",
    ]
]  # fmt: skip


def _step5(word: str) -> str:
    if word.endswith("e"):  # (m > 1) E ->   and   (m = 1 and not *o) E ->
        m = measure(word[:-1])
        if m > 1 or (m == 1 and not _cvc(word[:-1])):
            word = word[:-1]
    if word.endswith("ll") and measure(word[:-1]) > 1:  # (m > 1 and *d and *L) -> single letter
        word = word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """The Porter stem of ``word`` (lower-cased first), as ``nltk.stem.porter.PorterStemmer().stem``."""
    lower = word.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if len(word) <= 2:
        return lower
    word = _step1c(_step1b(_step1a(lower)))
    return _step5(_apply(_apply(_step2(word), _STEP3), _STEP4))
