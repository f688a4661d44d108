"""Log set-up for the server: readable lines, and no secrets in URLs that reach the access log."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

_SECRET_QUERY = re.compile(r"(?i)\b(ticket|token|access_token|password|key|api_key)=[^&\s\"']*")
# An API key wherever it appears (a client that put it in a URL, a message that quotes it).
_API_KEY = re.compile(r"parley_[0-9A-Za-z]{8,}")
# Paths authorized by the token in them: a one-time export download, a share link's page (/s/TOKEN) and the
# public API answer behind it.
_SECRET_PATH = re.compile(r"(/api/exports/|/s/|/api/public/shares/)[^/?#\s\"']+")


def redact(text: str) -> str:
    text = _SECRET_PATH.sub(lambda m: f"{m.group(1)}[redacted]", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}=[redacted]", text)
    return _API_KEY.sub("parley_[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites any ``ticket=...`` / ``token=...`` in a record (uvicorn logs the WebSocket URL), and the token of a
    share link's path (uvicorn logs every request's path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors: time (UTC, ISO 8601), level, logger, message, and the
    traceback when there is one. Runs after the redaction filter, like the plain format."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def log_config(level: str, log_format: str = "plain") -> dict[str, Any]:
    """A logging dictConfig for uvicorn and Parley alike, in ``plain`` lines or ``json`` objects."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecretsFilter}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "datefmt": "%H:%M:%S"},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["redact"],
                "stream": "ext://sys.stderr",
            },
        },
        "loggers": {
            "parley": {"level": level, "handlers": ["console"], "propagate": False},
            "uvicorn": {"level": "INFO", "handlers": ["console"], "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
        "root": {"level": "WARNING", "handlers": ["console"]},
    }
