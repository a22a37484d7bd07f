"""How far the free transcript went on past the best sentence (recognition.rejection.words_past): the guard that
refuses a sentence ended before the speech did, and what it does not count (a misheard opening, a request said twice).
"""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest

from device.adapters.speech.moonshine import MODEL_FILES, default_model_dir
from device.engines import NEURAL_SEARCH
from device.language.rhino import compile_context
from device.recognition.neural import ConstrainedRecognizer, SearchSettings
from device.recognition.rejection import sentence_words, words_of, words_past
from device.recognition.spelling import digit_aliases

DATA = Path(__file__).parent / "data" / "realspeech"


@pytest.mark.parametrize("sentence, free, past", [
    ("a house coffee", "a house coffee with soy milk", 3),  # went on after the sentence's last word
    ("a house coffee", "a house coffee", 0),
    ("i want a cappuccino with a lot of sugar", "i want a double short cup of chino with a lot of sugar and a "
     "little bit of kim milk", 11),  # "cup of chino" and a whole clause more
    ("i'd like a mocha with a bit of brown sugar", "you know what i like i like a mocha with a bit of brown sugar",
     0),  # an opening misheard: not a sign of a sentence cut short
    ("can i get a house coffee", "can i get a house coffee can i get a house coffee", 0),  # said twice
    ("can i get a house coffee", "can i get a house coffee can i get an iced coffee", 6),  # not the same again
    ("one shot americano with a little bit of sweetener", "one shot of maricana with a little bit of sweet milk",
     2),  # words split inside: one more word after the last shared "of", two more overall
    ("order milk", "order milk and eggs please", 3),
    ("order milk", "sing me a song", 2),  # nothing shared: the extra words overall
])
def test_words_past_counts_what_the_free_transcript_said_after_the_sentence(sentence, free, past):
    assert words_past(sentence.split(), free.split()) == past



@pytest.mark.skipif(not all((default_model_dir() / f).exists() for f in MODEL_FILES),
                    reason="the Moonshine model is not prepared (scripts/dev setup prepares it)")
def test_a_real_command_moonshine_hears_twice_in_6_db_kitchen_noise_is_read_back():
    """"can I get a house coffee" (barista benchmark) in its kitchen noise at 6 dB, mixed as `python -m bench
    realspeech` mixes it: Moonshine says the request twice freely. Counted as extra words it was refused as a sentence
    ended early; as words past the sentence it is none, and the sentence is read back. Settings as shipped."""
    from device.adapters.speech.moonshine import Moonshine

    with wave.open(str(DATA / "barista_house_coffee_6db.wav"), "rb") as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.float32) / 32768
    context = compile_context(__import__("yaml").safe_load((DATA / "coffee_maker.yaml").read_text()))
    rec = ConstrainedRecognizer(Moonshine(), "en-US", SearchSettings(**NEURAL_SEARCH["moonshine"]))
    rec.set_automaton(context.automaton, roles=context.roles())
    result = rec.search(audio)
    digits = digit_aliases("en")
    said, free = sentence_words(result.best.words, digits), words_of(rec.free_text(result), digits)
    assert free == said + said  # the model's own repetition
    assert rec.judge.ended_early(result) == 0 and rec.confidence(result) >= 0.85
    label = json.loads((DATA / "barista_labels.json").read_text())["barista_house_coffee.wav"]
    assert context.understand(result.best.words) == (label["intent"], label["slots"])
