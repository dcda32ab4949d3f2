"""WebDriver BiDi over Selenium's WebSocket connection: commands from many threads at once,
events in the order the browser sent them, errors translated into the engines' own.

Firefox ESR speaks BiDi itself; Chromium through chromedriver. Both take the same commands,
so every render of either engine is driven by the same code (worker/engines/contexts.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from selenium.webdriver.remote.websocket_connection import WebSocketConnection
from websocket import WebSocketApp, WebSocketException

from worker.engines import BrowserError

# websocket-client logs an ERROR each time a browser closes its end, as every browser does
# when it stops: a connection lost mid-render is reported as the render's BrowserError.
logging.getLogger("websocket").setLevel(logging.CRITICAL)

# How often a waiting command looks whether the socket is still open: a browser that
# died answers nothing, and its renders must fail at once, not at their time limits.
_ALIVE_EVERY = 0.5


class CommandError(Exception):
    """The browser answered a command with an error (``error`` is the protocol's code)."""

    def __init__(self, method: str, error: str, message: str) -> None:
        super().__init__(f"{method}: {error}: {message}")
        self.error = error
        self.message = message


class CommandTimeout(Exception):  # noqa: N818 - reads as the outcome
    """A command got no answer in time (the page behind it is busy, say)."""


class _Waiter:
    __slots__ = ("event", "reply")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reply: dict[str, Any] | None = None


class Connection(WebSocketConnection):
    """Selenium's BiDi WebSocket, with two changes for many renders at once: a command's
    caller sleeps until its own reply arrives (Selenium's polls every few milliseconds,
    in every waiting thread), and events reach their listener in the socket's thread, in
    order (Selenium starts a thread per event, so a request's end could be seen before its
    start)."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self._waiting: dict[int, _Waiter] = {}
        self._listeners: dict[str, Callable[[dict[str, Any]], None]] = {}
        self._guard = threading.Lock()
        self._next = 0
        self._shut = False
        super().__init__(url, timeout, 0.01)  # type: ignore[no-untyped-call]

    def _start_ws(self) -> None:  # Selenium's, with UTF-8 left to Python's own decoding
        # websocket-client checks each text frame's UTF-8 byte by byte in Python unless
        # told not to: 150 ms of the worker's CPU for each screenshot of 500 KB (the
        # payload is decoded to str right after, which checks it all the same, in C).
        def started(_socket: WebSocketApp) -> None:
            self._started = True

        def message(_socket: WebSocketApp, text: str) -> None:
            self._process_message(text)

        def failed(socket: WebSocketApp, _error: Exception) -> None:
            socket.close()

        self._ws = WebSocketApp(self.url, on_open=started, on_message=message, on_error=failed)
        self._ws_thread = threading.Thread(
            target=self._ws.run_forever,
            kwargs={"suppress_origin": True, "skip_utf8_validation": True},
            daemon=True,
        )
        self._ws_thread.start()

    def listen(self, method: str, listener: Callable[[dict[str, Any]], None]) -> None:
        """Call ``listener(params)`` for each event ``method`` (in the socket's thread: it
        must be quick and never send a command)."""
        self._listeners[method] = listener

    def _process_message(self, message: str) -> None:  # Selenium's hook, in its socket thread
        data = json.loads(message)
        if "id" in data:
            with self._guard:
                waiter = self._waiting.pop(data["id"], None)
            if waiter is not None:
                waiter.reply = data
                waiter.event.set()
        elif (listener := self._listeners.get(data.get("method", ""))) is not None:
            listener(data.get("params", {}))

    @property
    def alive(self) -> bool:
        """Whether the socket is open (False once the browser died or closed it)."""
        thread = self._ws_thread
        return self._ws is not None and thread is not None and thread.is_alive()

    def shut(self) -> None:
        """Fail the commands waiting, and those sent from now on (but ``last`` ones), at
        once with BrowserError: the browser is being stopped. With a render in flight its
        stop took Firefox and chromedriver 9-10 s, and the render, waiting that long,
        failed at its own time limit, as its page's fault, instead of being retried."""
        with self._guard:
            self._shut = True
            waiting = list(self._waiting.values())
        for waiter in waiting:
            waiter.event.set()

    def call(
        self, method: str, params: dict[str, Any], timeout: float = 30.0, *, last: bool = False
    ) -> dict[str, Any]:
        """Send a command and return its result. Raises CommandError for the browser's
        error answer, CommandTimeout when none came in ``timeout`` seconds, BrowserError
        when the connection is gone or shut (``last``: a command of the stop itself)."""
        waiter = _Waiter()
        with self._guard:
            if self._shut and not last:
                raise BrowserError(f"the browser is being stopped ({method})")
            self._next += 1
            number = self._next
            self._waiting[number] = waiter
        payload: dict[str, Any] = {"id": number, "method": method, "params": params}
        try:
            socket = self._ws
            if socket is None:
                raise BrowserError(f"the browser's connection is closed ({method})")
            socket.send(json.dumps(payload))
            deadline = time.monotonic() + timeout
            while not waiter.event.wait(min(_ALIVE_EVERY, max(0.0, deadline - time.monotonic()))):
                if not self.alive:
                    raise BrowserError(f"the browser's connection closed during {method}")
                if time.monotonic() >= deadline:
                    raise CommandTimeout(f"{method}: no answer in {timeout:.0f} s")
        # The socket, or one closed meanwhile (None, or websocket's "already closed").
        except (OSError, AttributeError, WebSocketException) as exc:
            raise BrowserError(f"the browser's connection failed during {method}: {exc}") from exc
        finally:
            with self._guard:
                self._waiting.pop(number, None)
        if waiter.reply is None:
            raise BrowserError(f"the browser was stopped during {method}")
        reply = waiter.reply
        if reply.get("type") == "error" or "error" in reply:
            raise CommandError(method, str(reply.get("error")), str(reply.get("message", "")))
        return dict(reply.get("result") or {})


def argument(value: object) -> dict[str, Any]:
    """A Python value as a BiDi LocalValue (what scripts are called with)."""
    if value is None:
        return {"type": "null"}
    if isinstance(value, bool):
        return {"type": "boolean", "value": value}
    if isinstance(value, int | float):
        return {"type": "number", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    if isinstance(value, list | tuple):
        return {"type": "array", "value": [argument(item) for item in value]}
    raise TypeError(f"no BiDi value for {type(value).__name__}")


def python(remote: dict[str, Any]) -> object:
    """A BiDi RemoteValue (what a script returned) as a Python value."""
    kind, value = remote.get("type"), remote.get("value")
    if kind in ("string", "boolean"):
        return value
    if kind == "number":
        return value if isinstance(value, int | float) else None  # NaN, Infinity, -0
    if kind == "array" and isinstance(value, list):
        return [python(item) for item in value]
    if kind == "object" and isinstance(value, list):
        return {str(python(key) if isinstance(key, dict) else key): python(item)
                for key, item in value}  # fmt: skip
    return None


class ScriptError(Exception):
    """A script run in a page threw (the page broke it, or refused a selector)."""


def function(body: str, *, asynchronous: bool = False) -> str:
    """A function declaration that runs ``body``, a script written as WebDriver Classic
    runs them (``arguments``, ``return``; an asynchronous one calls its last argument)."""
    if not asynchronous:
        return f"function() {{\n{body}\n}}"
    return (
        "function() { const args = [...arguments]; return new Promise(resolve => {"
        f" args.push(resolve); (function() {{\n{body}\n}}).apply(this, args); }}); }}"
    )
