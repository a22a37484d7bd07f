"""The button language in audio time."""

from device.stages.button import Press, PressTimer


def test_short_press_on_release():
    timer = PressTimer(1.5)
    timer.pressed(10.0)
    assert timer.tick(10.2) is None
    assert timer.released(10.2) == Press(False, 10.0)


def test_long_press_acts_while_held_and_its_release_is_nothing():
    timer = PressTimer(1.5)
    timer.pressed(10.0)
    assert timer.tick(11.4) is None
    assert timer.tick(11.5) == Press(True, 10.0)
    assert timer.tick(12.0) is None
    assert timer.released(12.3) is None


def test_a_used_press_releases_as_nothing():
    timer = PressTimer(1.5)
    timer.pressed(1.0)
    timer.use()
    assert timer.tick(5.0) is None and timer.released(5.0) is None


def test_a_release_without_a_press_is_nothing():
    assert PressTimer(1.5).released(3.0) is None
