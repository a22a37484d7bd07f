"""An optional part that is not installed is one line naming its extra and the command that installs it."""

from __future__ import annotations

import io
import sys

import pytest

from device.errors import ReorderError
from device.errors import MissingExtra, require


@pytest.fixture
def without(monkeypatch):
    """Make `import name` fail as if the package were not installed."""
    def hide(*names: str) -> None:
        for name in names:
            monkeypatch.setitem(sys.modules, name, None)
    return hide


def test_a_missing_extra_names_itself_and_both_install_commands(without):
    without("vosk")
    with pytest.raises(MissingExtra) as err:
        require("vosk", "vosk", "[recognizer] engine = \"vosk\"")
    message = str(err.value)
    assert isinstance(err.value, ReorderError) and err.value.exit_code == 2 and "\n" not in message
    assert "[vosk] extra" in message and "scripts/install.sh --extras vosk" in message
    assert "pip install 'reorder-speaker[vosk]'" in message


def test_an_installed_module_is_returned():
    assert require("json", "demo", "anything").dumps([1]) == "[1]"


def test_vosk_and_porcupine_without_their_extra(without, tmp_path):
    from device.adapters.speech.porcupine import Porcupine
    from device.adapters.speech.vosk import Vosk

    without("vosk", "pvporcupine")
    with pytest.raises(MissingExtra, match=r"\[vosk\] extra"):
        Vosk(tmp_path)
    with pytest.raises(MissingExtra, match=r"\[porcupine\] extra"):
        Porcupine("jarvis", "key")


def test_the_doctor_prints_plain_lines_on_a_terminal_without_rich(without):
    from device.doctor import Printer
    from device.doctor.result import Result

    class Terminal(io.StringIO):
        encoding = "utf-8"

        def isatty(self) -> bool:
            return True

    without("rich")
    out = Terminal()
    printer = Printer(out)
    printer(Result("clock", True, "synchronised"))
    assert printer.console is None and "clock: synchronised" in out.getvalue()
