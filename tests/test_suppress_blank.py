"""The free pass may not end before its first token (SearchSettings.suppress_blank): a model that says end of text at
once, as Moonshine does on some requests in kitchen noise, still says what it heard, and the sentence is compared
with that rather than with nothing."""

from __future__ import annotations

import numpy as np
import pytest

from device.language.rhino import compile_context
from device.recognition.constrained import search
from device.recognition.neural import ConstrainedRecognizer, SearchSettings
from device.recognition.spelling import Speller
from tests.fake_decoder import FakeDecoder

LOUD = (np.sin(np.arange(32000) / 5) * 8000).astype(np.float32) / 32768
CONTEXT = compile_context({"context": {"expressions": {"o": ["(order) $d:d"]}, "slots": {"d": ["coffee", "milk"]}}})


class EndsAtOnce(FakeDecoder):
    """Hears `heard`, but its first choice is to end at once: end of text 0.8, everything else a fifth as likely."""

    def start(self, audio):
        logp, state = super().start(audio)
        logp = (logp + np.log(0.2)).astype(np.float32)
        logp[self.eos] = np.log(0.8)
        return logp, state


@pytest.mark.parametrize("greedy_first", [True, False])
def test_a_model_that_ends_at_once_is_asked_what_it_heard(greedy_first):
    said = {}
    for suppress in (False, True):
        rec = ConstrainedRecognizer(EndsAtOnce(" coffee"), "en-US",
                                    SearchSettings(greedy_first=greedy_first, suppress_blank=suppress))
        rec.set_automaton(CONTEXT.automaton)
        result = rec.search(LOUD)
        assert result.best is not None and result.best.text == "coffee"
        said[suppress] = (rec.free_text(result), result.gap())
    assert said[False][0] == "" and said[True][0] == "coffee"
    assert said[True][1] == 0.0 < -said[False][1]  # the sentence is what the model says, not worse than nothing


def test_only_the_first_token_is_held_back_from_ending():
    decoder = FakeDecoder(" milk")  # ends after "milk" as it would anyway
    result = search(decoder, Speller(CONTEXT.automaton, decoder.vocabulary, {}), LOUD, suppress_blank=True)
    assert result.best is not None and result.best.text == "milk" and result.best.tokens == 2
    assert [decoder.vocabulary[t] for t in result.free_tokens] == [b" milk"]
