"""Labelled tasks over the world language, each with train / dev / test splits.

Every example's label follows from how it was generated (a review's polarity and negation, the
hypernym tree for NLI, the template's intent or topic, the transfer rules for translation, the sentence a
QA answer was written into).  Splits never share an exact text, and the dev and test texts never occur
in the pretraining corpus (:func:`minilm.data.world.generate_corpus` of the same seed).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import cache
from typing import Any, NamedTuple

from minilm.data.world.grammar import Person, Rng, article
from minilm.data.world.lexicon import FEMALE_NAMES, HYPERNYM, MALE_NAMES, PLACE_PARENT, ROOMS
from minilm.data.world.sentences import INTENTS, TOPICS, command, review, topic_text
from minilm.data.world.stories import STORY_KINDS
from minilm.data.world.translate import translation_pair

NLI_LABELS = ("entailment", "neutral", "contradiction")
SENTIMENT_LABELS = ("negative", "positive")
SIZES = {  # task -> (train, dev, test); for qa the sizes count questions
    "sentiment": (4000, 400, 400),
    "nli": (4000, 400, 400),
    "intent": (3000, 300, 300),
    "topic": (3000, 300, 300),
    "translation": (5000, 500, 500),
    "qa": (1000, 250, 250),
    "summarization": (2000, 200, 200),
}
# Independent random streams per task (fixed integers, never ``hash()``).
STREAMS = {
    "sentiment": 11,
    "nli": 12,
    "intent": 13,
    "topic": 14,
    "translation": 15,
    "qa": 16,
    "summarization": 17,
}


def split_unique(
    make: Callable[[], dict[str, Any]],
    key: Callable[[dict[str, Any]], Hashable],
    sizes: tuple[int, int, int],
    held_out: Callable[[dict[str, Any]], bool],
) -> dict[str, list[dict[str, Any]]]:
    """Draw examples until each split is full, skipping exact repeats of any earlier example.

    ``held_out(example)`` is True for an example that must not go to dev or test (its text is in the
    pretraining corpus); such an example may still go to train.
    """
    seen: set[Hashable] = set()
    splits: dict[str, list[dict[str, Any]]] = {}
    for name, size in zip(("train", "dev", "test"), sizes, strict=True):
        examples: list[dict[str, Any]] = []
        tries = 0
        while len(examples) < size:
            tries += 1
            if tries > 100 * size:
                raise AssertionError(
                    f"the generator ran out of distinct examples for {name} ({len(examples)}/{size})"
                )
            example = make()
            k = key(example)
            if k in seen or (name != "train" and held_out(example)):
                continue
            seen.add(k)
            examples.append(example)
        splits[name] = examples
    return splits


# ----------------------------------------------------------------------------------------------------
# NLI by monotonicity over the hypernym tree
#
# A claim is "NAME VERBED a(n) OBJECT [in PLACE]" (positive: some event of that kind happened) or
# "NAME did not VERB any OBJECT [in PLACE]" (negative: no such event).  With <= the hypernym order
# (dog <= mammal <= animal, paris <= france, kitchen <= house, and any place <= no place at all):
#   pos P |= pos H        iff  P.obj <= H.obj and P.place <= H.place          (upward monotone)
#   neg P |= neg H        iff  H.obj <= P.obj and H.place <= P.place          (downward monotone)
#   pos P contradicts neg H  iff  pos P |= the positive form of H
#   neg P contradicts pos H  iff  H |= the positive form of P
# Anything else -- including a different person or verb -- is neutral.
# ----------------------------------------------------------------------------------------------------


class Claim(NamedTuple):
    positive: bool
    name: str
    verb: str  # base form
    obj: str  # a node of the hypernym tree
    place: str | None  # a node of the place tree, or None for "anywhere"

    def text(self) -> str:
        where = (
            ""
            if self.place is None
            else f" in {'the ' if self.place in ROOMS + ('house',) else ''}{self.place}"
        )
        if self.positive:
            return f"{self.name} {NLI_VERBS[self.verb][0]} {article(self.obj)} {self.obj}{where} ."
        return f"{self.name} did not {self.verb} any {self.obj}{where} ."


# base form -> (past tense, the roots of the objects it takes)
NLI_VERBS = {
    "see": ("saw", ("animal", "food", "vehicle", "instrument")),
    "feed": ("fed", ("animal",)),
    "buy": ("bought", ("food", "vehicle", "instrument")),
    "taste": ("tasted", ("food",)),
    "draw": ("drew", ("animal", "food", "vehicle", "instrument")),
    "hear": ("heard", ("animal", "instrument")),
    "find": ("found", ("animal", "food", "vehicle", "instrument")),
}
NLI_PLACES = (*PLACE_PARENT, *dict.fromkeys(PLACE_PARENT.values()))  # cities, rooms, countries, house


@cache
def _ancestors(node: str, places: bool) -> tuple[str, ...]:
    parent = PLACE_PARENT if places else HYPERNYM
    chain = [node]
    while chain[-1] in parent:
        chain.append(parent[chain[-1]])
    return tuple(chain)


def ancestors(node: str, parent: dict[str, str]) -> tuple[str, ...]:
    """``node`` and everything above it in ``parent`` (HYPERNYM or PLACE_PARENT), nearest first."""
    return _ancestors(node, parent is PLACE_PARENT)


def below_or_equal(x: str | None, y: str | None, parent: dict[str, str]) -> bool:
    """``x <= y``: y is x or an ancestor of x; None (no restriction) is above everything."""
    if y is None:
        return True
    return x is not None and y in ancestors(x, parent)


def nli_label(premise: Claim, hypothesis: Claim) -> str:
    if (premise.name, premise.verb) != (hypothesis.name, hypothesis.verb):
        return "neutral"
    p_in_h = below_or_equal(premise.obj, hypothesis.obj, HYPERNYM) and below_or_equal(
        premise.place, hypothesis.place, PLACE_PARENT
    )
    h_in_p = below_or_equal(hypothesis.obj, premise.obj, HYPERNYM) and below_or_equal(
        hypothesis.place, premise.place, PLACE_PARENT
    )
    if premise.positive == hypothesis.positive:
        return "entailment" if (p_in_h if premise.positive else h_in_p) else "neutral"
    return "contradiction" if (p_in_h if premise.positive else h_in_p) else "neutral"


_OBJECT_NODES = tuple(dict.fromkeys([*HYPERNYM, *HYPERNYM.values()]))


@cache
def _objects_for(verb: str) -> tuple[str, ...]:
    roots = NLI_VERBS[verb][1]
    return tuple(n for n in _OBJECT_NODES if ancestors(n, HYPERNYM)[-1] in roots)


@cache
def _descendants(node: str, nodes: tuple[str, ...], places: bool) -> tuple[str, ...]:
    """The nodes at or below ``node``."""
    return tuple(n for n in nodes if node in _ancestors(n, places))


def _related(node: str | None, nodes: tuple[str, ...], parent: dict[str, str], rng: Rng) -> str | None:
    """A node near ``node``: itself, an ancestor, a descendant or any other (for hypotheses)."""
    if node is None:
        return rng.pick(nodes) if rng.chance(0.3) else None
    move = rng.below(4)
    if move == 0:
        return rng.pick(ancestors(node, parent))
    if move == 1:
        return rng.pick(_descendants(node, nodes, parent is PLACE_PARENT))
    if move == 2:
        return None if parent is PLACE_PARENT and rng.chance(0.5) else rng.pick(nodes)
    return node


def random_claim(rng: Rng) -> Claim:
    """A claim about a random person, verb, object (of a kind the verb takes) and maybe a place."""
    verb = rng.pick(tuple(NLI_VERBS))
    place = rng.pick(NLI_PLACES) if rng.chance(0.6) else None
    return Claim(rng.chance(0.5), Person(rng).name, verb, rng.pick(_objects_for(verb)), place)


def nli_example(rng: Rng) -> dict[str, str]:
    """A premise, then hypotheses perturbed from it until one has the (uniformly drawn) target label.

    A premise that admits no such hypothesis (e.g. "mary saw an animal" has no entailed hypothesis
    other than itself) is replaced by a fresh one after a few tries.
    """
    target = rng.pick(NLI_LABELS)
    while True:
        premise = random_claim(rng)
        verb, objects = premise.verb, _objects_for(premise.verb)
        for _ in range(30):
            name = premise.name if rng.chance(0.9) else rng.pick(MALE_NAMES + FEMALE_NAMES)
            hypothesis = Claim(
                premise.positive if rng.chance(0.5) else not premise.positive,
                name,
                verb,
                _related(premise.obj, objects, HYPERNYM, rng),
                _related(premise.place, NLI_PLACES, PLACE_PARENT, rng),
            )
            if hypothesis != premise and nli_label(premise, hypothesis) == target:
                return {"premise": premise.text(), "hypothesis": hypothesis.text(), "label": target}


# ----------------------------------------------------------------------------------------------------
# The task builders
# ----------------------------------------------------------------------------------------------------


def build_task(name: str, seed: int, corpus_lines: frozenset[str]) -> dict[str, Any]:
    """The splits of task ``name``; no dev/test text may be one of ``corpus_lines``."""
    rng = Rng(seed, STREAMS[name])
    sizes = SIZES[name]

    def in_corpus(text: str) -> bool:
        return text in corpus_lines

    if name == "sentiment":

        def make() -> dict[str, Any]:
            text, label = review(rng)
            return {"text": text, "label": label}

        return split_unique(make, lambda e: e["text"], sizes, lambda e: in_corpus(e["text"]))
    if name == "nli":
        return split_unique(
            lambda: nli_example(rng), lambda e: (e["premise"], e["hypothesis"]), sizes, lambda e: False
        )  # a pair is never a corpus line (its premise alone may be)
    if name in ("intent", "topic"):
        labels, make_text = (INTENTS, command) if name == "intent" else (TOPICS, topic_text)

        def make() -> dict[str, Any]:
            label = rng.pick(labels)
            return {"text": make_text(rng, label), "label": label}

        return split_unique(make, lambda e: e["text"], sizes, lambda e: in_corpus(e["text"]))
    if name == "translation":

        def make() -> dict[str, Any]:
            source, target = translation_pair(rng)
            return {"source": source, "target": target}

        return split_unique(make, lambda e: e["source"], sizes, lambda e: in_corpus(e["source"]))
    if name == "summarization":

        def make() -> dict[str, Any]:
            story = rng.pick(STORY_KINDS)(rng)
            return {"document": story.text, "summary": story.summary}

        return split_unique(make, lambda e: e["document"], sizes, lambda e: in_corpus(e["document"]))
    if name == "qa":
        return _qa(rng, sizes, corpus_lines)
    raise KeyError(name)


def _qa(rng: Rng, sizes: tuple[int, int, int], corpus_lines: frozenset[str]) -> dict[str, Any]:
    """SQuAD v1.1 dicts: one article per story, 2-4 questions per story, ``sizes`` counted in questions."""
    seen: set[str] = set()
    out: dict[str, Any] = {}
    for split, size in zip(("train", "dev", "test"), sizes, strict=True):
        articles, count = [], 0
        while count < size:
            story = rng.pick(STORY_KINDS)(rng)
            context = story.text
            if context in seen or (split != "train" and context in corpus_lines):
                continue
            seen.add(context)
            spans = story.spans()
            chosen = rng.sample(spans, min(len(spans), 2 + rng.below(3), size - count))
            qas = [
                {
                    "id": f"{split}-{len(articles):04d}-{i}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": start}],
                }
                for i, (question, answer, start) in enumerate(chosen)
            ]
            articles.append(
                {"title": f"{split} story {len(articles)}", "paragraphs": [{"context": context, "qas": qas}]}
            )
            count += len(qas)
        out[split] = {"version": "1.1", "data": articles}
    return out
