"""How hard the constrained search looks and when its sentence is refused (recognition.neural, recognition.judge)."""

from __future__ import annotations

from dataclasses import dataclass

from device.recognition.rejection import Calibration


@dataclass(frozen=True)
class SearchSettings:
    """How hard the constrained search looks and when it refuses."""

    beam: int = 6
    """Hypotheses kept at each token."""
    prune: float = 8.0
    """Hypotheses this many nats behind the best of a step are dropped."""
    token_bonus: float = 0.0
    """Added to a hypothesis's score per token, against ending a sentence early (nats)."""
    reject_gap: float = -0.75
    """Gap (nats per token) that maps to confidence 0.85; below the configured min_confidence is refused."""
    reject_mean: float = -1.5
    """Log-probability per token of the best sentence that maps to confidence 0.85: speech the model
    hears badly everywhere (a gap near zero because the free transcript is as poor) is refused too."""
    alternative_margin: float = 2.0
    """Other sentences within this many nats of the best are passed on as alternatives."""
    pad_seconds: float = 0.3
    """Audio kept either side of the speech when trimming the silence around a request."""
    short_allowance: float = 0.0
    """Nats per sentence given back to sentences shorter than `short_reference` tokens, for where a sentence
    starts and ends (see `short_sentence_allowance`); 0 = none."""
    short_reference: int = 8
    """Sentences of this many tokens (end of text included) or more are judged as they always were."""
    greedy_first: bool = False
    """Run the free greedy pass alone first and skip the beam when it already is a sentence of the grammar
    (recognition.shortcut)."""
    greedy_resume: bool = False
    """With greedy_first: when the greedy pass leaves the grammar, start the beam two word beginnings back from
    there, not from the request's start (recognition.shortcut)."""
    calibration: Calibration | None = None
    """When set, the confidence is this fitted rule over six features (recognition.rejection) instead of
    the gap and mean bounds."""
    carrier_forgiven: bool = True
    """When the sentence and the free transcript differ in carrier words only ("brew a twenty ounce house coffee"
    heard freely as "Pro 20 ounce house coffee": recognition.rejection.carrier_only, with the grammar's
    WordRoles), the gap is not held against the sentence; the mean bound still is, without the tokens of the
    carrier words not heard (heard_mean). Off without roles."""
    ended_early_words: int = 0
    """Refuse a sentence when the free transcript goes on past it by at least this many words (it ended
    before the speech did: "... with a lot of sugar" of "... sugar and a little bit of skim milk"; counted by
    recognition.rejection.words_past: a misheard opening and a repeated request do not count); 0 = never."""
    close_cutoff: float = 0.6
    """With carrier_forgiven: a word of the free transcript the grammar does not know counts as the sentence's meaning
    word it is spelled most like among those beginning with its letter, when difflib rates them this alike (0.6,
    get_close_matches' default): "dark rose single shot ice mocha" is "dark roast single shot iced mocha" heard, not
    something else asked for (recognition.rejection.heard_as). 0 = off."""
