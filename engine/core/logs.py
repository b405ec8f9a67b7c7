"""Structured (JSON lines) logging; request ids travel in ``extra``."""

from __future__ import annotations

import logging
import sys
from typing import ClassVar

import orjson


class JsonFormatter(logging.Formatter):
    _std: ClassVar[frozenset[str]] = frozenset(vars(logging.makeLogRecord({})).keys()) | {
        "message",
        "asctime",
    }

    def format(self, record: logging.LogRecord) -> str:
        body = {
            "ts": record.created,
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        body.update({k: v for k, v in vars(record).items() if k not in self._std})
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(body, default=str).decode()


def configure_json_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
