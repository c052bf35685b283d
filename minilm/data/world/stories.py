"""Short stories of the world language, with questions whose answers are spans, and a one-line summary.

A story is built from a handful of sampled facts (who, where, when, how, what).  Each sentence states some
of them; each question names the sentence that holds its answer, so the answer span is known by
construction.  The summary combines facts from several sentences (and, for matches, works out who won),
so it is never just the first sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minilm.data.world.grammar import Person, Rng, fill
from minilm.data.world.lexicon import (
    ANIMALS,
    COLOURS,
    COUNTRIES,
    DAYS,
    DISHES,
    FOODS,
    JOBS,
    NUMBERS,
    PET_NAMES,
    WEATHER,
)

PLACES = (
    "park",
    "garden",
    "market",
    "station",
    "library",
    "museum",
    "harbour",
    "church",
    "bakery",
    "zoo",
    "beach",
    "square",
)
RELATIVES = ("aunt", "uncle", "grandmother", "grandfather", "sister", "brother", "cousin")
TRAVEL_VEHICLES = ("train", "plane", "bus", "boat", "car")


@dataclass
class Story:
    sentences: list[str]
    questions: list[tuple[str, str, int]] = field(default_factory=list)  # (question, answer, sentence index)
    summary: str = ""

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def spans(self) -> list[tuple[str, str, int]]:
        """``(question, answer, answer_start)`` with ``text[answer_start:][:len(answer)] == answer``."""
        starts, offset = [], 0
        for sentence in self.sentences:
            starts.append(offset)
            offset += len(sentence) + 1
        out = []
        for question, answer, index in self.questions:
            within = f" {self.sentences[index]} ".find(f" {answer} ")  # whole words only
            if within < 0:
                raise AssertionError(f"answer {answer!r} is not in sentence {self.sentences[index]!r}")
            out.append((question, answer, starts[index] + within))
        return out


def visit_story(rng: Rng) -> Story:
    """Someone travels from their home city to visit a relative in another city."""
    person = Person(rng)
    name, subj, poss = person.name, person.subj, person.poss
    home, dest = (c.capital for c in rng.sample(COUNTRIES, 2))
    day, day_back = rng.sample(DAYS, 2)
    job, vehicle, relative = rng.pick(JOBS), rng.pick(TRAVEL_VEHICLES), rng.pick(RELATIVES)
    number, gift = rng.pick(NUMBERS[1:]), rng.pick(FOODS).pl
    place, dish, weather = rng.pick(PLACES), rng.pick(DISHES), rng.pick(WEATHER)
    s = [f"{name} is a {job} who lives in {home} ."]
    q = [(f"where does {name} live ?", home, 0), (f"what is {name} 's job ?", job, 0)]
    if rng.chance(0.6):
        pet, colour, animal = rng.pick(PET_NAMES), rng.pick(COLOURS), rng.pick(ANIMALS).sg
        s.append(f"{subj} has a {colour} {animal} called {pet} .")
        q += [(f"what is the name of {name} 's {animal} ?", pet, 1), (f"what colour is {pet} ?", colour, 1)]
    i = len(s)
    s.append(f"on {day} , {subj} took the {vehicle} to {dest} to visit {poss} {relative} .")
    q += [
        (f"when did {name} leave for {dest} ?", day, i),
        (f"how did {name} travel to {dest} ?", f"the {vehicle}", i),
        (f"who did {name} visit in {dest} ?", f"{poss} {relative}", i),
        (f"which city did {name} go to ?", dest, i),
    ]
    s.append(f"{subj} brought {number} {gift} as a gift .")
    q += [
        (f"what did {name} bring as a gift ?", f"{number} {gift}", i + 1),
        (f"how many {gift} did {name} bring ?", number, i + 1),
    ]
    s.append(
        fill(
            "it was {weather} there , so they [went|walked] to the {place} together .",
            rng,
            weather=weather,
            place=place,
        )
    )
    q += [
        (f"what was the weather like in {dest} ?", weather, i + 2),
        ("where did they go together ?", f"the {place}", i + 2),
    ]
    s.append(fill("they ate {dish} and talked about [the old days|the family|the news] .", rng, dish=dish))
    q.append(("what did they eat ?", dish, i + 3))
    s.append(f"{name} came back home on {day_back} .")
    q.append((f"when did {name} come back ?", day_back, i + 4))
    summary = f"{name} took the {vehicle} from {home} to {dest} to visit {poss} {relative} ."
    return Story(s, q, summary)


def match_story(rng: Rng) -> Story:
    """A team game; the summary has to work out the winner from the final score."""
    person = Person(rng)
    name = person.name
    home, away = (c.capital for c in rng.sample(COUNTRIES, 2))
    sport, unit = rng.pick(
        (("football", "goals"), ("hockey", "goals"), ("rugby", "points"), ("basketball", "points"))
    )
    ours, theirs = rng.sample(NUMBERS[1:8], 2)
    won = NUMBERS.index(ours) > NUMBERS.index(theirs)
    day, weather = rng.pick(DAYS), rng.pick(WEATHER)
    s = [
        f"{name} plays {sport} for the {home} team .",
        f"on {day} , they played at home against the {away} team .",
        fill("it was {weather} and the stadium was [full|half empty|noisy] .", rng, weather=weather),
        f"{name} scored first , and the crowd cheered .",
        f"in the end {name} 's team had {ours} {unit} and the visitors had {theirs} .",
        f"the coach was {'pleased' if won else 'disappointed'} after the game .",
    ]
    q = [
        (f"what sport does {name} play ?", sport, 0),
        (f"who did {name} 's team play against ?", f"the {away} team", 1),
        ("when was the game ?", day, 1),
        (f"how many {unit} did the {away} team have ?", theirs, 4),
        (f"how many {unit} did the {home} team have ?", ours, 4),
        ("what was the weather like ?", weather, 2),
    ]
    winner, loser, high, low = (home, away, ours, theirs) if won else (away, home, theirs, ours)
    return Story(s, q, f"the {winner} team beat the {loser} team {high} to {low} at {sport} .")


def lost_pet_story(rng: Rng) -> Story:
    """A pet runs away and is found somewhere else."""
    person = Person(rng)
    name, subj, poss = person.name, person.subj, person.poss
    pet, colour, animal = rng.pick(PET_NAMES), rng.pick(COLOURS), rng.pick(ANIMALS).sg
    lost_at, searched1, searched2, found_at = rng.sample(PLACES, 4)
    day, weather = rng.pick(DAYS), rng.pick(WEATHER)
    s = [
        f"{name} has a {colour} {animal} called {pet} .",
        f"on {day} , {pet} ran away from the {lost_at} .",
        f"{name} looked for {pet} in the {searched1} and in the {searched2} .",
        fill("it was {weather} and {subj} was [worried|sad|upset] .", rng, weather=weather, subj=subj),
        fill(
            "in the evening , {name} found {pet} [asleep|hiding] near the {found_at} .",
            rng,
            name=name,
            pet=pet,
            found_at=found_at,
        ),
        f"{subj} gave {pet} some {rng.pick(ANIMALS).food} and took it home .",
    ]
    q = [
        (f"what kind of animal is {pet} ?", animal, 0),
        (f"where did {pet} run away from ?", f"the {lost_at}", 1),
        (f"where did {name} find {pet} ?", f"the {found_at}", 4),
        (f"what colour is {pet} ?", colour, 0),
    ]
    return Story(s, q, f"{name} found {poss} lost {animal} {pet} near the {found_at} .")


def birthday_story(rng: Rng) -> Story:
    """Someone cooks for a relative's birthday party."""
    person = Person(rng)
    name, subj, poss = person.name, person.subj, person.poss
    relative, dish, day = rng.pick(RELATIVES), rng.pick(DISHES), rng.pick(DAYS)
    number, guests = rng.sample(NUMBERS[1:], 2)
    food = rng.pick(FOODS).pl
    s = [
        f"{name} 's {relative} had a birthday on {day} .",
        f"{name} decided to make {dish} for the party .",
        f"{subj} bought {number} {food} at the market .",
        fill("the kitchen was [hot|small|busy] and the {dish} took [two|three] hours .", rng, dish=dish),
        fill(
            "{guests} guests came and everyone [loved|enjoyed|praised] the {dish} .",
            rng,
            guests=guests,
            dish=dish,
        ),
    ]
    q = [
        (f"whose birthday was it on {day} ?", f"{name} 's {relative}", 0),
        (f"what did {name} cook ?", dish, 1),
        ("how many guests came ?", guests, 4),
        (f"what did {name} buy at the market ?", f"{number} {food}", 2),
    ]
    return Story(s, q, f"{name} cooked {dish} for {poss} {relative} 's birthday party .")


STORY_KINDS = (visit_story, match_story, lost_pet_story, birthday_story)
