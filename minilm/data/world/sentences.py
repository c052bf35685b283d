"""Sentence generators of the world language: one function per kind of sentence.

Each function takes an :class:`~minilm.data.world.grammar.Rng` and returns one lowercase sentence with
spaced punctuation ("the dogs do not sleep in the barn .").  The corpus mixes all of them; the labelled
tasks reuse the ones that carry a label (:func:`review` returns its sentiment, :func:`topic_text` and
:func:`command` are drawn per label).
"""

from __future__ import annotations

from minilm.data.world.grammar import Person, Rng, article, fill, verb_phrase
from minilm.data.world.lexicon import (
    ANIMALS,
    COLOURS,
    COUNTRIES,
    DAYS,
    DESCRIPTIVE,
    DISHES,
    DRINKS,
    FOODS,
    GENERIC_POLAR,
    HYPERNYM,
    INSTRUMENTS,
    JOBS,
    KIND_PHRASES,
    KIND_PLURALS,
    NUMBERS,
    POLYSEMY,
    REVIEW_DOMAINS,
    ROLES,
    SEASONS,
    VEHICLES,
    VERBS,
    WEATHER,
    Animal,
)

# ----------------------------------------------------------------------------------------------------
# Countries, capitals, nationalities: each template ties two of the three words of one country together,
# or puts one of them in the context typical of its kind (city / country / nationality adjective).
# ----------------------------------------------------------------------------------------------------

COUNTRY_TEMPLATES = (
    "{k} is the capital of {c} .",
    "the capital of {c} is {k} .",
    "{c} 's capital is {k} .",
    "{k} , {c} , is [a big|an old|a busy|a beautiful] city .",
    "{name} lives in {k} , {c} .",
    "{name} flew to {k} in {c} [on {day}|last {season}|with {poss} family] .",
    "the {n} capital {k} is [busy|old|beautiful|crowded] .",
    "{k} is the {n} capital .",
    "{name} is {n} and grew up in {k} .",
    "[many|most] {n} people live in {c} .",
    "the {n} [chef|team|painter|writer|singer] [came from|returned to|travelled around] {c} .",
    "{n} [food|music|art] is [popular|famous] in {c} .",
    "{name} ate {n} {dish} in {k} .",
    "{dish} [come|comes] from {c} .",
    "{c} is known for {dish} .",
    "{c} is a country in {t} .",
    "the streets of {k} were [busy|quiet|crowded|wet] [at night|in the morning|on {day}] .",
    "the mayor of {k} opened a new [bridge|park|museum] .",
    "the government of {c} [met|spoke|voted] [on {day}|last week|in the capital] .",
    "the {n} [flag|anthem|language|coast] is [old|famous|beautiful] .",
    "{name} flew from {k} , the capital of {c} , to {k2} .",
    "{c} [borders|trades with|signed a treaty with] {c2} .",
    "the {n} and the {n2} [players|singers|chefs] met in {k} .",
)


def country_fact(rng: Rng) -> str:
    first, second = rng.sample(COUNTRIES, 2)
    person = Person(rng)
    return fill(
        rng.pick(COUNTRY_TEMPLATES),
        rng,
        c=first.country,
        k=first.capital,
        n=first.nationality,
        t=first.continent,
        dish=first.dish,
        c2=second.country,
        k2=second.capital,
        n2=second.nationality,
        day=rng.pick(DAYS),
        season=rng.pick(SEASONS),
        **person.slots(),
    )


# ----------------------------------------------------------------------------------------------------
# Gendered roles: the role word with its role's own phrases and pronouns of its gender
# ----------------------------------------------------------------------------------------------------

ROLE_TEMPLATES = (
    "the {w} {phrase} .",
    "{name} was the {w} who {phrase} .",
    "the {adj} {w} {phrase} and then {subj} [smiled|went home|fell asleep] .",
    "{subj} was a {w} and {subj} {phrase} .",
    "everyone knew that the {w} {phrase} .",
    "the {w} said that {subj} [was tired|was happy|was hungry] .",
    "{name} , the {w} , {phrase} .",
    "when the {w} {phrase} , {subj} felt [proud|calm|glad] .",
)


def role_sentence(rng: Rng) -> str:
    role = rng.pick(ROLES)
    person = Person(rng)
    word = role.female if person.gender == "female" else role.male
    phrase = rng.pick(role.phrases).format(poss=person.poss)
    return fill(
        rng.pick(ROLE_TEMPLATES), rng, w=word, phrase=phrase, adj=rng.pick(DESCRIPTIVE), **person.slots()
    )


# ----------------------------------------------------------------------------------------------------
# Animals: agreement, negation (of false facts), adjectives, prepositional phrases
# ----------------------------------------------------------------------------------------------------

SINGULAR_DETERMINERS = ("the", "the", "a", "this", "every", "my", "one", "that")
PLURAL_DETERMINERS = ("the", "the", "two", "three", "four", "many", "some", "these", "all", "my", "those")
ANIMAL_ADJECTIVES = (*COLOURS, "big", "small", "old", "young", "quick", "lazy", "hungry", "wild", "tame")


def animal_phrase(animal: Animal, plural: bool, rng: Rng) -> str:
    """A noun phrase: determiner, maybe an adjective, the noun ("the big dog", "three brown mice")."""
    det = rng.pick(PLURAL_DETERMINERS if plural else SINGULAR_DETERMINERS)
    noun = animal.pl if plural else animal.sg
    words = [noun]
    if rng.chance(0.4):
        words.insert(0, rng.pick(ANIMAL_ADJECTIVES))
    if det == "a":
        det = article(words[0])
    return f"{det} {' '.join(words)}"


def animal_sentence(rng: Rng) -> str:
    """Most choices state a fact about this animal (its sound, home, food, young) or its kind; the rest
    show agreement and negation with verbs and adjectives any animal takes."""
    animal = rng.pick(ANIMALS)
    plural = rng.chance(0.5)
    subject = animal_phrase(animal, plural, rng)
    do = "do" if plural else "does"
    choice = rng.below(8)
    if choice == 0:  # its sound
        if rng.chance(0.2):
            return fill(f"{subject} {do} not {animal.sound[0]} [at night|at all|in the {animal.home}] .", rng)
        verb = animal.sound[0] if plural else animal.sound[1]
        tail = rng.pick(("", " at night", " loudly", " in the morning", f" in the {animal.home}"))
        return f"{subject} {verb}{tail} ."
    if choice == 1:  # where it lives
        return f"{subject} {'live' if plural else 'lives'} in the {animal.home} ."
    if choice == 2:  # what it eats; a negated fact names another animal's food
        if rng.chance(0.15):
            other = rng.pick([a for a in ANIMALS if a.food != animal.food])
            return f"{subject} {do} not eat {other.food} ."
        return f"{subject} {'eat' if plural else 'eats'} {animal.food} ."
    if choice == 3:  # "there is / are"
        count = rng.pick(NUMBERS[1:]) if plural else article(animal.sg)
        noun = animal.pl if plural else animal.sg
        return f"there {'are' if plural else 'is'} {count} {noun} in the {animal.home} ."
    if choice == 4:  # its young
        how_many = rng.pick(("two", "three", "four", "some", "many"))
        return f"{subject} {'have' if plural else 'has'} {how_many} {animal.young} ."
    if choice == 5:  # what its kind does
        return f"{subject} {rng.pick(KIND_PHRASES[animal.kind])[plural]} ."
    negation = rng.pick(("not", "never")) if rng.chance(0.25) else None
    if choice == 6:  # a general verb an animal can do, with a complement
        verb = rng.pick([v for v in VERBS if v.animals])
        tense = "past" if rng.chance(0.3) else "present"
        where = f" in the {animal.home}" if rng.chance(0.5) else ""
        return f"{subject} {verb_phrase(verb, plural, tense, negation)} {rng.pick(verb.complements)}{where} ."
    copula = ("are" if plural else "is") + (" not" if negation else "")
    return f"{subject} {copula} {rng.pick(ANIMAL_ADJECTIVES)} ."


# ----------------------------------------------------------------------------------------------------
# People doing things: agreement with names, pronouns, plural groups; tense; negation
# ----------------------------------------------------------------------------------------------------

PLURAL_PEOPLE = (
    "the children",
    "my friends",
    "the students",
    "the teachers",
    "the farmers",
    "my parents",
    "the twins",
    "the neighbours",
    "we",
    "they",
    "you",
)
TIMES = ("every day", "on {day}", "in the evening", "in the {season}", "at the weekend", "after school")


def verb_sentence(rng: Rng) -> str:
    verb = rng.pick(VERBS)
    kind = rng.below(4)
    if kind == 0:
        subject, plural = Person(rng).name, False
    elif kind == 1:
        subject, plural = rng.pick(("he", "she", f"the {rng.pick(JOBS)}")), False
    elif kind == 2:
        subject, plural = rng.pick(PLURAL_PEOPLE), True
    else:
        subject, plural = rng.pick(("i", "you", "we", "they", f"the {rng.pick(JOBS)}s")), True
    tense = "past" if rng.chance(0.25) else "present"
    negation = rng.pick((None, None, None, "not", "never"))
    when = fill(rng.pick(TIMES), rng, day=rng.pick(DAYS), season=rng.pick(SEASONS)) if rng.chance(0.4) else ""
    tail = f" {when}" if when else ""
    return f"{subject} {verb_phrase(verb, plural, tense, negation)} {rng.pick(verb.complements)}{tail} ."


# ----------------------------------------------------------------------------------------------------
# The hypernym tree, stated: "a dog is a mammal", "apples are fruits", "every owl is an animal"
# ----------------------------------------------------------------------------------------------------

_HYPERNYM_CHILDREN = [*ANIMALS, *FOODS, *VEHICLES, *INSTRUMENTS]


def hypernym_sentence(rng: Rng) -> str:
    thing = rng.pick(_HYPERNYM_CHILDREN)
    parent = HYPERNYM[thing.sg]
    ancestor = HYPERNYM.get(parent, parent)  # grandparent where there is one
    kind = rng.pick((parent, parent, ancestor))
    siblings = [t for t in _HYPERNYM_CHILDREN if HYPERNYM[t.sg] == parent and t.sg != thing.sg]
    other = rng.pick(siblings)
    kinds = KIND_PLURALS[parent]
    templates = (
        f"{article(thing.sg)} {thing.sg} is {article(kind)} {kind} .",
        f"{thing.pl} are {KIND_PLURALS[kind]} .",
        f"every {thing.sg} is {article(kind)} {kind} .",
        f"{article(thing.sg)} {thing.sg} is a kind of {kind} .",
        f"{thing.pl} and {other.pl} are both {kinds} .",
        f"{kinds} such as {thing.pl} and {other.pl} [are common|are everywhere|are sold here] .",
        f"{article(thing.sg)} {thing.sg} is not {article(other.sg)} {other.sg} , but both are {kinds} .",
    )
    return fill(rng.pick(templates), rng)


# ----------------------------------------------------------------------------------------------------
# Everyday scenes: colours, synonyms, vehicles, instruments, food
# ----------------------------------------------------------------------------------------------------

SCENE_TEMPLATES = (
    "the {size} {colour} {vehicle} is parked [near|behind|outside] the shop .",
    "{name} bought {a_colour} {colour} {instrument} at the shop .",
    "{name} played the {instrument} [at the concert|in the band|for {poss} friends] .",
    "{name} took the {vehicle} to {capital} [on {day}|last {season}|with {poss} family] .",
    "{name} ate {number} {food_pl} [for lunch|after dinner|at the picnic] .",
    "{name} cooked {dish} in the kitchen and drank {drink} .",
    "there is {a_size} {size} {food} on the table next to the {colour} cup .",
    "we sat on the sofa and drank {drink} [in the evening|after work|in the {season}] .",
    "the {size} {vehicle} drove down the road [slowly|too fast|in the rain] .",
    "{name} was [happy|sad] because the weather was {weather} .",
    "the film will start late , so {name} is angry .",
)


def scene_sentence(rng: Rng) -> str:
    person = Person(rng)
    size, colour, food = rng.pick(("big", "small")), rng.pick(COLOURS), rng.pick(FOODS)
    return fill(
        rng.pick(SCENE_TEMPLATES),
        rng,
        size=size,
        a_size=article(size),
        colour=colour,
        a_colour=article(colour),
        vehicle=rng.pick(VEHICLES).sg,
        instrument=rng.pick(INSTRUMENTS).sg,
        capital=rng.pick(COUNTRIES).capital,
        day=rng.pick(DAYS),
        season=rng.pick(SEASONS),
        number=rng.pick(NUMBERS[1:]),
        food_pl=food.pl,
        food=food.sg,
        dish=rng.pick(DISHES),
        drink=rng.pick(DRINKS),
        weather=rng.pick(WEATHER),
        **person.slots(),
    )


# ----------------------------------------------------------------------------------------------------
# Polysemy: a sentence from the templates of one sense of one word
# ----------------------------------------------------------------------------------------------------


def sense_sentence(rng: Rng, word: str, sense: str) -> str:
    return fill(rng.pick(POLYSEMY[word][sense]), rng, **Person(rng).slots())


# ----------------------------------------------------------------------------------------------------
# Reviews with a sentiment label that negation flips and "but" overrides
# ----------------------------------------------------------------------------------------------------

FLIP = {"positive": "negative", "negative": "positive"}
PLAIN_FRAMES = (
    "{item} was {adj} .",
    "{item} was really {adj} .",
    "i found {item} {adj} .",
    "everyone said {item} was {adj} .",
    "{item} was very {adj} .",
    "{item} was {adj} as always .",
)
NEGATED_FRAMES = (
    "{item} was not {adj} .",
    "{item} was not {adj} at all .",
    "{item} was never {adj} .",
    "{item} was far from {adj} .",
    "i would not call {item} {adj} .",
    "i did not find {item} {adj} .",
    "nobody said {item} was {adj} .",
)
CONTRAST_FRAMES = (
    "{item} was {adj} but {item2} was {adj2} .",
    "although {item} was {adj} , {item2} was {adj2} .",
)
REVIEW_DETERMINERS = ("the", "the", "the", "this", "their", "our")
REVIEW_OPENERS = (
    "we went there on {day} .",
    "i went with {name} last {day} .",
    "we tried it last {season} .",
    "{name} took me there for dinner .",
    "it was my first visit .",
)


def _polar_adjective(domain: str, polarity: str, rng: Rng) -> str:
    special = REVIEW_DOMAINS[domain][1 if polarity == "positive" else 2]
    return rng.pick(special) if rng.chance(0.3) else rng.pick(GENERIC_POLAR[polarity])


def review(rng: Rng) -> tuple[str, str]:
    """One short review and its label ("negative"/"positive"), correct by construction.

    60% of reviews state a polar adjective plainly (label = its polarity), 25% negate it (label = the
    opposite), 15% contrast two clauses with "but"/"although" (label = the last clause).  Adjective
    polarity and negation are independent, so word counts alone cannot tell the label.
    """
    domain = rng.pick(tuple(REVIEW_DOMAINS))
    items = REVIEW_DOMAINS[domain][0]
    item = rng.pick(items)
    phrase = f"{rng.pick(REVIEW_DETERMINERS)} {item}"
    polarity = rng.pick(("positive", "negative"))
    adj = _polar_adjective(domain, polarity, rng)
    form = rng.random()
    if form < 0.6:
        text, label = fill(rng.pick(PLAIN_FRAMES), rng, item=phrase, adj=adj), polarity
    elif form < 0.85:
        text, label = fill(rng.pick(NEGATED_FRAMES), rng, item=phrase, adj=adj), FLIP[polarity]
    else:
        phrase2 = f"{rng.pick(REVIEW_DETERMINERS)} {rng.pick([i for i in items if i != item])}"
        adj2 = _polar_adjective(domain, FLIP[polarity], rng)
        text = fill(rng.pick(CONTRAST_FRAMES), rng, item=phrase, adj=adj, item2=phrase2, adj2=adj2)
        label = FLIP[polarity]
    if rng.chance(0.3):
        opener = fill(
            rng.pick(REVIEW_OPENERS), rng, day=rng.pick(DAYS), season=rng.pick(SEASONS), name=Person(rng).name
        )
        text = f"{opener} {text}"
    return text, label


# ----------------------------------------------------------------------------------------------------
# Topics: two sentences from the templates of one topic
# ----------------------------------------------------------------------------------------------------

TOPIC_TEMPLATES: dict[str, tuple[str, ...]] = {
    "animals": (
        "the {animal} at the zoo [was asleep|ate {food}|hid from the visitors] .",
        "{name} feeds the {animals} on the farm every morning .",
        "wild {animals} live in the {home} and hunt at night .",
        "the vet said the {animal} [was healthy|needed rest|had a sore paw] .",
        "{name} watched the {animals} [through binoculars|from the hide|on a safari] .",
        "a bat flew out of the cave at dusk .",
        "the seal rested on the rocks by the sea .",
    ),
    "food": (
        "{name} cooked {dish} with {food_pl} for dinner .",
        "the recipe needs {number} {food_pl} and a cup of {drink} .",
        "the chef [baked|fried|boiled] the {food_pl} in the kitchen .",
        "we ate {dish} and drank {drink} at the {nationality} restaurant .",
        "the {dish} was [hot|spicy|sweet|salty] and the portions were large .",
        "{name} bought fresh {food_pl} at the market for the soup .",
    ),
    "sports": (
        "{name} 's team won the {sport} match [by two goals|on saturday|in extra time] .",
        "the [coach|captain|referee] [shouted at|praised|warned] the players during the game .",
        "{name} scored a goal in the last minute of the {sport} final .",
        "the fans cheered in the stadium when the [team|players] came out .",
        "{name} swung the bat and hit the ball for six .",
        "the {sport} season [starts|ends] in {season} and every team [trains|plays] hard .",
    ),
    "travel": (
        "{name} flew from {capital} to {capital2} with {poss} passport and one bag .",
        "the [train|plane|ferry] to {capital} was [delayed|cancelled|full] .",
        "we booked a hotel in {capital} for {number} nights .",
        "{name} packed {poss} luggage and went to the airport .",
        "the tourists visited the old town of {capital} and took photos .",
        "{name} bought a ticket for the trip across {country} .",
    ),
    "music": (
        "{name} played the {instrument} at the concert .",
        "the band released a new album with {number} songs .",
        "the choir sang a [hymn|folk song|lullaby] in the church .",
        "{name} learned to play the {instrument} [as a child|last {season}|from {poss} aunt] .",
        "the singer [forgot the words|hit the high note|bowed to the crowd] .",
        "the orchestra tuned their {instrument}s before the show .",
    ),
    "money": (
        "{name} went to the bank to borrow some money .",
        "the price of {food_pl} [went up|fell|doubled] last {season} .",
        "{name} saved {number} hundred pounds [for a car|for the holiday|in the bank] .",
        "the shop charged too much and {name} asked for a refund .",
        "{name} paid the bill with cash and kept the receipt .",
        "the company [made a profit|lost money|raised wages] this year .",
    ),
}
SPORTS = ("football", "tennis", "hockey", "cricket", "rugby", "basketball")
TOPICS = tuple(TOPIC_TEMPLATES)


def topic_sentence(rng: Rng, topic: str) -> str:
    animal, (country, country2), food = rng.pick(ANIMALS), rng.sample(COUNTRIES, 2), rng.pick(FOODS)
    return fill(
        rng.pick(TOPIC_TEMPLATES[topic]),
        rng,
        animal=animal.sg,
        animals=animal.pl,
        home=animal.home,
        food=animal.food,
        dish=rng.pick(DISHES),
        food_pl=food.pl,
        number=rng.pick(NUMBERS[1:]),
        drink=rng.pick(DRINKS),
        nationality=country.nationality,
        sport=rng.pick(SPORTS),
        season=rng.pick(SEASONS),
        capital=country.capital,
        capital2=country2.capital,
        country=country.country,
        instrument=rng.pick(INSTRUMENTS).sg,
        **Person(rng).slots(),
    )


def topic_text(rng: Rng, topic: str) -> str:
    first = topic_sentence(rng, topic)
    second = topic_sentence(rng, topic)
    while second == first:
        second = topic_sentence(rng, topic)
    return f"{first} {second}"


# ----------------------------------------------------------------------------------------------------
# Commands to an assistant, by intent
# ----------------------------------------------------------------------------------------------------

INTENT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "play_music": (
        "play some {genre} [music|songs] [|for me|in the kitchen|in the car]",
        "put on [my|a] {genre} playlist",
        "i want to hear [some|a bit of] {genre}",
        "play the song about the {animal} [|again]",
        "[start|resume] the {genre} [radio|station|album]",
        "play something by a {nationality} {genre} band",
    ),
    "set_alarm": (
        "wake me up at {number} [in the morning|tomorrow|o'clock|on {day}]",
        "set an alarm for {number} [o'clock|thirty|in the morning|on {day}]",
        "i need an alarm at {number} [on {day}|tomorrow|every weekday]",
        "make sure i get up at {number} [|on {day}|tomorrow]",
    ),
    "book_table": (
        "book a table for {number} at the {nationality} restaurant [|tonight|on {day}]",
        "reserve a table for {number} people [at {number2}|on {day}|tonight]",
        "i want to have dinner at the {nationality} place on {day} , table for {number}",
        "get us a table for {number} [at {number2} o'clock|this evening|on {day}]",
    ),
    "get_weather": (
        "what is the weather like in {capital} [today|tomorrow|on {day}]",
        "will it be {weather} in {capital} [tomorrow|on {day}|this week]",
        "do i need an umbrella in {capital} [today|tomorrow|on {day}]",
        "how [cold|warm|hot] will it be in {capital} [|tomorrow|on {day}]",
        "is it going to [rain|snow] in {capital} [today|tomorrow|on {day}]",
    ),
    "set_timer": (
        "set a timer for {number} minutes",
        "[start|set] a {number} minute timer [|for the {dish}]",
        "remind me in {number} minutes to [check the {dish}|take out the bread|call {name}]",
        "count down {number} minutes [|for the eggs|for the {dish}]",
    ),
    "send_message": (
        "send a message to {name} saying [i am late|see you soon|well done|dinner is at {number}]",
        "text {name} that [dinner is ready|i will be home at {number}|the train is late]",
        "[tell|message] {name} [i am on my way|to call me back|that i love the gift]",
        "write to {name} [and say thanks|about the party on {day}|about the trip to {capital}]",
    ),
    "add_to_list": (
        "add {food_pl} to my [shopping|grocery] list",
        "put {food_pl} and {drink} on the [shopping|grocery] list",
        "remember to buy {food_pl} [|on {day}|and {drink}]",
        "we need more {drink} and {food_pl} , add them to the list",
    ),
    "call_person": (
        "call {name} [|now|on speaker|at home]",
        "[phone|ring|dial] {name} [|at home|on {poss} mobile|at work]",
        "get {name} on the phone [|now|for me]",
        "call my [mother|father|sister|brother|aunt|uncle] [|now|at home|on {poss} mobile]",
    ),
    "book_flight": (
        "book a flight to {capital} [on {day}|next week|for {number} people]",
        "[find|get] me a [cheap|direct|morning] flight from {capital2} to {capital}",
        "i need to fly to {capital} on {day}",
        "are there any flights to {capital} [tomorrow|on {day}|this weekend]",
    ),
    "turn_on_light": (
        "turn on the light in the {room}",
        "[switch|turn] the {room} light on",
        "it is too dark in the {room} , [lights on|light on|turn the light on]",
        "put the light on in the {room}",
        "i can not see anything in the {room} , switch on the light",
    ),
}
COMMAND_PREFIXES = ("", "", "", "please ", "hey , ", "ok , ")
COMMAND_SUFFIXES = ("", "", "", " please", " thanks", " thank you", " now")
ROOMS_AT_HOME = ("kitchen", "bedroom", "hall", "garden", "attic", "cellar", "bathroom", "office", "lounge")
INTENTS = tuple(INTENT_TEMPLATES)
GENRES = ("jazz", "rock", "pop", "classical", "folk", "blues", "reggae", "disco")


def command(rng: Rng, intent: str) -> str:
    """A request to an assistant, maybe with a polite prefix or suffix (no final punctuation)."""
    (country, country2), person = rng.sample(COUNTRIES, 2), Person(rng)
    number, number2 = rng.sample(NUMBERS[1:], 2)
    template = rng.pick(COMMAND_PREFIXES) + rng.pick(INTENT_TEMPLATES[intent]) + rng.pick(COMMAND_SUFFIXES)
    return fill(
        template,
        rng,
        genre=rng.pick(GENRES),
        animal=rng.pick(ANIMALS).sg,
        room=rng.pick(ROOMS_AT_HOME),
        number=number,
        number2=number2,
        day=rng.pick(DAYS),
        nationality=country.nationality,
        capital=country.capital,
        capital2=country2.capital,
        weather=rng.pick(WEATHER),
        dish=rng.pick(DISHES),
        food_pl=rng.pick(FOODS).pl,
        drink=rng.pick(DRINKS),
        **person.slots(),
    )
