"""How await_ready composes the engine's waits into the readiness recorded with an image
(the waits themselves are tested against real pages in test_capture.py)."""

from __future__ import annotations

from worker.engines import POLL_SECONDS, QUIET_SECONDS, await_ready, next_look, settled


def never_called(*_args: object) -> str:
    raise AssertionError("not to be called")


def test_zero_switches_the_wait_off() -> None:
    assert await_ready(never_called, never_called, never_called, 0, 10) == "off"


def test_no_time_left_after_load_is_a_timeout_without_waiting() -> None:
    outcome = await_ready(never_called, never_called, never_called, 3, 0)
    assert outcome == "timeout: the page took all of OGSHOT_RENDER_TIMEOUT to load"


def test_the_budget_is_the_smaller_of_the_two_limits() -> None:
    asked: list[float] = []
    await_ready(asked.append, lambda: "", lambda s: "ready", 3, 1.5)
    assert asked == [1.5]


def test_a_quiet_page_reports_what_the_settle_script_said() -> None:
    assert await_ready(lambda s: None, lambda: "", lambda s: "ready", 3, 10) == "ready"
    late = "timeout: window.ogshotReady still awaited"
    assert await_ready(lambda s: None, lambda: "", lambda s: late, 3, 10) == late


def test_a_consent_script_error_is_reported_when_all_else_was_ready() -> None:
    failed = "error: consent banner: TypeError"
    assert await_ready(lambda s: None, lambda: failed, lambda s: "ready", 3, 10) == failed


def test_pending_requests_are_named_three_at_most() -> None:
    pending = [f"https://a.example/{i}" for i in range(5)]
    outcome = await_ready(lambda s: pending, lambda: "", lambda s: "ready", 3, 10)
    assert outcome == (
        "timeout: the network never went quiet (5 pending: https://a.example/0, "
        "https://a.example/1, https://a.example/2 and 2 more)"
    )
    kept_starting = await_ready(lambda s: [], lambda: "", lambda s: "ready", 3, 10)
    assert kept_starting == "timeout: the network never went quiet (requests kept starting)"


def test_the_engine_looks_again_when_the_network_could_first_be_quiet() -> None:
    """While requests are pending it looks every POLL_SECONDS; with none, not before the
    quiet window since the last one could have passed (and never less than a poll)."""
    assert next_look(True, 0.0) == POLL_SECONDS
    assert abs(next_look(False, 0.03) - (QUIET_SECONDS - 0.03)) < 1e-9
    assert next_look(False, QUIET_SECONDS) == POLL_SECONDS
    assert next_look(False, 10.0) == POLL_SECONDS


def test_the_settle_scripts_answer_is_the_outcome_and_what_held_it_last() -> None:
    """[outcome, waited] from the page; a bare string (a page that broke the script's
    return) is the outcome with nothing said of the wait."""
    assert settled(["ready", "drawing on a canvas"]) == ("ready", "drawing on a canvas")
    assert settled(["ready", None]) == ("ready", "")
    assert settled("error: TypeError") == ("error: TypeError", "")
