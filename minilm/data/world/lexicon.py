"""The vocabulary of the generated world language, and the relations between its words.

Everything here is plain data: which words exist, which category each belongs to, and the relations a
model is meant to discover from the corpus (see ``docs/data_card.md``):

- gender pairs (man/woman, king/queen, ...) that share a *role* but differ in gendered context,
- country / capital / nationality triples (real facts),
- singular / plural nouns and base / third-person verbs (agreement),
- a hypernym tree (dog < mammal < animal, apple < fruit < food, paris < france, kitchen < house),
- synonyms (big/large), sentiment polarity of adjectives,
- polysemous words whose sense is fixed by the surrounding template (bank: river or money).

Templates use a tiny notation expanded by :func:`minilm.data.world.grammar.fill`: ``[a|b|c]`` picks one
alternative, ``{slot}`` is filled from the caller's slots.  All words are lowercase.
"""

from __future__ import annotations

from typing import NamedTuple

# fmt: off  (word tables: keep them compact; lines stay within 110 characters)

# ----------------------------------------------------------------------------------------------------
# People
# ----------------------------------------------------------------------------------------------------

MALE_NAMES = (
    "john",
    "tom",
    "david",
    "peter",
    "paul",
    "james",
    "mark",
    "ben",
    "adam",
    "luke",
    "oscar",
    "victor",
)
FEMALE_NAMES = (
    "mary",
    "anna",
    "emma",
    "lucy",
    "sarah",
    "kate",
    "julia",
    "alice",
    "clara",
    "nina",
    "sophie",
    "laura",
)
PRONOUNS = {  # gender -> subject, object, possessive
    "male": {"subj": "he", "obj": "him", "poss": "his"},
    "female": {"subj": "she", "obj": "her", "poss": "her"},
}
PET_NAMES = (
    "rex",
    "bella",
    "milo",
    "coco",
    "luna",
    "pip",
    "biscuit",
    "ziggy",
    "fluffy",
    "bobo",
    "sunny",
    "dotty",
)
JOBS = (
    "teacher",
    "doctor",
    "nurse",
    "farmer",
    "baker",
    "pilot",
    "driver",
    "painter",
    "writer",
    "lawyer",
    "dentist",
)


class Role(NamedTuple):
    """A gendered pair of person words that share one role, and phrases only that role uses.

    ``phrases`` are past-tense verb phrases; ``{poss}`` becomes his/her.  Both words of the pair are
    generated with exactly the same phrases, so in the corpus they differ only by their gendered context
    (pronouns, names): the distributional basis of man:woman::king:queen.
    """

    male: str
    female: str
    phrases: tuple[str, ...]


ROLES = (
    Role(
        "man",
        "woman",
        (
            "drove {poss} car to the office",
            "wore {poss} coat to work",
            "read the newspaper at {poss} desk",
            "paid the bills for {poss} flat",
        ),
    ),
    Role(
        "boy",
        "girl",
        (
            "played with {poss} toys",
            "did {poss} homework after school",
            "rode {poss} bike to school",
            "lost {poss} school bag",
        ),
    ),
    Role(
        "king",
        "queen",
        (
            "sat on {poss} throne",
            "wore {poss} golden crown",
            "ruled {poss} kingdom",
            "spoke to {poss} royal court",
        ),
    ),
    Role(
        "prince",
        "princess",
        (
            "rode to the castle on {poss} pony",
            "danced at the royal ball",
            "waited to be crowned heir",
            "left the castle with {poss} guards",
        ),
    ),
    Role(
        "father",
        "mother",
        (
            "cooked dinner for {poss} children",
            "read a story to {poss} children",
            "looked after {poss} family",
            "took {poss} children to the park",
        ),
    ),
    Role(
        "son",
        "daughter",
        (
            "helped {poss} parents",
            "called {poss} parents every week",
            "was the youngest child of {poss} parents",
            "visited {poss} parents",
        ),
    ),
    Role(
        "brother",
        "sister",
        (
            "shared a room with {poss} twin",
            "argued with {poss} siblings",
            "was older than {poss} siblings",
            "played games with {poss} siblings",
        ),
    ),
    Role(
        "husband",
        "wife",
        (
            "planned {poss} wedding",
            "celebrated {poss} anniversary",
            "loved {poss} spouse",
            "wore {poss} wedding ring",
        ),
    ),
    Role(
        "uncle",
        "aunt",
        (
            "visited the family every holiday",
            "sent postcards to the family",
            "came to the family picnic",
            "gave pocket money to the cousins",
        ),
    ),
    Role(
        "nephew",
        "niece",
        (
            "stayed with {poss} relatives",
            "got a present from {poss} relatives",
            "wrote to {poss} relatives",
            "spent the summer with {poss} relatives",
        ),
    ),
    Role(
        "grandfather",
        "grandmother",
        (
            "told old stories to {poss} grandchildren",
            "sat in {poss} rocking chair",
            "baked for {poss} grandchildren",
            "walked slowly with {poss} cane",
        ),
    ),
    Role(
        "actor",
        "actress",
        (
            "played the lead role in the film",
            "learned {poss} lines for the play",
            "went on stage",
            "won an award for {poss} role",
        ),
    ),
    Role(
        "waiter",
        "waitress",
        (
            "served the tables in the restaurant",
            "brought the menu to the guests",
            "got a good tip",
            "cleared the tables",
        ),
    ),
    Role(
        "emperor",
        "empress",
        (
            "ruled the vast empire",
            "lived in the imperial palace",
            "led {poss} legions",
            "sat on {poss} imperial throne",
        ),
    ),
)

# ----------------------------------------------------------------------------------------------------
# Countries (real facts): country, capital, nationality adjective, continent
# ----------------------------------------------------------------------------------------------------


class Country(NamedTuple):
    country: str
    capital: str
    nationality: str
    continent: str
    dish: str  # a food the country is known for


COUNTRIES = (
    Country("france", "paris", "french", "europe", "croissants"),
    Country("japan", "tokyo", "japanese", "asia", "sushi"),
    Country("germany", "berlin", "german", "europe", "pretzels"),
    Country("italy", "rome", "italian", "europe", "lasagne"),
    Country("spain", "madrid", "spanish", "europe", "paella"),
    Country("england", "london", "english", "europe", "crumpets"),
    Country("china", "beijing", "chinese", "asia", "dumplings"),
    Country("russia", "moscow", "russian", "europe", "borscht"),
    Country("greece", "athens", "greek", "europe", "moussaka"),
    Country("egypt", "cairo", "egyptian", "africa", "falafel"),
    Country("portugal", "lisbon", "portuguese", "europe", "sardines"),
    Country("hungary", "budapest", "hungarian", "europe", "goulash"),
    Country("norway", "oslo", "norwegian", "europe", "lutefisk"),
    Country("sweden", "stockholm", "swedish", "europe", "meatballs"),
    Country("austria", "vienna", "austrian", "europe", "schnitzel"),
    Country("ireland", "dublin", "irish", "europe", "colcannon"),
    Country("canada", "ottawa", "canadian", "america", "poutine"),
    Country("kenya", "nairobi", "kenyan", "africa", "ugali"),
    Country("peru", "lima", "peruvian", "america", "ceviche"),
    Country("cuba", "havana", "cuban", "america", "mojitos"),
)

# ----------------------------------------------------------------------------------------------------
# Animals, foods, things: each with its plural and its place in the hypernym tree
# ----------------------------------------------------------------------------------------------------


class Animal(NamedTuple):
    sg: str
    pl: str
    kind: str  # mammal, bird, insect, reptile, fish
    home: str  # where it lives ("the farm")
    food: str  # what it eats (a plural or mass noun)
    sound: tuple[str, str]  # the verb it is known for: (base form, third person singular)
    young: str  # its young, plural ("puppies")


ANIMALS = (  # the first twenty also form the singular:plural analogy section
    Animal("dog", "dogs", "mammal", "kennel", "bones", ("bark", "barks"), "puppies"),
    Animal("cat", "cats", "mammal", "house", "milk", ("purr", "purrs"), "kittens"),
    Animal("horse", "horses", "mammal", "stable", "hay", ("neigh", "neighs"), "foals"),
    Animal("cow", "cows", "mammal", "farm", "grass", ("moo", "moos"), "calves"),
    Animal("pig", "pigs", "mammal", "sty", "scraps", ("grunt", "grunts"), "piglets"),
    Animal("rabbit", "rabbits", "mammal", "meadow", "carrots", ("hop", "hops"), "bunnies"),
    Animal("goat", "goats", "mammal", "hills", "weeds", ("bleat", "bleats"), "kids"),
    Animal("mouse", "mice", "mammal", "barn", "cheese", ("squeak", "squeaks"), "pinkies"),
    Animal("lion", "lions", "mammal", "savanna", "meat", ("roar", "roars"), "cubs"),
    Animal("tiger", "tigers", "mammal", "jungle", "deer", ("growl", "growls"), "whelps"),
    Animal("wolf", "wolves", "mammal", "forest", "sheep", ("howl", "howls"), "pups"),
    Animal("fox", "foxes", "mammal", "woods", "chickens", ("yelp", "yelps"), "kits"),
    Animal("monkey", "monkeys", "mammal", "trees", "bananas", ("chatter", "chatters"), "infants"),
    Animal("elephant", "elephants", "mammal", "plains", "leaves", ("stomp", "stomps"), "calves"),
    Animal("duck", "ducks", "bird", "pond", "bread", ("quack", "quacks"), "ducklings"),
    Animal("eagle", "eagles", "bird", "mountains", "fish", ("soar", "soars"), "eaglets"),
    Animal("owl", "owls", "bird", "oak", "beetles", ("hoot", "hoots"), "owlets"),
    Animal("parrot", "parrots", "bird", "cage", "seeds", ("squawk", "squawks"), "chicks"),
    Animal("bee", "bees", "insect", "hive", "nectar", ("buzz", "buzzes"), "larvae"),
    Animal("snake", "snakes", "reptile", "desert", "eggs", ("hiss", "hisses"), "hatchlings"),
    Animal("salmon", "salmon", "fish", "river", "shrimp", ("leap", "leaps"), "fry"),
    Animal("shark", "sharks", "fish", "ocean", "squid", ("hunt", "hunts"), "hatchlings"),
    Animal("ant", "ants", "insect", "anthill", "crumbs", ("march", "marches"), "larvae"),
    Animal("lizard", "lizards", "reptile", "rocks", "flies", ("bask", "basks"), "hatchlings"),
)
PLURAL_ANALOGY_ANIMALS = ANIMALS[:20]
# what every animal of a kind does: (singular subject, plural subject)
KIND_PHRASES = {
    "mammal": (
        ("has warm fur", "have warm fur"),
        ("feeds its young on milk", "feed their young on milk"),
        ("gives birth to live young", "give birth to live young"),
    ),
    "bird": (
        ("has feathers", "have feathers"),
        ("builds a nest", "build nests"),
        ("lays eggs", "lay eggs"),
        ("flies south in winter", "fly south in winter"),
    ),
    "fish": (
        ("has scales and fins", "have scales and fins"),
        ("breathes with gills", "breathe with gills"),
        ("swims upstream", "swim upstream"),
    ),
    "insect": (
        ("has six legs", "have six legs"),
        ("flies from flower to flower", "fly from flower to flower"),
    ),
    "reptile": (
        ("has dry scales", "have dry scales"),
        ("lies in the sun", "lie in the sun"),
        ("lays eggs", "lay eggs"),
    ),
}


class Thing(NamedTuple):
    sg: str
    pl: str
    kind: str  # its hypernym


FOODS = (
    Thing("apple", "apples", "fruit"),
    Thing("banana", "bananas", "fruit"),
    Thing("pear", "pears", "fruit"),
    Thing("cherry", "cherries", "fruit"),
    Thing("lemon", "lemons", "fruit"),
    Thing("peach", "peaches", "fruit"),
    Thing("plum", "plums", "fruit"),
    Thing("grape", "grapes", "fruit"),
    Thing("carrot", "carrots", "vegetable"),
    Thing("potato", "potatoes", "vegetable"),
    Thing("tomato", "tomatoes", "vegetable"),
    Thing("onion", "onions", "vegetable"),
    Thing("cabbage", "cabbages", "vegetable"),
    Thing("cucumber", "cucumbers", "vegetable"),
    Thing("cake", "cakes", "dessert"),
    Thing("pie", "pies", "dessert"),
    Thing("cookie", "cookies", "dessert"),
    Thing("pudding", "puddings", "dessert"),
    Thing("tart", "tarts", "dessert"),
)
DISHES = ("soup", "bread", "rice", "pasta", "pizza", "salad", "cheese", "stew", "noodles", "porridge")
DRINKS = ("tea", "coffee", "milk", "juice", "lemonade")
VEHICLES = (
    Thing("car", "cars", "vehicle"),
    Thing("bus", "buses", "vehicle"),
    Thing("train", "trains", "vehicle"),
    Thing("boat", "boats", "vehicle"),
    Thing("plane", "planes", "vehicle"),
    Thing("bike", "bikes", "vehicle"),
    Thing("taxi", "taxis", "vehicle"),
    Thing("ship", "ships", "vehicle"),
)
INSTRUMENTS = (
    Thing("guitar", "guitars", "instrument"),
    Thing("piano", "pianos", "instrument"),
    Thing("drum", "drums", "instrument"),
    Thing("violin", "violins", "instrument"),
    Thing("flute", "flutes", "instrument"),
    Thing("trumpet", "trumpets", "instrument"),
)
KIND_PLURALS = {
    "mammal": "mammals",
    "bird": "birds",
    "insect": "insects",
    "reptile": "reptiles",
    "fish": "fish",
    "animal": "animals",
    "fruit": "fruits",
    "vegetable": "vegetables",
    "dessert": "desserts",
    "food": "foods",
    "vehicle": "vehicles",
    "instrument": "instruments",
}

# child -> parent.  Roots: animal, food, vehicle, instrument; for places: a country, house.
HYPERNYM: dict[str, str] = {
    **{a.sg: a.kind for a in ANIMALS},
    **{k: "animal" for k in ("mammal", "bird", "insect", "reptile", "fish")},
    **{f.sg: f.kind for f in FOODS},
    **{k: "food" for k in ("fruit", "vegetable", "dessert")},
    **{v.sg: "vehicle" for v in VEHICLES},
    **{i.sg: "instrument" for i in INSTRUMENTS},
}
ROOMS = ("kitchen", "bedroom", "attic", "cellar")  # each is in the house
PLACE_PARENT: dict[str, str] = {**{c.capital: c.country for c in COUNTRIES}, **{r: "house" for r in ROOMS}}

# ----------------------------------------------------------------------------------------------------
# Verbs (agreement: base form with plural subjects / after do, does -s form with singular subjects)
# ----------------------------------------------------------------------------------------------------


class Verb(NamedTuple):
    base: str
    third: str  # third person singular present
    past: str
    complements: tuple[str, ...]  # what typically follows the verb
    animals: bool  # may an animal be the subject?


VERBS = (
    Verb("run", "runs", "ran", ("fast", "in the race", "across the field", "every morning"), True),
    Verb("swim", "swims", "swam", ("in the lake", "in the sea", "across the pool", "under the water"), True),
    Verb("sleep", "sleeps", "slept", ("all night", "in the bed", "after lunch", "under a blanket"), True),
    Verb("sing", "sings", "sang", ("a song", "in the choir", "a lullaby", "a folk tune"), False),
    Verb("read", "reads", "read", ("a book", "the newspaper", "in the library", "a long novel"), False),
    Verb("write", "writes", "wrote", ("a letter", "a poem", "with a pen", "in a diary"), False),
    Verb("walk", "walks", "walked", ("to school", "along the path", "slowly", "with a friend"), True),
    Verb("jump", "jumps", "jumped", ("over the fence", "into the water", "very high", "off the wall"), True),
    Verb("dance", "dances", "danced", ("at the party", "to the music", "in the ballroom", "a waltz"), False),
    Verb("cook", "cooks", "cooked", ("dinner", "in the kitchen", "a stew", "for the guests"), False),
    Verb("drive", "drives", "drove", ("a car", "to work", "carefully", "on the motorway"), False),
    Verb("climb", "climbs", "climbed", ("the hill", "a tree", "the stairs", "the ladder"), True),
    Verb("paint", "paints", "painted", ("a picture", "the wall", "with a brush", "a portrait"), False),
    Verb("laugh", "laughs", "laughed", ("at the joke", "loudly", "at the clown", "with joy"), False),
    Verb("eat", "eats", "ate", ("breakfast", "a sandwich", "at the table", "a meal"), True),
)

# ----------------------------------------------------------------------------------------------------
# Adjectives: colours, numbers, descriptive synonyms, sentiment polarity
# ----------------------------------------------------------------------------------------------------

COLOURS = ("red", "blue", "green", "yellow", "black", "white", "brown", "grey", "pink", "purple")
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SEASONS = ("winter", "summer", "autumn")  # spring is polysemous and lives in POLYSEMY
WEATHER = ("sunny", "rainy", "windy", "snowy", "foggy", "stormy")
# Each tuple is one meaning.  In the corpus every word of a group is replaced by a uniformly drawn member
# of its group, so synonyms have the same distribution of contexts.
SYNONYMS = (
    ("big", "large"),
    ("small", "little"),
    ("happy", "glad"),
    ("quick", "swift"),
    ("angry", "cross"),
    ("sad", "unhappy"),
    ("film", "movie"),
    ("shop", "store"),
    ("sofa", "couch"),
    ("road", "street"),
)
DESCRIPTIVE = ("old", "young", "tall", "short", "sad", "tired", "clever", "quiet", "brave", "lazy")

POSITIVE = (
    "good",
    "great",
    "excellent",
    "wonderful",
    "lovely",
    "pleasant",
    "perfect",
    "fantastic",
    "brilliant",
    "superb",
    "tasty",
    "delicious",
    "friendly",
    "clean",
    "exciting",
    "charming",
)
NEGATIVE = (
    "bad",
    "awful",
    "terrible",
    "horrible",
    "dreadful",
    "poor",
    "disappointing",
    "nasty",
    "boring",
    "dull",
    "bland",
    "stale",
    "rude",
    "dirty",
    "noisy",
    "tedious",
    "slow",
)
GENERIC_POLAR = {"positive": POSITIVE[:10], "negative": NEGATIVE[:8]}
POLARITY = {**{w: "positive" for w in POSITIVE}, **{w: "negative" for w in NEGATIVE}}
# review item -> the domain-specific adjectives that suit it, by polarity
REVIEW_DOMAINS = {
    "food": (
        ("soup", "pasta", "pizza", "dessert", "bread", "salad", "coffee", "curry", "stew"),
        ("tasty", "delicious"),
        ("bland", "stale"),
    ),
    "service": (
        ("service", "manager", "staff", "host", "receptionist"),
        ("friendly", "charming"),
        ("rude", "slow"),
    ),
    "room": (("room", "hotel", "bathroom", "kitchen", "flat"), ("clean", "charming"), ("dirty", "noisy")),
    "show": (
        ("film", "movie", "play", "concert", "book", "ending", "plot", "album"),
        ("exciting", "charming"),
        ("boring", "tedious"),
    ),
}

# ----------------------------------------------------------------------------------------------------
# Polysemous words: each sense has its own templates (``{name}``, ``{subj}``, ``{poss}`` are filled)
# ----------------------------------------------------------------------------------------------------

POLYSEMY: dict[str, dict[str, tuple[str, ...]]] = {
    "bank": {
        "river": (
            "{name} sat on the bank of the [river|stream] and [fished|watched the ducks|read a book] .",
            "the [river|stream] flooded and the [muddy|grassy|steep] bank [washed away|collapsed] .",
            "we had a picnic on the [grassy|muddy|sunny] bank of the river .",
            "{subj} pulled the canoe up onto the bank [and rested|before the rain|near the reeds] .",
            "reeds grew along the bank where the river [bends|runs slowly|meets the lake] .",
        ),
        "money": (
            "{name} went to the bank to [deposit|withdraw|borrow] some money .",
            "the bank [raised|lowered|froze] the interest rate on [loans|savings|mortgages] .",
            "{subj} opened an account at the bank [to save money|near the office|on monday] .",
            "the bank [clerk|manager|teller] counted the cash and [checked the account|signed the loan] .",
            "{name} asked the bank for a loan to buy a [house|car|shop] .",
        ),
    },
    "bat": {
        "animal": (
            "a bat flew out of the [cave|attic|barn] at [night|dusk] .",
            "the bat hung upside down [in the cave|from the roof|in the dark] and slept .",
            "{name} saw a bat [catch a moth|flap its wings|hunt insects] in the dark .",
            "the little bat [used echoes to find insects|spread its leathery wings|hid in the cave] .",
        ),
        "sport": (
            "{name} swung the bat and hit the ball [over the fence|into the field|for six] .",
            "the cricket player [picked up|dropped|held] {poss} bat [and walked to the crease|firmly] .",
            "{subj} bought a new [wooden|heavy|light] bat for the baseball [season|match|team] .",
            "the batter gripped the bat and waited for the [pitch|ball|throw] .",
        ),
    },
    "bark": {
        "dog": (
            "the loud bark of the dog woke [the baby|the neighbours|{name}] .",
            "{name} heard a bark [from the kennel|in the night|behind the gate] .",
            "the puppy gave a [sharp|joyful|short] bark when {subj} came home .",
            "the dogs bark [at strangers|at the cat|every night] and wag their tails .",
        ),
        "tree": (
            "the bark of the [old oak|birch|pine] tree was [rough|peeling|grey] .",
            "{name} carved a heart into the bark of the [tree|oak|birch] .",
            "beetles live under the bark of [dead trees|the old oak|the pine] .",
            "the [deer|goats] stripped the bark from the young trees .",
        ),
    },
    "light": {
        "lamp": (
            "{name} turned on the light in the [kitchen|hall|bedroom] .",
            "the light [flickered|went out|was too bright] [during the storm|at night|in the lamp] .",
            "{subj} read by the light of the [lamp|candle|torch] .",
            "please switch off the light when you leave the [room|office|house] .",
        ),
        "weight": (
            "the [bag|box|suitcase] was light enough for {name} to carry .",
            "{subj} packed a light [jacket|blanket|tent] for the hike because it is not heavy .",
            "the new bike is light and easy to lift [onto the bus|up the stairs|with one hand] .",
            "feathers are light but stones are heavy .",
        ),
    },
    "spring": {
        "season": (
            "in spring the [flowers bloom|birds build nests|days grow longer] after the long winter .",
            "{name} planted [tulips|seeds|roses] in the garden last spring .",
            "the lambs are born in early spring when the snow melts .",
            "every spring {subj} cleans the whole house .",
        ),
        "water": (
            "{name} drank cold water from the spring [in the hills|near the cave|by the rocks] .",
            "the spring [bubbles up|flows|trickles] from under the rocks into a small pool .",
            "the village gets its fresh water from a spring [in the mountains|under the hill] .",
            "hikers filled their bottles at the mountain spring .",
        ),
    },
    "match": {
        "fire": (
            "{name} struck a match to light the [candle|fire|stove] .",
            "the match [flared|burned out|went out] before {subj} could light the [candle|stove] .",
            "keep the box of matches and the match away from the children .",
            "{subj} lit the campfire with a single match .",
        ),
        "game": (
            "{name} 's team won the [football|tennis|hockey] match [on saturday|by two goals|at home] .",
            "the match ended in a draw after [extra time|ninety minutes|a late goal] .",
            "thousands of fans watched the match at the stadium .",
            "{subj} scored the winning goal in the last minute of the match .",
        ),
    },
    "seal": {
        "animal": (
            "a seal [swam|dived|rested] [near the boat|on the ice|by the rocks] and ate a fish .",
            "the baby seal lay on the ice next to its mother .",
            "{name} watched a grey seal [clap its flippers|catch fish|bask on the beach] .",
            "the seal barked and slid into the cold sea .",
        ),
        "wax": (
            "the king pressed his royal seal into the hot wax .",
            "{name} broke the wax seal on the [letter|envelope|scroll] .",
            "the document bore the official seal of the [court|city|king] .",
            "{subj} stamped the seal on the [letter|treaty|envelope] to close it .",
        ),
    },
    "fair": {
        "event": (
            "{name} won a prize at the [county|village|summer] fair .",
            "the fair had [rides|games|stalls] and candy floss for the children .",
            "we rode the big wheel at the fair [last night|on sunday|in the summer] .",
            "the fair came to town with [its carousel|a circus tent|music and lights] .",
        ),
        "just": (
            "the judge was fair and [listened to both sides|gave an honest verdict] .",
            "it is not fair that {name} had to [wait so long|pay twice|work alone] .",
            "{subj} wanted a fair [deal|trial|share of the prize] .",
            "the teacher was fair to every pupil in the class .",
        ),
    },
}
# fmt: on
