"""The LED language on gpiozero's MockFactory pins: every state's pattern, checked with timed states."""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from device.adapters.hardware.gpio import GpioPanel
from device.config import GpioSettings
from device.confirmation.led import PATTERNS, RED, Light
from device.contract.inputs import ButtonEdge, MuteChanged
from device.loop import State


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


@pytest.fixture
def inbox():
    return []


def panel(factory, inbox, **kw) -> GpioPanel:
    return GpioPanel(GpioSettings(**kw), inbox.append, pin_factory=factory)


def test_every_state_has_a_pattern():
    assert {s.value for s in State} <= set(PATTERNS)
    assert set(PATTERNS) - {s.value for s in State} == {"undo-closing"}


def test_solid_muted_is_red_only(factory, inbox):
    with panel(factory, inbox) as p:
        p.show(PATTERNS["muted"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [1, 0, 0]
        p.show(PATTERNS["idle"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [0, 0, 0]


def test_listening_is_solid_blue(factory, inbox):
    with panel(factory, inbox) as p:
        p.show(PATTERNS["listening"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [0, 0, 1]


def test_a_blink_toggles_at_its_times(factory, inbox):
    with panel(factory, inbox) as p:
        red = factory.pin(5)
        red.clear_states()
        p.show(Light(RED, "blink", 0.1, 0.1))
        time.sleep(0.45)
        p.show(PATTERNS["idle"])
        # gpiozero's own timed assertion: on, off, on, off ... every 0.1 s (with scheduling slack).
        red.assert_states_and_times([(0.0, 0), (0.0, 1), (0.1, 0), (0.1, 1), (0.1, 0)])


def test_awaiting_confirmation_pulses_amber(factory, inbox):
    with panel(factory, inbox) as p:
        red, green, blue = (factory.pin(n) for n in (5, 6, 13))
        for pin in (red, green, blue):
            pin.clear_states()
        p.show(PATTERNS["awaiting-confirmation"])
        time.sleep(0.5)
        levels = {round(s.state, 2) for s in red.states}
        assert len(levels) > 5  # a fade, not a blink
        assert max(s.state for s in green.states) <= 0.5 + 1e-6 and max(s.state for s in blue.states) == 0


def test_separate_leds_show_the_colour_parts(factory, inbox):
    with panel(factory, inbox, led="separate") as p:
        p.show(PATTERNS["muted"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [1, 0, 0]
        p.show(PATTERNS["accepted"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [0, 1, 0]


def test_common_anode_leds_are_inverted(factory, inbox):
    with panel(factory, inbox, active_high=False) as p:
        p.show(PATTERNS["listening"])
        assert [factory.pin(n).state for n in (5, 6, 13)] == [1, 1, 0]


def test_the_button_reports_edges_and_the_mute_switch_its_position(factory, inbox):
    with panel(factory, inbox, mute_button=27, mute_is_switch=True):
        factory.pin(17).drive_low()
        factory.pin(17).drive_high()
        factory.pin(27).drive_low()
        factory.pin(27).drive_high()
    assert inbox == [ButtonEdge(True), ButtonEdge(False), MuteChanged(True), MuteChanged(False)]


def test_a_mute_push_button_toggles(factory, inbox):
    with panel(factory, inbox, mute_button=27):
        for _ in range(2):
            factory.pin(27).drive_low()
            time.sleep(0.06)  # past the 50 ms debounce
            factory.pin(27).drive_high()
            time.sleep(0.06)
    assert inbox == [MuteChanged(True), MuteChanged(False)]


def test_close_turns_leds_off_and_is_idempotent(factory, inbox):
    p = panel(factory, inbox)
    p.show(PATTERNS["accepted"])
    p.close()
    p.close()
    assert factory.pin(6).state == 0
