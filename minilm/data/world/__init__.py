"""The embedded data: a seeded, generated "world" language, its pretraining corpus and its tasks.

The project runs with no downloads, so its default data is generated: a small English-like language
(about 1,350 word types) with real structure -- word categories, gender and country/capital relations,
agreement, negation, polysemy, a hypernym tree -- see ``docs/data_card.md`` for what is in it and what
a model can learn from each part.  Everything is a pure function of ``seed``:

- :func:`generate_corpus` -- the pretraining corpus, one sentence or short story per line (~2 MB).
- :func:`analogy_questions` -- analogies in the format of Google's ``questions-words.txt``.
- :func:`similarity_pairs` -- word-similarity judgements derived from the category structure.
- :func:`sense_examples` -- sentences with a polysemous word, labelled by sense.
- :func:`generate_task` -- the labelled tasks of :data:`TASKS` with train / dev / test splits.

Text is lowercase with spaced punctuation: ``"paris is the capital of france ."``.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any

from minilm.data.world.grammar import Rng, synonymize
from minilm.data.world.lexicon import (
    ANIMALS,
    COLOURS,
    COUNTRIES,
    DAYS,
    FOODS,
    INSTRUMENTS,
    NUMBERS,
    PLURAL_ANALOGY_ANIMALS,
    POLYSEMY,
    ROLES,
    SYNONYMS,
    VEHICLES,
    VERBS,
)
from minilm.data.world.sentences import (
    INTENTS,
    TOPICS,
    animal_sentence,
    command,
    country_fact,
    hypernym_sentence,
    review,
    role_sentence,
    scene_sentence,
    sense_sentence,
    topic_sentence,
    verb_sentence,
)
from minilm.data.world.stories import STORY_KINDS
from minilm.data.world.tasks import NLI_LABELS, SENTIMENT_LABELS, SIZES, build_task, random_claim
from minilm.errors import UserError

TASKS = ("sentiment", "nli", "intent", "topic", "translation", "qa", "summarization")
LABELS = {"sentiment": SENTIMENT_LABELS, "nli": NLI_LABELS, "intent": INTENTS, "topic": TOPICS}
CORPUS_STREAM, ANALOGY_STREAM, SIMILARITY_STREAM, SENSE_STREAM = 1, 2, 3, 4

# ----------------------------------------------------------------------------------------------------
# The pretraining corpus: how many lines of each kind
# ----------------------------------------------------------------------------------------------------

CORPUS_MIX = (
    ("country facts", 12000, country_fact),
    ("gendered roles", 8000, role_sentence),
    ("animals", 14000, animal_sentence),
    ("people and verbs", 6000, verb_sentence),
    ("hypernyms", 3000, hypernym_sentence),
    ("scenes", 3000, scene_sentence),
    ("claims", 2000, lambda rng: random_claim(rng).text()),
    ("reviews", 4000, lambda rng: review(rng)[0]),
    ("stories", 2000, lambda rng: rng.pick(STORY_KINDS)(rng).text),
)
SENSE_LINES, TOPIC_LINES, COMMAND_LINES = 200, 400, 150  # per sense, per topic, per intent


@lru_cache(maxsize=4)
def _corpus(seed: int) -> tuple[str, ...]:
    rng = Rng(seed, CORPUS_STREAM)
    lines = [make(rng) for _, count, make in CORPUS_MIX for _ in range(count)]
    lines += [sense_sentence(rng, w, s) for w in POLYSEMY for s in POLYSEMY[w] for _ in range(SENSE_LINES)]
    lines += [topic_sentence(rng, t) for t in TOPICS for _ in range(TOPIC_LINES)]
    lines += [command(rng, i) for i in INTENTS for _ in range(COMMAND_LINES)]
    rng.shuffle(lines)
    return tuple(synonymize(line, rng) for line in lines)


def generate_corpus(seed: int = 0) -> list[str]:
    """The pretraining corpus: one sentence or short story per line, lowercase, spaced punctuation."""
    return list(_corpus(seed))


@lru_cache(maxsize=4)
def _corpus_lines(seed: int) -> frozenset[str]:
    return frozenset(_corpus(seed))


# ----------------------------------------------------------------------------------------------------
# Analogies and word similarity
# ----------------------------------------------------------------------------------------------------


def analogy_pairs() -> dict[str, list[tuple[str, str]]]:
    """Section name -> the word pairs that share one relation (Google's section names where they exist)."""
    return {
        "capital-common-countries": [(c.capital, c.country) for c in COUNTRIES],
        "family": [(r.male, r.female) for r in ROLES],
        "gram6-nationality-adjective": [(c.country, c.nationality) for c in COUNTRIES],
        "gram8-plural": [(a.sg, a.pl) for a in PLURAL_ANALOGY_ANIMALS],
        "gram9-plural-verbs": [(v.base, v.third) for v in VERBS],
    }


def analogy_questions(seed: int = 0) -> str:
    """Analogies "a b c d" (a:b :: c:d) under ": section" headers, as in Google's questions-words.txt.

    Every ordered pair of distinct pairs of a section is one question (so gensim's
    ``KeyedVectors.evaluate_word_analogies`` reads the text as is); ``seed`` only orders the lines.
    """
    rng = Rng(seed, ANALOGY_STREAM)
    lines = []
    for section, pairs in analogy_pairs().items():
        questions = [f"{a} {b} {c} {d}" for (a, b), (c, d) in itertools.permutations(pairs, 2)]
        rng.shuffle(questions)
        lines += [f": {section}", *questions]
    return "\n".join(lines) + "\n"


SIMILARITY_SCORES = {
    "synonym": 9.0,
    "gender pair": 8.0,
    "same kind": 7.0,
    "same domain": 4.0,
    "unrelated": 1.0,
}


def _similarity_groups() -> dict[str, tuple[str, list[str]]]:
    """Fine category -> (its coarse domain, its words)."""
    groups: dict[str, tuple[str, list[str]]] = {}
    for animal in ANIMALS:
        groups.setdefault(animal.kind, ("animal", []))[1].append(animal.sg)
    for food in FOODS:
        groups.setdefault(food.kind, ("food", []))[1].append(food.sg)
    for name, words in (
        ("vehicle", [v.sg for v in VEHICLES]),
        ("instrument", [i.sg for i in INSTRUMENTS]),
        ("colour", list(COLOURS)),
        ("number", list(NUMBERS[1:])),
        ("day", list(DAYS)),
        ("capital", [c.capital for c in COUNTRIES]),
        ("country", [c.country for c in COUNTRIES]),
    ):
        groups[name] = (name, words)
    return groups


def similarity_pairs(seed: int = 0) -> list[tuple[str, str, float]]:
    """Word pairs with a similarity score in [0, 10] that follows from the category structure.

    9 synonyms (big/large), 8 gender pairs (king/queen), 7 same kind (dog/cat), 4 same domain but
    another kind (dog/eagle, apple/carrot), 1 unrelated (dog/piano).  All synonym and gender pairs are
    included; ``seed`` draws 60 pairs of each of the other levels.  For Spearman correlation with
    cosine similarities.
    """
    rng = Rng(seed, SIMILARITY_STREAM)
    groups = list(_similarity_groups().values())
    pairs = [(a, b, SIMILARITY_SCORES["synonym"]) for a, b, *_ in SYNONYMS]
    pairs += [(r.male, r.female, SIMILARITY_SCORES["gender pair"]) for r in ROLES]
    seen = {frozenset(p[:2]) for p in pairs}
    for level in ("same kind", "same domain", "unrelated"):
        count = 0
        while count < 60:
            (domain1, words1), (domain2, words2) = rng.pick(groups), rng.pick(groups)
            same_kind = words1 is words2
            same_domain = domain1 == domain2 and not same_kind
            wanted = {"same kind": same_kind, "same domain": same_domain, "unrelated": domain1 != domain2}[
                level
            ]
            if not wanted:
                continue
            a, b = rng.pick(words1), rng.pick(words2)
            if a == b or frozenset((a, b)) in seen:
                continue
            seen.add(frozenset((a, b)))
            pairs.append((a, b, SIMILARITY_SCORES[level]))
            count += 1
    return pairs


# ----------------------------------------------------------------------------------------------------
# Polysemy
# ----------------------------------------------------------------------------------------------------


def sense_examples(seed: int = 0, n: int = 400) -> list[dict[str, Any]]:
    """``n`` sentences containing a polysemous word, labelled by the sense their template encodes.

    Each dict: ``sentence``, ``word`` (e.g. "bank"), ``sense`` (e.g. "river" or "money") and ``index``
    (the word's position in ``sentence.split()``).  Words and senses take turns, so the examples are
    balanced.  The sentences come from the same templates as the corpus lines of that sense, drawn from
    their own random stream: they are "like the corpus", and a short template can repeat a corpus line.
    """
    if n < 0:
        raise UserError(f"n={n}: expected a non-negative number of sense examples")
    rng = Rng(seed, SENSE_STREAM)
    senses = [(w, s) for w in POLYSEMY for s in POLYSEMY[w]]
    out = []
    for i in range(n):
        word, sense = senses[i % len(senses)]
        sentence = sense_sentence(rng, word, sense)
        out.append(
            {"sentence": sentence, "word": word, "sense": sense, "index": sentence.split().index(word)}
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Labelled tasks
# ----------------------------------------------------------------------------------------------------


def generate_task(name: str, seed: int = 0) -> dict[str, Any]:
    """The splits ``{"train", "dev", "test"}`` of task ``name`` (one of :data:`TASKS`).

    Each split is a list of dicts, except for ``qa`` where each split is one SQuAD v1.1 dict::

        sentiment      {"text", "label"}  label in LABELS["sentiment"] = ("negative", "positive")
        nli            {"premise", "hypothesis", "label"}  label in ("entailment", "neutral", "contradiction")
        intent         {"text", "label"}  label in LABELS["intent"] (play_music, set_alarm, book_table, ...)
        topic          {"text", "label"}  label in LABELS["topic"] (animals, food, sports, travel, ...)
        translation    {"source", "target"}  English -> Kalo (SOV, adjectives after nouns; translate.py)
        qa             {"version": "1.1", "data": [{"title", "paragraphs": [{"context", "qas": [{"id",
                        "question", "answers": [{"text", "answer_start"}]}]}]}]}
        summarization  {"document", "summary"}  a short story -> one sentence

    Split sizes are :data:`minilm.data.world.tasks.SIZES` (for qa: questions).  No text repeats across
    splits, and no dev/test text occurs in ``generate_corpus(seed)``.
    """
    if name not in TASKS:
        raise UserError(f"unknown world task {name!r}; allowed: {', '.join(TASKS)}")
    return build_task(name, seed, _corpus_lines(seed))


__all__ = [
    "LABELS",
    "SIZES",
    "TASKS",
    "analogy_questions",
    "generate_corpus",
    "generate_task",
    "sense_examples",
    "similarity_pairs",
]
