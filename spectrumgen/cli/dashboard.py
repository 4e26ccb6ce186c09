"""`spectrumgen dashboard`: a live, read-only web page over the ledger."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer

from spectrumgen.cli.common import app, err
from spectrumgen.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, load_prices, make_dashboard
from spectrumgen.graph.context import DEFAULT_DB_URL
from spectrumgen.redact import redact


@app.command()
def dashboard(
    db: Annotated[str, typer.Option(help="SQLAlchemy URL of the coverage ledger.")] = (
        DEFAULT_DB_URL
    ),
    run_id: Annotated[
        str | None, typer.Option("--run", help="Open on this run (else the list of runs).")
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address to listen on (this machine only by default).")
    ] = DEFAULT_HOST,
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = (
        DEFAULT_PORT
    ),
    prices: Annotated[
        Path | None,
        typer.Option(help="Price table (YAML/JSON): model -> [input, output] per 1M tokens."),
    ] = None,
) -> None:
    """Serve a live dashboard of the ledger's runs: progress, quotas, coverage, failures,
    examples, workers and cost. Read-only: it never writes the ledger."""
    server = make_dashboard(db, host, port, run_id, load_prices(prices))
    url = server.start_beside()
    page = f"/runs/{run_id}" if run_id else "/"
    err.print(
        f"dashboard of {redact(db)} at {url}{page} (Ctrl-C stops it)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C
    server.serve_until_interrupted()
