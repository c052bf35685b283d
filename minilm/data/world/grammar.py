"""Sampling and the small grammar of the world language: articles, agreement, negation, templates.

Randomness: every generator owns an :class:`Rng`, a ``numpy.random.Generator`` seeded explicitly from
``(stream, seed)``.  Nothing reads the global NumPy or Python RNG, and nothing iterates over a ``set``
(whose order depends on ``PYTHONHASHSEED``), so the same seed gives the same text in every process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import cache
from typing import TypeVar

import numpy as np

from minilm.data.world.lexicon import FEMALE_NAMES, MALE_NAMES, PRONOUNS, SYNONYMS, Verb
from minilm.errors import UserError

T = TypeVar("T")


class Rng:
    """Fast scalar draws from an explicitly seeded ``numpy.random.Generator``.

    Uniform floats are drawn in blocks of 4096 (one NumPy call) and handed out one by one, which makes
    the thousands of small choices per sentence cheap while staying a pure function of the seed.
    """

    def __init__(self, seed: int, stream: int) -> None:
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise UserError(f"seed={seed!r}: expected a non-negative integer")
        self._gen = np.random.default_rng([stream, int(seed)])
        self._floats: Iterator[float] = iter(())

    def random(self) -> float:
        """A uniform float in [0, 1): a multiple of 2**-53, so ``int(random() * n) < n`` for a list size n."""
        x = next(self._floats, None)
        if x is None:
            self._floats = iter(self._gen.random(4096).tolist())
            x = next(self._floats)
        return x

    def below(self, n: int) -> int:
        """A uniform integer in [0, n)."""
        return int(self.random() * n)

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def chance(self, p: float) -> bool:
        return self.random() < p

    def shuffle(self, items: list) -> None:
        """Fisher-Yates shuffle in place."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        """``k`` distinct items, in random order."""
        pool = list(items)
        for i in range(k):
            j = i + self.below(len(pool) - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


# ----------------------------------------------------------------------------------------------------
# Templates: "[a|b]" picks one alternative, "{slot}" is filled by str.format
# ----------------------------------------------------------------------------------------------------

_ALTERNATIVES = re.compile(r"\[([^\]]*)\]")


@cache
def _parse(template: str) -> tuple[str | tuple[str, ...], ...]:
    """Split a template into literal text and tuples of alternatives (parsed once per template)."""
    parts = _ALTERNATIVES.split(template)  # literal, alternatives, literal, ...
    return tuple(p if i % 2 == 0 else tuple(p.split("|")) for i, p in enumerate(parts))


def fill(template: str, rng: Rng, **slots: str) -> str:
    """Expand one template: choose each ``[a|b|c]`` alternative, then fill the ``{slots}``.

    An alternative may be empty ("[|again]"); the spaces around it collapse to one.
    """
    text = "".join(p if isinstance(p, str) else rng.pick(p) for p in _parse(template))
    return " ".join((text.format(**slots) if "{" in text else text).split())


# ----------------------------------------------------------------------------------------------------
# Words
# ----------------------------------------------------------------------------------------------------

_SYNONYM_OF = {w: group for group in SYNONYMS for w in group}
_SYNONYM_WORD = re.compile(r"\b(?:" + "|".join(_SYNONYM_OF) + r")\b")


def article(word: str) -> str:
    """The indefinite article for ``word`` ("an apple", "a dog")."""
    return "an" if word[0] in "aeiou" else "a"


def synonymize(text: str, rng: Rng) -> str:
    """Replace each word that has synonyms by a uniformly drawn member of its group ("big" -> "large")."""
    return _SYNONYM_WORD.sub(lambda m: rng.pick(_SYNONYM_OF[m.group()]), text)


class Person:
    """A named person with a gender, and the pronouns that refer to them."""

    def __init__(self, rng: Rng) -> None:
        self.gender = "female" if rng.chance(0.5) else "male"
        self.name = rng.pick(FEMALE_NAMES if self.gender == "female" else MALE_NAMES)
        pronouns = PRONOUNS[self.gender]
        self.subj, self.obj, self.poss = pronouns["subj"], pronouns["obj"], pronouns["poss"]

    def slots(self) -> dict[str, str]:
        return {"name": self.name, "subj": self.subj, "obj": self.obj, "poss": self.poss}


def verb_phrase(verb: Verb, plural: bool, tense: str, negation: str | None) -> str:
    """Inflect ``verb`` for its subject's number, the tense and an optional negation.

    ``tense`` is "present" or "past"; ``negation`` is None, "not" or "never".  Agreement lives here:
    "the dog runs" / "the dogs run" / "the dog does not run" / "the dogs never run" / "it did not run".
    """
    if tense == "past":
        if negation == "not":
            return f"did not {verb.base}"
        return f"never {verb.past}" if negation == "never" else verb.past
    finite = verb.base if plural else verb.third
    if negation == "not":
        return f"{'do' if plural else 'does'} not {verb.base}"
    return f"never {finite}" if negation == "never" else finite
