"""Tabs open side by side, a window alone (worker/engines/contexts.py's Openings): Firefox
fails a tab opened while a window opens. Threads and events only, no browser."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from worker.engines.contexts import Openings

# A thread kept out is seen still waiting after this long; one let in is seen inside in
# much less. A broken Openings lets a thread in at once, so the checks below cannot pass
# by being slow.
LOOK = 0.3


class Holder:
    """A thread that enters one of Openings' turns and stays inside until let go."""

    def __init__(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        self.inside = threading.Event()
        self._go = threading.Event()
        self._thread = threading.Thread(target=self._hold, args=(turn,), daemon=True)
        self._thread.start()

    def _hold(self, turn: Callable[[], AbstractContextManager[None]]) -> None:
        with turn():
            self.inside.set()
            self._go.wait(10)

    def leave(self) -> None:
        self._go.set()
        self._thread.join(10)


def test_tabs_open_side_by_side() -> None:
    openings = Openings()
    one, two = Holder(openings.tab), Holder(openings.tab)
    assert one.inside.wait(5)
    assert two.inside.wait(5)
    one.leave()
    two.leave()


def test_a_tab_waits_while_a_window_opens() -> None:
    openings = Openings()
    window = Holder(openings.window)
    assert window.inside.wait(5)
    tab = Holder(openings.tab)
    assert not tab.inside.wait(LOOK)
    window.leave()
    assert tab.inside.wait(5)
    tab.leave()


def test_a_window_waits_for_the_tabs_opening_and_goes_before_any_tab_after_it() -> None:
    openings = Openings()
    first = Holder(openings.tab)
    assert first.inside.wait(5)
    window = Holder(openings.window)
    assert not window.inside.wait(LOOK)
    later = Holder(openings.tab)  # asked for while the window waits
    assert not later.inside.wait(LOOK)
    first.leave()
    assert window.inside.wait(5)
    assert not later.inside.wait(LOOK)
    window.leave()
    assert later.inside.wait(5)
    later.leave()


def test_windows_open_one_at_a_time() -> None:
    openings = Openings()
    one = Holder(openings.window)
    assert one.inside.wait(5)
    two = Holder(openings.window)
    assert not two.inside.wait(LOOK)
    one.leave()
    assert two.inside.wait(5)
    two.leave()
