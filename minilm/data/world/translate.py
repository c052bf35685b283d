"""A second generated language ("Kalo") and the sentence pairs that translate the world language into it.

Kalo has its own vocabulary and its own word order, so translation needs reordering, not word lookup:

=================  ===========================================  ==========================================
                   English (source)                             Kalo (target)
=================  ===========================================  ==========================================
clause             [time ,] subject verb [object] [place] .     [time] subject [place] [object] verb [neg] .
noun phrase        determiner adjective noun                    noun adjective determiner
place phrase       preposition noun phrase                      noun phrase postposition
plural             -s, -es, irregular (mice, wolves)            always the suffix ``-ri``
verb               agreement (-s), do/does/did + not            no agreement; past ``-ta``; negation after
articles           a / an / the                                 "a" is dropped; "the" is a word after the noun
=================  ===========================================  ==========================================

The Kalo lexicon is invented once from a fixed seed (:data:`LEXICON_SEED`), independent of the data
seed: every seed of the data speaks the same Kalo.  Person names are not translated.
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from minilm.data.world.grammar import Rng
from minilm.data.world.lexicon import ANIMALS, FEMALE_NAMES, MALE_NAMES

LEXICON_SEED = 20_240_601
PLURAL_SUFFIX, PAST_SUFFIX = "ri", "ta"


class Noun(NamedTuple):
    sg: str
    pl: str


NOUNS = (
    *(Noun(a.sg, a.pl) for a in ANIMALS[:14]),
    Noun("man", "men"),
    Noun("woman", "women"),
    Noun("child", "children"),
    Noun("teacher", "teachers"),
    Noun("apple", "apples"),
    Noun("book", "books"),
    Noun("ball", "balls"),
    Noun("car", "cars"),
    Noun("cake", "cakes"),
    Noun("letter", "letters"),
    Noun("flower", "flowers"),
    Noun("box", "boxes"),
)
PLACES = ("park", "garden", "house", "river", "market", "school", "forest", "kitchen")
PREPOSITIONS = ("in", "near", "under", "behind", "at")
ADJECTIVES = (
    "big",
    "small",
    "old",
    "young",
    "red",
    "blue",
    "green",
    "happy",
    "hungry",
    "tired",
    "new",
    "quiet",
)
INTRANSITIVE = (
    ("run", "runs", "ran"),
    ("swim", "swims", "swam"),
    ("sleep", "sleeps", "slept"),
    ("walk", "walks", "walked"),
    ("jump", "jumps", "jumped"),
    ("dance", "dances", "danced"),
    ("sing", "sings", "sang"),
    ("laugh", "laughs", "laughed"),
)
TRANSITIVE = (
    ("see", "sees", "saw"),
    ("like", "likes", "liked"),
    ("eat", "eats", "ate"),
    ("buy", "buys", "bought"),
    ("find", "finds", "found"),
    ("want", "wants", "wanted"),
    ("carry", "carries", "carried"),
    ("paint", "paints", "painted"),
)
PRONOUNS = (
    ("i", True),
    ("you", True),
    ("he", False),
    ("she", False),
    ("we", True),
    ("they", True),
)  # base form?
SINGULAR_DETERMINERS = ("the", "a", "this", "that", "my")
PLURAL_DETERMINERS = ("the", "these", "those", "my", "some", "two", "three")
TIMES = {"present": ("today", "often"), "past": ("yesterday",)}


@lru_cache(maxsize=1)
def kalo_lexicon() -> dict[str, str]:
    """English lemma -> invented Kalo word (deterministic; no two lemmas share a Kalo word)."""
    lemmas = [
        *(n.sg for n in NOUNS),
        *PLACES,
        *PREPOSITIONS,
        *ADJECTIVES,
        *(v[0] for v in INTRANSITIVE + TRANSITIVE),
        *(p for p, _ in PRONOUNS),
        *SINGULAR_DETERMINERS[2:],
        *PLURAL_DETERMINERS[1:],  # "a" has no Kalo word
        "the",
        "not",
        *TIMES["present"],
        *TIMES["past"],
    ]
    lemmas = list(dict.fromkeys(lemmas))
    rng = Rng(LEXICON_SEED, 0)
    consonants, vowels = "bdgklmnprstvz", "aeiou"
    reserved = {PLURAL_SUFFIX, PAST_SUFFIX, *lemmas, *MALE_NAMES, *FEMALE_NAMES}
    lexicon: dict[str, str] = {}
    for lemma in lemmas:
        syllables = 1 if len(lemma) <= 3 else 2 + (len(lemma) > 6)
        while True:
            word = "".join(rng.pick(consonants) + rng.pick(vowels) for _ in range(syllables))
            if word not in reserved:
                break
        reserved.add(word)
        lexicon[lemma] = word
    return lexicon


class Phrase(NamedTuple):
    english: str
    kalo: str


def _noun_phrase(rng: Rng, nouns: tuple[Noun, ...], plural: bool) -> Phrase:
    lex = kalo_lexicon()
    noun = rng.pick(nouns)
    det = rng.pick(PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS)
    adjs = [rng.pick(ADJECTIVES)] if rng.chance(0.45) else []
    english_noun = noun.pl if plural else noun.sg
    first = adjs[0] if adjs else english_noun
    english_det = ("an" if first[0] in "aeiou" else "a") if det == "a" else det
    english = " ".join([english_det, *adjs, english_noun])
    kalo_noun = lex[noun.sg] + (PLURAL_SUFFIX if plural else "")
    kalo = " ".join([kalo_noun, *(lex[a] for a in adjs), *([] if det == "a" else [lex[det]])])
    return Phrase(english, kalo)


def _subject(rng: Rng) -> tuple[Phrase, bool]:
    """A subject and whether the English verb takes its plural (base) form."""
    lex = kalo_lexicon()
    kind = rng.below(3)
    if kind == 0:
        name = rng.pick(MALE_NAMES + FEMALE_NAMES)
        return Phrase(name, name), False
    if kind == 1:
        pronoun, plural_form = rng.pick(PRONOUNS)
        return Phrase(pronoun, lex[pronoun]), plural_form
    plural = rng.chance(0.5)
    return _noun_phrase(rng, NOUNS, plural), plural


def translation_pair(rng: Rng) -> tuple[str, str]:
    """One English sentence and its Kalo translation."""
    lex = kalo_lexicon()
    subject, plural = _subject(rng)
    transitive = rng.chance(0.6)
    base, third, past = rng.pick(TRANSITIVE if transitive else INTRANSITIVE)
    tense = "past" if rng.chance(0.35) else "present"
    negated = rng.chance(0.3)
    if tense == "past":
        english_verb = f"did not {base}" if negated else past
    elif negated:
        english_verb = f"{'do' if plural else 'does'} not {base}"
    else:
        english_verb = base if plural else third
    kalo_verb = lex[base] + (PAST_SUFFIX if tense == "past" else "") + (f" {lex['not']}" if negated else "")
    obj = _noun_phrase(rng, NOUNS, rng.chance(0.4)) if transitive else None
    place = None
    if rng.chance(0.5):
        prep, where = rng.pick(PREPOSITIONS), rng.pick(PLACES)
        place = Phrase(f"{prep} the {where}", f"{lex[where]} {lex['the']} {lex[prep]}")
    time = rng.pick(TIMES[tense]) if rng.chance(0.3) else None
    english = [
        f"{time} ," if time else "",
        subject.english,
        english_verb,
        obj.english if obj else "",
        place.english if place else "",
        ".",
    ]
    kalo = [
        lex[time] if time else "",
        subject.kalo,
        place.kalo if place else "",
        obj.kalo if obj else "",
        kalo_verb,
        ".",
    ]
    return " ".join(w for w in english if w), " ".join(w for w in kalo if w)
