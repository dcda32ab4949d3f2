"""Log formats."""

from __future__ import annotations

import io
import json
import logging
import queue

import pytest

from shared.config import load_config
from shared.logs import _BatchWriter, setup_logging


def test_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """With OGSHOT_LOG_FORMAT=json each record is one JSON object with the message."""
    setup_logging(load_config({"OGSHOT_ALLOWED_HOSTS": "a.com", "OGSHOT_LOG_FORMAT": "json"}))
    try:
        logging.getLogger("ogshot.test").info("render done key=%s ms=%d", "v1/ab", 12)
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["message"] == "render done key=v1/ab ms=12"
        assert record["level"] == "info"
        assert record["logger"] == "ogshot.test"
    finally:
        logging.getLogger().handlers.clear()


def test_text_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Without the variable, lines are plain text."""
    setup_logging(load_config({"OGSHOT_ALLOWED_HOSTS": "a.com"}))
    try:
        logging.getLogger("ogshot.test").warning("plain")
        assert capsys.readouterr().err.strip().endswith("WARNING ogshot.test plain")
    finally:
        logging.getLogger().handlers.clear()


def test_background_lines_are_written_in_order_and_stop_writes_the_rest() -> None:
    """The writer thread writes queued lines in batches, in order; stop() writes what is left
    and ends the thread cleanly."""
    out = io.StringIO()
    stream: logging.StreamHandler[io.StringIO] = logging.StreamHandler(out)
    stream.setFormatter(logging.Formatter("%(message)s"))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = _BatchWriter(records, stream)  # type: ignore[arg-type]
    for i in range(500):
        records.put(logging.makeLogRecord({"msg": f"line {i}"}))
    writer.stop()
    assert not writer.is_alive()
    assert out.getvalue().splitlines() == [f"line {i}" for i in range(500)]
