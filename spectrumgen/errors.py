"""Domain errors: each says what went wrong and what to do, and maps to one CLI exit code."""

from __future__ import annotations

from spectrumgen.redact import redact


class SpectrumgenError(Exception):
    """Base of every error spectrumgen raises on purpose. Its message never holds a secret
    (`spectrumgen.redact`): it reaches terminals, served callers and checkpoints."""

    exit_code = 1

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class BadInputError(SpectrumgenError, ValueError):
    """A spec, a flag or a stored run that cannot be used as given (exit code 2).

    A ValueError too, so a served graph's caller sees its message (the server hides the
    messages of other exception types).
    """

    exit_code = 2


class SpecError(BadInputError):
    """A spec file that is missing, unreadable or fails validation; the message names the field."""


class BackendUnavailableError(SpectrumgenError):
    """The LLM backend cannot be reached or lacks the model (exit code 4)."""

    exit_code = 4


class TransientBackendError(BackendUnavailableError):
    """A transport failure that may pass (connection refused, timeout, HTTP 5xx).

    The graph retries the node with backoff (LangGraph `RetryPolicy`); when every attempt
    fails, it stops the run like any unavailable backend (exit code 4).
    """


class ReplyParseError(SpectrumgenError):
    """A model reply from which not a single item could be read."""
