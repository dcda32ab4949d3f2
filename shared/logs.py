"""Logging set-up for every ogshot process: plain text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
import time

from shared.config import Config

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` as JSON."""
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def formatter(config: Config) -> logging.Formatter:
    """The formatter OGSHOT_LOG_FORMAT asks for."""
    return JsonFormatter() if config.log_format == "json" else logging.Formatter(TEXT_FORMAT)


def setup_logging(config: Config, level: int = logging.INFO) -> None:
    """Send INFO and above to stderr in the configured format (replacing other handlers)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(config))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
