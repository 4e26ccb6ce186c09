"""One place that hides secrets: URL passwords, API keys and tokens never leave in any output.

Everything spectrumgen shows or stores about a failure goes through `redact`: its errors (so the
terminal, the served API and checkpoints), its log records (`RedactingFilter`), failed calls kept
in the run's state, and the manifest.
"""

from __future__ import annotations

import logging
import os
import re

HIDDEN = "***"
# user:password@ in any scheme://... (http, postgresql+psycopg, ...); the user stays visible.
URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)[^\s@/'\"]+(?=@)")
# ?api_key=..., &token=..., password=... in a query string or a settings line.
NAMED_SECRET = re.compile(
    r"(?P<head>\b(?:api[_-]?key|apikey|access[_-]?token|token|password|passwd|secret)=)"
    r"[^\s&'\"]+",
    re.IGNORECASE,
)
BEARER = re.compile(r"(?P<head>\bBearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
SECRET_ENV = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)", re.IGNORECASE)
MIN_SECRET_CHARS = 6  # shorter values would blank out ordinary words


def redact(text: str) -> str:
    """The text with URL passwords, key=value secrets, bearer tokens and the values of secret
    environment variables (names holding KEY, TOKEN, SECRET, PASSWORD) replaced by ***."""
    text = URL_PASSWORD.sub(rf"\g<head>{HIDDEN}", text)
    text = NAMED_SECRET.sub(rf"\g<head>{HIDDEN}", text)
    text = BEARER.sub(rf"\g<head>{HIDDEN}", text)
    for value in _secret_values():
        text = text.replace(value, HIDDEN)
    return text


def _secret_values() -> list[str]:
    values = {
        value
        for name, value in os.environ.items()
        if SECRET_ENV.search(name) and len(value) >= MIN_SECRET_CHARS
    }
    return sorted(values, key=len, reverse=True)  # a longer secret before one it contains


class RedactingFilter(logging.Filter):
    """Redacts every record a handler emits (message and arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
