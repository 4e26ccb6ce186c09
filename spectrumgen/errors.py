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


class LedgerUnavailableError(SpectrumgenError):
    """The ledger's database does not answer (a server down, a file locked); exit code 1.

    Nothing is lost: the run resumes once it is back.
    """

    exit_code = 1


class LedgerDamagedError(SpectrumgenError):
    """The ledger (or its checkpoint file) is damaged, read-only, or another application's
    database: retrying will not help, the message says what will (exit code 5)."""

    exit_code = 5


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
