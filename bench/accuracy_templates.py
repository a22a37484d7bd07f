"""Requests for the accuracy benchmark, in English and French, each with the intent it means.

The expected intent is built alongside the words from the tables below (which SKU each spoken name stands
for, which quantity was said), never by asking the parser. Conventions (the lexicon's): an article, a partitive
or a bare name means one ("some milk", "du lait", "we're out of milk"), "another bottle of milk" is one;
quantities are 1-20.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from device.language.lexicon import ENGLISH, FRENCH

CATALOG_PATH = Path(__file__).with_name("bench_catalog.json")
"""The benchmark's catalogue: 31 items, with names that share words (milk / oat milk / skimmed milk)."""

KINDS = ("single", "multi", "cancel", "ood")
"""Request kinds: one item, several items, a cancel, and out-of-domain speech (expected: none)."""


@dataclass(frozen=True)
class Request:
    """One utterance and the intent it means."""

    text: str
    action: str
    """"reorder", "cancel" or "none"."""
    items: tuple[tuple[str, int], ...]
    """(sku, quantity) pairs, sorted by SKU (empty unless action is "reorder")."""
    kind: str
    locale: str

    def expected(self) -> dict:
        """The expected intent in the shape the benchmark compares."""
        return {"action": self.action, "items": [list(i) for i in self.items]}


# -- English ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Noun:
    """A product name: "mass" (milk), "plural" (eggs: a plural name) or "count" (a baguette); French ones have
    a gender; `of` is what follows "a pack of" when it is not the plural ("a pack of beer")."""

    name: str
    kind: str
    units: tuple[str, ...] = ()
    plural: str = ""
    of: str = ""
    gender: str = ""


EN_UNITS = {"bottle": "bottles", "carton": "cartons", "pack": "packs", "packet": "packets", "box": "boxes",
            "bag": "bags", "can": "cans", "jar": "jars", "loaf": "loaves", "tub": "tubs"}


def _en(name: str, kind: str, units: str = "", plural: str = "", of: str = "", gender: str = "") -> Noun:
    return Noun(name, kind, tuple(units.split()), plural or (name + "s" if kind == "count" else ""), of, gender)


EN_PRODUCTS: dict[str, tuple[Noun, ...]] = {
    "MILK-1L": (_en("milk", "mass", "bottle carton"), _en("whole milk", "mass", "bottle carton")),
    "MILK-SKIMMED-1L": (_en("skimmed milk", "mass", "bottle carton"), _en("skim milk", "mass", "carton")),
    "OAT-MILK-1L": (_en("oat milk", "mass", "carton"), _en("oat drink", "mass", "carton")),
    "WATER-STILL-6": (_en("water", "mass", "bottle pack"), _en("still water", "mass", "bottle pack")),
    "WATER-SPARKLING-6": (_en("sparkling water", "mass", "bottle pack"), _en("soda water", "mass", "bottle")),
    "OJ-1L": (_en("orange juice", "mass", "carton bottle"),),
    "APPLE-JUICE-1L": (_en("apple juice", "mass", "carton bottle"),),
    "COFFEE-500G": (_en("coffee", "mass", "bag pack"), _en("ground coffee", "mass", "bag pack")),
    "COFFEE-PODS-20": (_en("coffee pods", "plural", "box pack"), _en("coffee capsules", "plural", "box")),
    "TEA-BLACK-80": (_en("tea", "mass", "box pack"), _en("black tea", "mass", "box")),
    "TEA-GREEN-40": (_en("green tea", "mass", "box packet"),),
    "EGGS-12": (_en("eggs", "plural", "box carton"), _en("free range eggs", "plural", "box")),
    "BREAD-SLICED": (_en("bread", "mass", "loaf"), _en("sliced bread", "mass", "loaf pack")),
    "BAGUETTE": (_en("baguette", "count"), _en("french stick", "count")),
    "BUTTER-250G": (_en("butter", "mass", "pack tub"),),
    "YOGURT-4": (_en("yogurt", "count", "pack tub"), _en("natural yogurt", "count", "pack")),
    "CHEESE-CHEDDAR": (_en("cheese", "mass", "pack"), _en("cheddar", "mass", "pack")),
    "RICE-1KG": (_en("rice", "mass", "bag box pack"), _en("long grain rice", "mass", "bag")),
    "PASTA-500G": (_en("pasta", "mass", "pack bag box"), _en("spaghetti", "mass", "pack packet")),
    "TOMATOES-CHOPPED": (_en("chopped tomatoes", "plural", "can jar"), _en("canned tomatoes", "plural", "can")),
    "BANANAS": (_en("bananas", "plural", "bag"),),
    "APPLES-1KG": (_en("apples", "plural", "bag"),),
    "PAPER-TOWELS-4": (_en("paper towels", "plural", "pack"), _en("kitchen roll", "mass", "pack")),
    "TOILET-PAPER-9": (_en("toilet paper", "mass", "pack"),),
    "DISH-TABS-40": (_en("dishwasher tablets", "plural", "box pack bag"),),
    "DISH-LIQUID": (_en("washing up liquid", "mass", "bottle"), _en("dish soap", "mass", "bottle")),
    "LAUNDRY-2L": (_en("laundry detergent", "mass", "bottle box"), _en("washing powder", "mass", "box bag")),
    "OLIVE-OIL-1L": (_en("olive oil", "mass", "bottle"),),
    "SUGAR-1KG": (_en("sugar", "mass", "bag pack box"),),
    "CAT-FOOD": (_en("cat food", "mass", "bag box can pack"),),
    "BEER-6": (_en("beer", "count", "pack bottle can", of="beer"), _en("lager", "count", "pack can", of="lager")),
}

# Frames: {X} is a list of items. Weights are how often each one is picked.
EN_FRAMES = (
    ("reorder {X}", 4), ("order {X}", 4), ("buy {X}", 2), ("get me {X}", 2), ("get us {X}", 1), ("I need {X}", 2),
    ("we need {X}", 2), ("I'd like {X}", 2), ("I want {X}", 1), ("add {X} to my order", 3),
    ("add {X} to the list", 1), ("please add {X} to the cart", 1), ("could you order {X}", 2),
    ("can you reorder {X} please", 1), ("can you buy {X} for me", 1), ("can I get {X}", 1),
    ("could I get {X} please", 1), ("please reorder {X}", 1), ("order {X} please", 1), ("send us {X}", 1),
    ("pick up {X} for us", 1), ("buy {X} today", 1), ("{X} please", 1), ("okay, order {X}", 1),
)
# Frames that take bare names only (quantity one).
EN_BARE_FRAMES = (("we're out of {X}", 3), ("we are out of {X}", 1), ("we're running out of {X}", 1),
                  ("order more {X}", 1), ("we need more {X}", 1))
EN_JOINS = (" and ", " and ", " and ", " plus ", " and also ", " as well as ")

EN_CANCELS = (
    "cancel", "cancel that", "cancel it", "cancel the order", "cancel my order", "please cancel that",
    "cancel it please", "never mind", "oh, never mind", "forget it", "no thanks", "stop", "stop please",
    "abort", "actually, cancel that", "cancel the last order please", "never mind, forget it", "forget it, thanks",
)

EN_OOD = (
    "what's the weather like today", "will it rain tomorrow", "what's the temperature outside",
    "play some music", "play some jazz in the kitchen", "turn the volume up", "skip this song", "pause the music",
    "what time is it", "tell me a joke", "how are you today", "good morning", "thank you very much",
    "who won the game last night", "turn off the kitchen lights", "call mum", "what's on my calendar",
    "remind me to water the plants", "the milk is in the fridge", "I love this coffee",
    "is there any bread left", "how much does the olive oil cost", "did the eggs arrive yesterday",
    "read me the news", "what's two plus two", "I need a break", "order a taxi to the station",
    "buy tickets for the concert", "get me the news headlines", "we need to talk about the holidays",
    "I want to go to bed", "the cat is asleep on the sofa", "how long until dinner", "open the garage door",
    "what's the capital of Spain", "how do you spell banana", "the kids are at school", "set an alarm for seven",
    "how long is left on the timer", "switch on the radio", "it's cold in here", "where are my keys",
    # traps: catalogue words in something that is not a re-order, refused rather than guessed
    "don't order any more skim milk", "we don't need coffee this week", "never buy that olive oil again",
    "order a couple of bananas", "buy a pizza and some beer", "get me milk chocolate", "I need soy milk",
    "no more tea for me thanks", "order rice cakes",
)
EN_OOD_MADE = (
    ("set a timer for {n} minutes", "n"), ("remind me in {n} minutes", "n"), ("wake me up at {n}", "n"),
    ("what's the weather in {city}", "city"), ("play {genre} music", "genre"),
    ("play the radio in the {room}", "room"), ("turn on the lights in the {room}", "room"),
)
EN_FILL = {"n": ENGLISH.numbers[1:], "city": ("Paris", "London", "Boston", "Madrid", "Berlin", "Dublin"),
           "genre": ("rock", "classical", "jazz", "pop", "country"),
           "room": ("kitchen", "bedroom", "living room", "garden", "hallway")}


def _a(word: str) -> str:
    return ("an " if word[0] in "aeio" else "a ") + word


def en_item(rng: random.Random, noun: Noun, q: int, bare: bool = False) -> str:
    """English words for `q` of `noun` ("two bottles of milk", "a baguette", "some eggs")."""
    obj = noun.plural if noun.kind == "count" else noun.name
    if bare:
        return obj
    obj = noun.of or obj
    unit = rng.choice(noun.units) if noun.units else ""
    if q == 1:
        said, others = (_a(noun.name), ("one", "another")) if noun.kind == "count" else (noun.name, ("some", "more"))
        options = [said, said, *(f"{other} {noun.name}" for other in others)]
        if unit:
            options += [f"{_a(unit)} of {obj}", f"{_a(unit)} of {obj}", f"one {unit} of {obj}",
                        f"another {unit} of {obj}"]
        return rng.choice(options)
    number = ENGLISH.numbers[q - 1]
    if unit and (noun.kind != "count" or rng.random() < 0.5):
        return f"{number} {'more ' if rng.random() < 0.1 else ''}{EN_UNITS[unit]} of {obj}"
    return f"{number} {'more ' if rng.random() < 0.1 else ''}{noun.plural}"


# -- French -----------------------------------------------------------------------------------------

FR_UNITS = {"bouteille": ("f", "bouteilles"), "brique": ("f", "briques"), "paquet": ("m", "paquets"),
            "boîte": ("f", "boîtes"), "sac": ("m", "sacs"), "pack": ("m", "packs"), "pot": ("m", "pots"),
            "sachet": ("m", "sachets"), "rouleau": ("m", "rouleaux")}


def _fr(name: str, gender: str, kind: str, units: str = "", plural: str = "", of: str = "") -> Noun:
    return _en(name, kind, units, plural, of, gender)


FR_PRODUCTS: dict[str, tuple[Noun, ...]] = {
    "MILK-1L": (_fr("lait", "m", "mass", "bouteille brique"), _fr("lait entier", "m", "mass", "bouteille brique")),
    "MILK-SKIMMED-1L": (_fr("lait écrémé", "m", "mass", "bouteille brique"),),
    "OAT-MILK-1L": (_fr("lait d'avoine", "m", "mass", "brique"), _fr("boisson à l'avoine", "f", "mass", "brique")),
    "WATER-STILL-6": (_fr("eau", "f", "mass", "bouteille pack"), _fr("eau plate", "f", "mass", "bouteille pack")),
    "WATER-SPARKLING-6": (_fr("eau gazeuse", "f", "mass", "bouteille pack"),
                          _fr("eau pétillante", "f", "mass", "bouteille")),
    "OJ-1L": (_fr("jus d'orange", "m", "mass", "brique bouteille"),),
    "APPLE-JUICE-1L": (_fr("jus de pomme", "m", "mass", "brique bouteille"),),
    "COFFEE-500G": (_fr("café", "m", "mass", "paquet sachet"), _fr("café moulu", "m", "mass", "paquet")),
    "COFFEE-PODS-20": (_fr("capsules de café", "f", "plural", "boîte paquet"), _fr("dosettes", "f", "plural", "boîte")),
    "TEA-BLACK-80": (_fr("thé", "m", "mass", "boîte paquet"), _fr("thé noir", "m", "mass", "boîte")),
    "TEA-GREEN-40": (_fr("thé vert", "m", "mass", "boîte sachet"),),
    "EGGS-12": (_fr("œufs", "m", "plural", "boîte"), _fr("œufs bio", "m", "plural", "boîte")),
    "BREAD-SLICED": (_fr("pain", "m", "count"), _fr("pain de mie", "m", "mass", "paquet")),
    "BAGUETTE": (_fr("baguette", "f", "count"),),
    "BUTTER-250G": (_fr("beurre", "m", "mass", "paquet"),),
    "YOGURT-4": (_fr("yaourt", "m", "count", "pot pack"), _fr("yaourt nature", "m", "count", "pack",
                                                            plural="yaourts nature")),
    "CHEESE-CHEDDAR": (_fr("fromage", "m", "mass", "paquet"), _fr("cheddar", "m", "mass", "paquet")),
    "RICE-1KG": (_fr("riz", "m", "mass", "paquet sac"), _fr("riz long", "m", "mass", "paquet")),
    "PASTA-500G": (_fr("pâtes", "f", "plural", "paquet sachet"), _fr("spaghetti", "m", "plural", "paquet")),
    "TOMATOES-CHOPPED": (_fr("tomates concassées", "f", "plural", "boîte"),),
    "BANANAS": (_fr("bananes", "f", "plural", "sac"),),
    "APPLES-1KG": (_fr("pommes", "f", "plural", "sac"),),
    "PAPER-TOWELS-4": (_fr("essuie-tout", "m", "mass", "paquet rouleau"), _fr("sopalin", "m", "mass", "rouleau")),
    "TOILET-PAPER-9": (_fr("papier toilette", "m", "mass", "paquet rouleau"),),
    "DISH-TABS-40": (_fr("pastilles lave-vaisselle", "f", "plural", "boîte paquet sachet"),),
    "DISH-LIQUID": (_fr("liquide vaisselle", "m", "mass", "bouteille"),),
    "LAUNDRY-2L": (_fr("lessive", "f", "mass", "bouteille paquet boîte"),),
    "OLIVE-OIL-1L": (_fr("huile d'olive", "f", "mass", "bouteille"),),
    "SUGAR-1KG": (_fr("sucre", "m", "mass", "paquet boîte"),),
    "CAT-FOOD": (_fr("croquettes", "f", "plural", "sac paquet boîte"),
                 _fr("nourriture pour chat", "f", "mass", "sac boîte")),
    "BEER-6": (_fr("bière", "f", "count", "pack bouteille", of="bière"),),
}

FR_FRAMES = (
    ("commande {X}", 4), ("recommande {X}", 3), ("achète {X}", 2), ("rachète {X}", 1), ("il me faut {X}", 2),
    ("il nous faut {X}", 1), ("je voudrais {X}", 2), ("je voudrais commander {X}", 1), ("on voudrait {X}", 1),
    ("j'aimerais {X}", 1), ("ajoute {X} à la commande", 3), ("ajoute {X} à ma liste", 1),
    ("rajoute {X} au panier", 1), ("peux-tu commander {X}", 2), ("peux-tu recommander {X}", 1),
    ("tu peux acheter {X} s'il te plaît", 1), ("pourrais-tu commander {X}", 1), ("commande {X} s'il te plaît", 1),
    ("est-ce que tu peux commander {X}", 1), ("prends {X}", 1), ("{X} s'il te plaît", 1),
)
# Frames ending in "de": the item follows without its article ("j'ai besoin de lait", "plus d'eau").
FR_DE_FRAMES = (("j'ai besoin {X}", 2), ("on a besoin {X}", 1), ("on n'a plus {X}", 2), ("il n'y a plus {X}", 1))
FR_DE_QUANTITY_FRAMES = ("j'ai besoin {X}", "on a besoin {X}")
"""De-frames that take a quantity or an article ("j'ai besoin de deux bouteilles de lait", "d'une
baguette"); after a negation ("on n'a plus de") only the bare name is French."""
FR_JOINS = (" et ", " et ", " et ", " plus ", " ainsi que ", " et aussi ")

FR_CANCELS = (
    "annule", "annule ça", "annule la commande", "annule ma commande", "annule la dernière commande", "laisse tomber",
    "oublie ça", "oublie", "non merci", "arrête", "stop", "pas la peine", "annule s'il te plaît",
    "finalement, annule", "laisse tomber, merci", "annule tout",
)

FR_OOD = (
    "quel temps fait-il aujourd'hui", "est-ce qu'il va pleuvoir demain", "mets de la musique", "joue du jazz",
    "monte le volume", "passe à la chanson suivante", "quelle heure est-il", "raconte-moi une blague",
    "comment ça va", "bonjour", "merci beaucoup", "allume la lumière de la cuisine", "éteins la télé",
    "appelle maman", "le lait est dans le frigo", "j'adore ce café", "il reste du pain",
    "combien coûte l'huile d'olive",
    "les œufs sont arrivés", "lis-moi les actualités", "combien font deux plus deux", "commande un taxi pour la gare",
    "il faut que je parte", "achète des billets pour le concert", "il n'y a plus de place dans le frigo",
    "j'ai besoin de vacances", "on a besoin de parler", "le chat dort sur le canapé", "ouvre la porte du garage",
    "quelle est la capitale de l'Espagne", "les enfants sont à l'école", "il fait froid ici", "où sont mes clés",
    "allume la radio", "c'est l'heure du dîner", "je vais me coucher",
    # pièges : des mots du catalogue dans ce qui n'est pas une commande, refusés plutôt que devinés
    "ne commande plus de lait écrémé", "on n'a pas besoin de café cette semaine", "n'achète jamais cette huile d'olive",
    "commande une pizza et des bières", "achète du lait de coco", "il me faut du chocolat au lait",
    "rachète des galettes de riz", "pas de thé pour moi merci",
)
FR_OOD_MADE = (
    ("règle un minuteur de {n} minutes", "n"), ("rappelle-moi dans {n} minutes", "n"),
    ("réveille-moi à {n} heures", "n"), ("quel temps fait-il à {city}", "city"), ("mets du {genre}", "genre"),
    ("allume la lumière dans {room}", "room"),
)
FR_FILL = {"n": FRENCH.numbers[1:], "city": ("Paris", "Lyon", "Marseille", "Bordeaux", "Lille", "Nantes"),
           "genre": ("rock", "jazz", "classique", "rap"),
           "room": ("la cuisine", "la chambre", "le salon", "le couloir", "le jardin")}


ELIDING = "aeiouéèêœh"
"""French articles elide before these ("de l'eau", "d'œufs")."""


def _de(word: str) -> str:
    return "d'" + word if word[0] in ELIDING else "de " + word


def _partitive(noun: Noun) -> str:
    if noun.kind == "plural":
        return "des " + noun.name
    if noun.name[0] in ELIDING:
        return "de l'" + noun.name
    return ("du " if noun.gender == "m" else "de la ") + noun.name


def _one(gender: str) -> str:
    return "un" if gender == "m" else "une"


def fr_item(rng: random.Random, noun: Noun, q: int, de: bool = False, bare: bool = False) -> str:
    """French words for `q` of `noun` ("deux bouteilles de lait", "du café"); `de`: after a frame ending in
    de; `bare`: the name alone after de ("plus de baguettes")."""
    obj = noun.plural if noun.kind == "count" else noun.name
    unit = rng.choice(noun.units) if noun.units else ""
    if q == 1:
        if de and (bare or noun.kind != "count" or rng.random() < 0.5):
            return _de(obj)  # "j'ai besoin de lait", "on n'a plus d'œufs", "plus de baguettes"
        obj = noun.of or obj
        options = [f"{_one(noun.gender)} {noun.name}"] if noun.kind == "count" else [_partitive(noun)] * 2
        if unit:
            g, _ = FR_UNITS[unit]
            options += [f"{_one(g)} {unit} {_de(obj)}", f"{_one(g)} autre {unit} {_de(obj)}"]
        phrase = rng.choice(options)
        return ("d'" + phrase) if de and phrase.startswith("un") else phrase
    number = FRENCH.numbers[q - 1]
    obj = noun.of or obj
    if unit and (noun.kind != "count" or rng.random() < 0.5):
        _, units = FR_UNITS[unit]
        phrase = f"{number} {'autres ' if rng.random() < 0.1 else ''}{units} {_de(obj)}"
    else:
        phrase = f"{number} {noun.plural}"
    return ("de " + phrase) if de else phrase


# -- the generator ----------------------------------------------------------------------------------

def _quantity(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.45:
        return 1
    if r < 0.80:
        return rng.randint(2, 5)
    if r < 0.92:
        return rng.randint(6, 12)
    return rng.randint(13, 20)


def _weighted(rng: random.Random, table: tuple) -> str:
    return rng.choices([t for t, _ in table], weights=[w for _, w in table])[0]


def _join(rng: random.Random, parts: list[str], joins: tuple[str, ...], final: str) -> str:
    """Items joined the way people list them: "X and Y", "X plus Y", "X, Y and Z"."""
    if len(parts) > 2 and rng.random() < 0.6:
        return ", ".join(parts[:-1]) + final + parts[-1]
    return "".join(p if i == 0 else rng.choice(joins) + p for i, p in enumerate(parts))


def _reorder(rng: random.Random, locale: str, count: int) -> tuple[str, tuple[tuple[str, int], ...]]:
    english = locale.startswith("en")
    products = EN_PRODUCTS if english else FR_PRODUCTS
    skus = rng.sample(sorted(products), count)
    if english:
        bare = rng.random() < 0.15
        frame = _weighted(rng, EN_BARE_FRAMES if bare else EN_FRAMES)
        quantities = [1 if bare else _quantity(rng) for _ in skus]
        parts = [en_item(rng, rng.choice(products[s]), q, bare) for s, q in zip(skus, quantities)]
        text = frame.replace("{X}", _join(rng, parts, EN_JOINS, " and "))
        text = text[0].upper() + text[1:] if text.startswith("i ") else text
    else:
        de = rng.random() < 0.2
        frame = _weighted(rng, FR_DE_FRAMES if de else FR_FRAMES)
        quantities = [_quantity(rng) if not de or frame in FR_DE_QUANTITY_FRAMES else 1 for _ in skus]
        bare = de and frame not in FR_DE_QUANTITY_FRAMES
        parts = [fr_item(rng, rng.choice(products[s]), q, de, bare) for s, q in zip(skus, quantities)]
        text = frame.replace("{X}", _join(rng, parts, (" et ",) if de else FR_JOINS, " et "))
    return text, tuple(sorted(zip(skus, quantities)))


def _ood(rng: random.Random, locale: str) -> str:
    fixed, made, fill = (EN_OOD, EN_OOD_MADE, EN_FILL) if locale.startswith("en") else (FR_OOD, FR_OOD_MADE, FR_FILL)
    if rng.random() < 0.6:
        return rng.choice(fixed)
    template, slot = rng.choice(made)
    return template.replace("{" + slot + "}", rng.choice(fill[slot]))


def squash(text: str) -> str:
    """Lower case, no accents or punctuation, single spaces: how phrasings are compared with the tests'."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.replace("-", " ")).split())


def generate(locale: str, count: int, seed: int, avoid: frozenset[str] = frozenset(),
             stats: Counter | None = None) -> list[Request]:
    """`count` requests in `locale` (mixed kinds), reproducible from `seed`; texts whose squash() is in
    `avoid` are replaced by others (counted in stats["avoided"])."""
    rng = random.Random(f"{seed}:{locale}")
    english = locale.startswith("en")
    out: list[Request] = []
    seen: set[str] = set()
    while len(out) < count:
        r = rng.random()
        if r < 0.75:
            single = r < 0.55
            text, items = _reorder(rng, locale, 1 if single else rng.choices((2, 3, 4), weights=(70, 25, 5))[0])
            request = Request(text, "reorder", items, "single" if single else "multi", locale)
        elif r < 0.83:
            request = Request(rng.choice(EN_CANCELS if english else FR_CANCELS), "cancel", (), "cancel", locale)
        else:
            request = Request(_ood(rng, locale), "none", (), "ood", locale)
        key = squash(request.text)
        if key in avoid:
            if stats is not None:
                stats["avoided"] += 1
            continue
        # Fixed sentences (cancels, out-of-domain) repeat; generated requests are kept unique.
        if request.kind in ("single", "multi") and key in seen:
            continue
        seen.add(key)
        out.append(request)
    return out


def check_tables() -> list[str]:
    """Problems in the tables: a spoken name that is not one of its item's catalogue names."""
    problems = []
    items = {i["sku"]: i for i in json.loads(CATALOG_PATH.read_text(encoding="utf-8"))["items"]}
    for lang, table in (("en", EN_PRODUCTS), ("fr", FR_PRODUCTS)):
        if set(table) != set(items):
            problems.append(f"{lang}: SKUs differ from the catalogue: {sorted(set(table) ^ set(items))}")
        problems += [f"{lang}: {noun.name!r} is not a catalogue name of {sku}" for sku, nouns in table.items()
                     for noun in nouns if sku in items and noun.name not in items[sku]["names"][lang]]
    return problems
