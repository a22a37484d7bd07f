"""The button language in audio time: debounced edges, short and long presses."""

from device.confirmation.gestures import Down, Push, PressTimer

FRAME = 0.08


def run(timer: PressTimer, edges: dict[float, list[bool]], until: float) -> list[tuple[float, object]]:
    """Feed edges seen at each frame's time, tick every frame as the loop does; (t, gesture) pairs."""
    out = []
    for k in range(1, round(until / FRAME) + 1):
        t = round(k * FRAME, 6)
        for pressed in edges.get(t, []):
            timer.edge(pressed, t)
        out += [(t, g) for g in timer.tick(t)]
    return out


def test_short_press_on_release():
    got = run(PressTimer(1.5), {0.8: [True], 1.04: [False]}, 2.0)
    assert got == [(0.88, Down(0.8)), (1.12, Push(False, 0.8))]


def test_chatter_at_both_ends_of_one_press_is_one_press():
    # down/up/down within one frame, held, then up/down/up: the level settles once each way.
    got = run(PressTimer(1.5), {0.8: [True, False, True], 1.04: [False, True, False]}, 2.0)
    assert [g for _, g in got] == [Down(0.8), Push(False, 0.8)]


def test_chatter_across_frame_boundaries_is_still_one_press():
    got = run(PressTimer(1.5), {0.8: [True], 0.88: [False, True], 1.2: [False], 1.28: [True, False]}, 2.0)
    assert [g for _, g in got] == [Down(0.8), Push(False, 0.8)]


def test_a_press_seen_for_one_frame_counts():
    # replay's 0.15 s press can be down in one frame and up in the next
    assert run(PressTimer(1.5), {0.8: [True], 0.88: [False]}, 2.0) == [(0.88, Down(0.8)), (0.96, Push(False, 0.8))]


def test_a_burst_of_chatter_that_ends_released_is_no_press():
    assert run(PressTimer(1.5), {0.8: [True, False, True, False]}, 2.0) == []


def test_a_press_shorter_than_the_minimum_is_no_press():
    timer = PressTimer(1.5, debounce_seconds=0.01, min_press_seconds=0.1)
    got = run(timer, {0.8: [True], 0.88: [False]}, 2.0)  # held 0.08 s
    assert got == [(0.88, Down(0.8))]


def test_long_press_acts_while_held_and_its_release_is_nothing():
    got = run(PressTimer(1.5), {0.8: [True], 3.2: [False]}, 4.0)
    assert got == [(0.88, Down(0.8)), (2.32, Push(True, 0.8))]


def test_a_used_press_releases_as_nothing():
    timer = PressTimer(1.5)
    timer.edge(True, 1.0)
    assert timer.tick(1.08) == [Down(1.0)]
    timer.use()
    timer.edge(False, 5.0)
    assert timer.tick(5.0) == [] and timer.tick(5.08) == []


def test_a_release_without_a_press_is_nothing():
    timer = PressTimer(1.5)
    timer.edge(False, 3.0)
    assert timer.tick(3.08) == []


def test_reset_forgets_the_press_in_progress():
    timer = PressTimer(1.5)
    timer.edge(True, 1.0)
    assert timer.tick(1.08) == [Down(1.0)]
    timer.reset()  # muted while held
    timer.edge(False, 1.5)
    assert timer.tick(1.58) == [] and timer.tick(5.0) == []
