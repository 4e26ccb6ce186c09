"""The dashboard's web app: a read-only page per run over the ledger, updated live.

Starlette serves two server-rendered shells (the runs list and a run's page), a small JSON API
they poll every 1.5 s, and their script and style sheet, all from this package (no CDN: the
page works offline). Every answer comes from `LedgerView`, which cannot write the ledger. When
the ledger stops answering, the API says so with a 503 and the page shows a banner and keeps
polling; it recovers by itself when the ledger is back.
"""

from __future__ import annotations

import html
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from spectrumgen.dashboard.ledger_view import LedgerView
from spectrumgen.ledger.store import database_reason
from spectrumgen.redact import redact
from spectrumgen.schemas.spec import AXIS_NAMES

STATIC = Path(__file__).parent / "static"
POLL_MS = 1500  # the issue asks for at most every 2 s

Handler = Callable[[Request], Awaitable[Response]]


def create_app(view: LedgerView, run_id: str | None = None) -> Starlette:
    """The app over `view`; with `run_id`, the front page opens that run."""

    async def front(request: Request) -> Response:
        if run_id is not None:
            return RedirectResponse(f"/runs/{run_id}", status_code=307)
        return HTMLResponse(_page("spectrumgen runs", "runs", {}))

    async def run_page(request: Request) -> Response:
        wanted = request.path_params["run_id"]
        try:
            known = await run_in_threadpool(view.has_run, wanted)
        except SQLAlchemyError:
            known = True  # the ledger is away: the page says so and waits for it
        if not known:
            return HTMLResponse(_not_found(wanted), status_code=404)
        return HTMLResponse(_page(f"spectrumgen run {wanted}", "run", {"run": wanted}))

    async def api_runs(request: Request) -> Response:
        return await _answer(lambda: {"runs": view.runs()})

    async def api_run(request: Request) -> Response:
        wanted = request.path_params["run_id"]

        def read() -> dict[str, Any] | None:
            found = view.run(wanted)
            if found is not None:  # what a page was last shown of the run, and when
                served[wanted] = (time.monotonic(), found["run"]["status"])
            return found

        return await _answer(read, missing=f"no run {wanted!r} in this ledger")

    async def api_examples(request: Request) -> Response:
        wanted, query = request.path_params["run_id"], request.query_params
        kind = "rejected" if query.get("kind") == "rejected" else "accepted"
        buckets = {axis: query[axis] for axis in AXIS_NAMES if query.get(axis)}
        reason = query.get("reason") or None
        return await _answer(
            lambda: {"examples": view.examples(wanted, kind, buckets, reason), "kind": kind}
        )

    served: dict[str, tuple[float, str]] = {}
    app = Starlette(
        routes=[
            Route("/", front),
            Route("/runs/{run_id}", run_page),
            Route("/api/runs", api_runs),
            Route("/api/runs/{run_id}", api_run),
            Route("/api/runs/{run_id}/examples", api_examples),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]
    )
    app.state.served = served
    return app


def wait_until_shown(app: Starlette, run_id: str, timeout: float = 5.0) -> None:
    """Return once a page watching the run was shown it finished (at most `timeout`), or at
    once when no page asked about the run in the last 10 s: `spectrumgen run --dashboard`
    waits so the page shows the run's end before the process (and its server) exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        last = app.state.served.get(run_id)
        if last is None or time.monotonic() - last[0] > 10 or last[1] != "running":
            return
        time.sleep(0.05)


async def _answer(read: Callable[[], Any], missing: str = "not found") -> Response:
    """JSON of `read()` (run off the event loop); 404 when it found nothing, 503 when the ledger
    does not answer (the page shows a banner and tries again)."""
    try:
        found = await run_in_threadpool(read)
    except SQLAlchemyError as error:
        reason = redact(database_reason(error))
        return JSONResponse({"error": f"the ledger is not answering ({reason})"}, status_code=503)
    if found is None:
        return JSONResponse({"error": missing}, status_code=404)
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


def _page(title: str, kind: str, data: dict[str, str]) -> str:
    attributes = " ".join(f'data-{key}="{html.escape(value)}"' for key, value in data.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="/static/dashboard.css">
<link rel="icon" href="data:,">
</head>
<body data-page="{kind}" data-poll-ms="{POLL_MS}" {attributes}>
<div id="banner" class="banner" hidden></div>
<header><a href="/" class="brand">spectrumgen</a>
<span id="title">{html.escape(title)}</span></header>
<main id="main"><p class="muted">Loading...</p></main>
<script src="/static/dashboard.js"></script>
</body>
</html>
"""


def _not_found(run_id: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>No such run</title>
<link rel="stylesheet" href="/static/dashboard.css"><link rel="icon" href="data:,"></head>
<body>
<header><a href="/" class="brand">spectrumgen</a></header>
<main><h1>404: no run {html.escape(run_id)!s}</h1>
<p>This ledger has no run with that id. <a href="/">See the runs it has.</a></p></main>
</body>
</html>
"""
