"""The command line: `spectrumgen run`, `coverage`, `compare`, `export` and `dashboard`. It owns
the terminal; the library only logs.

Exit codes: 0 target and quotas met; 1 the ledger's database stopped answering (resume once it is
back); 2 bad input or configuration; 3 budget spent (or quotas no longer reachable) with what was
accepted kept; 4 LLM backend unreachable or model missing; 5 ledger or checkpoint file damaged,
read-only or another application's database; 130 interrupted (what was accepted is kept).
"""

from __future__ import annotations

import logging
import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from spectrumgen.cli import dashboard, reports, run  # noqa: F401  (each module registers its commands)
from spectrumgen.cli.common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, app, err
from spectrumgen.errors import LedgerDamagedError, SpectrumgenError
from spectrumgen.ledger.store import database_reason, ledger_damage
from spectrumgen.redact import RedactingFilter, redact

EXIT_LEDGER = 1
# Typer raises click-style usage errors (its own copy of click in newer releases); BadParameter
# derives from UsageError in every release, so the class is found from there.
UsageError: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError"
)


def main(argv: list[str] | None = None) -> int:
    """Entry point: every failure becomes one line on stderr and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    # The CLI prints what the library logs for users of its Python API (the auto notice, say);
    # without a handler Python would print those warnings a second time.
    logging.getLogger("spectrumgen").addHandler(logging.NullHandler())
    for handler in logging.getLogger().handlers:  # whatever else logs to the terminal
        handler.addFilter(RedactingFilter())
    try:
        result = app(args=args or ["--help"], standalone_mode=False)
    except typer.Exit as done:
        return done.exit_code
    except UsageError as error:
        message = redact(error.format_message())  # type: ignore[attr-defined]
        err.print(f"spectrumgen: error: {message}", markup=False, highlight=False, soft_wrap=True)
        return EXIT_BAD_INPUT
    except typer.Abort:
        return EXIT_INTERRUPTED
    except SpectrumgenError as error:
        err.print(f"spectrumgen: error: {error}", markup=False, highlight=False, soft_wrap=True)
        return error.exit_code
    except SQLAlchemyError as error:  # the ledger went away for longer than the retries
        reason = redact(database_reason(error))
        if ledger_damage(reason):
            err.print(
                f"spectrumgen: error: the ledger cannot be written ({reason}); restore it from "
                "a backup, make it writable, or pass another --db",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            return LedgerDamagedError.exit_code
        err.print(
            f"spectrumgen: error: the ledger stopped answering ({reason}); what was recorded is "
            "kept: resume the run with --resume once it is back",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return EXIT_LEDGER
    return int(result or 0) if isinstance(result, int) else EXIT_OK
