"""Serving the dashboard: in the foreground (`spectrumgen dashboard`) or beside a run
(`spectrumgen run --dashboard`), with uvicorn."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import uvicorn
import yaml
from starlette.applications import Starlette

from spectrumgen.dashboard.app import create_app, wait_until_shown
from spectrumgen.dashboard.ledger_view import LedgerView
from spectrumgen.errors import BadInputError

DEFAULT_HOST = "127.0.0.1"  # this machine only, unless told otherwise
DEFAULT_PORT = 8765


def load_prices(path: str | Path | None) -> dict[str, tuple[float, float]]:
    """A price table: model -> [input, output] in money per million tokens (YAML or JSON)."""
    if path is None:
        return {}
    try:
        table = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise BadInputError(f"price table {str(path)!r} is not readable: {error}") from None
    if not isinstance(table, Mapping):
        raise BadInputError(f"price table {str(path)!r} must map model names to [input, output]")
    prices = {}
    for model, pair in table.items():
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(p, int | float) and p >= 0 for p in pair)
        ):
            raise BadInputError(
                f"price table {str(path)!r}: {model!r} must be [input, output] per million "
                f"tokens, two numbers of 0 or more, not {json.dumps(pair, default=str)}"
            )
        prices[str(model)] = (float(pair[0]), float(pair[1]))
    return prices


@dataclass
class Dashboard:
    """The dashboard's app and the uvicorn server that serves it (not started)."""

    app: Starlette
    server: uvicorn.Server
    thread: threading.Thread | None = None

    def serve_until_interrupted(self) -> None:
        """Serve (started with `start_beside`) until Ctrl-C or SIGTERM, then stop cleanly."""
        try:
            while self.thread is not None and self.thread.is_alive():
                self.thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()
            if self.thread is not None:
                self.thread.join(5)

    def start_beside(self, timeout: float = 10.0) -> str:
        """Serve on a daemon thread; the base URL once it listens."""
        self.thread = thread = threading.Thread(
            target=self.server.run, name="spectrumgen-dashboard", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                config = self.server.config
                raise BadInputError(
                    f"the dashboard could not listen on {config.host}:{config.port} (in use? "
                    "pass another --dashboard-port)"
                )
            time.sleep(0.02)
        return self.base_url()

    def base_url(self) -> str:
        """http://host:port of the started server (the port it got, when asked for port 0)."""
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        return f"http://{shown}:{port}"

    def wait_until_shown(self, run_id: str, timeout: float = 5.0) -> None:
        """Let a page watching the run show how it ended (`app.wait_until_shown`)."""
        wait_until_shown(self.app, run_id, timeout)

    def stop(self) -> None:
        """Ask the server to stop (it ends after its open requests)."""
        self.server.should_exit = True


def make_dashboard(
    db_url: str,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    run_id: str | None = None,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> Dashboard:
    """The dashboard over the ledger at `db_url`, ready to serve on host:port."""
    try:
        view = LedgerView(db_url, prices)
    except (ValueError, ImportError) as error:
        raise BadInputError(f"the dashboard cannot read ledger {db_url!r}: {error}") from None
    app = create_app(view, run_id)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return Dashboard(app, uvicorn.Server(config))
