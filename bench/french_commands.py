"""French home-automation sentences for scripts/bench_french.py: the distractors around the recordings.

A grammar made only of the recordings' sentences would make every command easy (nothing near it).
These templates are the same style of speech — lights, shutters, locks, timers, thermostat,
media, questions — written from what such an assistant is asked, not from the recordings: a
distractor may be a recording's sentence or one word away from it, which is the point. The spelling
follows the data set's labels (they write "vérouille" for "verrouille").
"""

from __future__ import annotations

import itertools
import random

ROOMS_F = ("la cuisine", "la chambre", "la salle de bain", "la salle à manger", "l'entrée", "la buanderie")
ROOMS_M = ("le salon", "le bureau", "le garage", "le couloir", "le grenier", "le jardin")
FLOORS = ("le premier étage", "le deuxième étage", "le rez-de-chaussée", "le sous-sol")
COLOURS = ("rouge", "vert", "bleu", "jaune", "blanc", "orange", "violet", "rose")
LIGHTS = ("la lumière", "les lumières", "toutes les lumières", "la lampe", "le plafonnier", "la guirlande")
COVERS = ("les volets", "tous les volets", "les rideaux", "tous les rideaux", "les stores", "la porte du garage",
          "le portail")
DOORS = ("la porte d'entrée", "la porte du garage", "la porte de derrière", "la porte du jardin")


def _in(room: str) -> str:
    return f"dans {room}"


def _of(place: str) -> str:
    """'du salon', 'de la cuisine', "de l'entrée", 'du premier étage'."""
    if place.startswith("le "):
        return "du " + place[3:]
    return "de " + place


def templates() -> dict[str, list[str]]:
    """Every generated sentence, by family (lower case, NFC)."""
    places = ROOMS_F + ROOMS_M
    fam: dict[str, list[str]] = {}
    fam["lights"] = [f"{verb} {light}" for verb in ("allume", "éteins") for light in LIGHTS] + \
        [f"{verb} {light} {_in(p)}" for verb in ("allume", "éteins") for light in LIGHTS for p in places]
    fam["areas"] = [f"{verb} {a}" for verb in ("allume", "éteins") for a in places + FLOORS] + \
        [f"allume {a} en {c}" for a in places + FLOORS for c in COLOURS] + \
        [f"allume {a} à {n}%" for a in places + FLOORS for n in range(10, 101, 10)] + \
        [f"mets {light} à {n}%" for light in LIGHTS[:2] for n in range(10, 101, 10)]
    fam["covers"] = [f"{verb} {c}" for verb in ("ouvre", "ferme") for c in COVERS] + \
        [f"{verb} {c} {_of(p)}" for verb in ("ouvre", "ferme") for c in COVERS if "porte" not in c and c != "le portail"
         for p in places + FLOORS]
    fam["locks"] = [f"{verb} {d}" for verb in ("vérouille", "dévérouille", "ouvre", "ferme") for d in DOORS]
    fam["timers"] = [f"minuteur {n} {u}" for n in (2, 3, 5, 10, 15, 20, 25, 30, 40, 45, 60)
                     for u in ("minutes", "secondes")] + ["minuteur 1 minute", "minuteur une minute"] + \
        [f"mets un minuteur de {n} minutes" for n in (1, 2, 5, 10, 15, 20, 30)] + ["annule le minuteur"]
    fam["climate"] = [f"règle le thermostat à {n} degrés" for n in range(15, 26)] + \
        [f"{q} {_in(p)}" for q in ("combien fait-il", "quelle température fait-il", "quelle est la température")
         for p in places] + ["combien fait-il dehors", "quelle température fait-il dehors"]
    fam["media"] = ["media suivant", "media précédent", "mets la musique", "arrête la musique", "mets en pause",
                    "reprends la lecture", "monte le son", "baisse le son", "coupe le son", "chanson suivante"] + \
        [f"mets la musique {_in(p)}" for p in places]
    fam["questions"] = ["quelle heure est-il", "quel jour sommes-nous", "quel temps fait-il", "quelle est la date",
                        "quel temps fera-t-il demain", "est-ce qu'il va pleuvoir"]
    return fam


def distractors(count: int, seed: int = 12, avoid: frozenset[str] = frozenset()) -> list[str]:
    """`count` generated sentences, spread over the families, reproducible from `seed`; none in `avoid`."""
    rng = random.Random(seed)
    families = {k: [s for s in v if s not in avoid] for k, v in templates().items()}
    for v in families.values():
        rng.shuffle(v)
    out: list[str] = []
    for sentence in itertools.chain.from_iterable(itertools.zip_longest(*families.values())):
        if sentence is not None and sentence not in out:
            out.append(sentence)
        if len(out) == count:
            break
    return out
