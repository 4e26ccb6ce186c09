"""What every command shares: the typer app, the two consoles and the exit codes."""

from __future__ import annotations

import typer
from rich.console import Console

from spectrumgen.ledger import Ledger
from spectrumgen.ledger import open_ledger as _open_ledger

EXIT_OK, EXIT_BAD_INPUT, EXIT_BUDGET, EXIT_BACKEND, EXIT_INTERRUPTED = 0, 2, 3, 4, 130

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    help="Generate LLM training data that covers its parameter space on purpose.",
)
err = Console(stderr=True)
out = Console()


@app.callback()
def _root() -> None:
    """spectrumgen: plan coverage gaps, generate in batches, validate, repair, record."""


def open_ledger(url: str) -> Ledger:
    """The ledger at `url`, saying so on stderr when opening it upgraded its schema."""
    ledger = _open_ledger(url)
    if ledger.upgraded:
        err.print(f"note: {ledger.upgraded}", markup=False, highlight=False, soft_wrap=True)
        ledger.upgraded = None  # said once
    return ledger
