"""`spectrumgen run` and `spectrumgen worker`: generate until the target and quotas are met."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from spectrumgen.budget import HOPELESS
from spectrumgen.cli.common import (
    EXIT_BUDGET,
    EXIT_INTERRUPTED,
    app,
    err,
    open_ledger,
    out,
)
from spectrumgen.dashboard.server import DEFAULT_HOST, DEFAULT_PORT, make_dashboard
from spectrumgen.dataset import RUN_FILES, check_folder, claim_folder, write_run_files
from spectrumgen.errors import BadInputError, SpectrumgenError
from spectrumgen.graph.builder import build_graph, ledger_connection_lost
from spectrumgen.graph.checkpointer import open_checkpointer
from spectrumgen.graph.context import (
    DEFAULT_DB_URL,
    DEFAULT_MODEL,
    LIMITS,
    MAX_TARGET,
    RUN_ID_FIELD,
    RunContext,
)
from spectrumgen.graph.lanes import stop_runs
from spectrumgen.ledger import ledger_exists
from spectrumgen.llm import BACKENDS, backend_for, choose_backend
from spectrumgen.llm.routing import resolve_routes
from spectrumgen.nodes.finish import BUDGET_SPENT, COMPLETE, build_manifest
from spectrumgen.nodes.start import new_run_id
from spectrumgen.quotas import evaluate
from spectrumgen.specs import DEFAULT_SPEC, load_spec

DEFAULT_TARGET = 100
DEFAULT_BATCH_SIZE = 5


@app.command()
def run(
    spec: Annotated[str, typer.Option(help="Built-in spec name or YAML/JSON spec file.")] = (
        DEFAULT_SPEC
    ),
    target: Annotated[
        int | None,
        typer.Option(min=1, max=MAX_TARGET, help=f"Examples wanted (default {DEFAULT_TARGET})."),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=50,
            help=f"Scenarios per LLM call (default {DEFAULT_BATCH_SIZE}; 1 with the embedded "
            "model, a base model that copies the item before it in a batch).",
        ),
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help=f"One of: {', '.join(BACKENDS)} (default auto).")
    ] = None,
    model: Annotated[
        str | None, typer.Option(help=f"Model name (default {DEFAULT_MODEL}).")
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="LLM server URL.")] = None,
    route: Annotated[
        list[str] | None,
        typer.Option(
            help="Model routing, repeatable: 'spec' for the spec's table, or TYPE=MODEL "
            "(a complexity type, 'default' or 'judge'), e.g. --route judge=qwen3:32b."
        ),
    ] = None,
    judge: Annotated[
        str | None,
        typer.Option(
            help="Judge accepted examples: 'self' (the model that wrote the batch, one more "
            "call per batch) or a model name; same as --route judge=..."
        ),
    ] = None,
    exemplars: Annotated[
        int, typer.Option(min=0, max=8, help="Spec exemplars shown per call for form (0: none).")
    ] = 2,
    db: Annotated[str, typer.Option(help="SQLAlchemy URL of the coverage ledger.")] = (
        DEFAULT_DB_URL
    ),
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder for the dataset files; '{run_id}' in it becomes the run's id."
        ),
    ] = Path("spectrumgen-out"),
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Batches in parallel.")] = 4,
    stages: Annotated[
        int,
        typer.Option(
            min=1, max=2, help="2: situations in one batched call, responses in a second."
        ),
    ] = 1,
    max_repairs: Annotated[int, typer.Option(min=0, max=10, help="Repairs per scenario.")] = 2,
    max_calls: Annotated[
        int | None, typer.Option(min=1, max=LIMITS["max_calls"][1], help="LLM call budget.")
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            min=1, max=LIMITS["max_tokens"][1], help="Token budget (prompt + completion)."
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            min=1.0, max=LIMITS["request_timeout"][1], help="Seconds one LLM call may take."
        ),
    ] = 300.0,
    seed: Annotated[
        int | None,
        typer.Option(min=0, max=LIMITS["seed"][1], help="Seed for planning and composing."),
    ] = None,
    resume: Annotated[str | None, typer.Option(help="Continue the run with this id.")] = None,
    join: Annotated[
        str | None,
        typer.Option(help="Join this run as one more worker (a shared PostgreSQL ledger)."),
    ] = None,
    worker_name: Annotated[
        str | None,
        typer.Option(help="With --join: this worker's name (to resume it); default host-pid."),
    ] = None,
    lease_seconds: Annotated[
        int,
        typer.Option(
            min=1,
            max=LIMITS["lease_seconds"][1],
            help="How long a claim on a cell outlives its worker.",
        ),
    ] = 600,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Scripted backend: share of items broken.")
    ] = 0.0,
    call_error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Scripted backend: share of calls failed.")
    ] = 0.0,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the files another run left in --out.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    dashboard: Annotated[
        bool, typer.Option(help="Serve the live dashboard beside the run and print its URL.")
    ] = False,
    dashboard_port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of --dashboard (on 127.0.0.1).")
    ] = DEFAULT_PORT,
) -> None:
    """Generate until the target and every quota are met, or the call budget is spent."""
    loaded_spec = load_spec(spec)
    entries = [*(route or []), *([f"judge={judge}"] if judge else [])]
    routing = ",".join(entries) if entries else None
    if join and resume:
        raise BadInputError("--join and --resume exclude each other")
    flag = "--join" if join else "--resume"
    settings = _run_settings(db, resume or join, target, backend, model, seed, routing, flag)
    context = RunContext(
        spec=spec,
        backend=settings["backend"],
        model=settings["model"],
        routing=settings["routing"],
        base_url=base_url,
        db_url=db,
        out_dir=str(out_dir),
        batch_size=batch_size or DEFAULT_BATCH_SIZE,
        exemplars=exemplars,
        concurrency=concurrency,
        stages=stages,
        max_repairs=max_repairs,
        max_calls=max_calls,
        max_tokens=max_tokens,
        seed=settings["seed"],
        fault_rate=fault_rate,
        call_error_rate=call_error_rate,
        request_timeout=timeout,
        worker=(worker_name or f"{socket.gethostname()}-{os.getpid()}") if join else "",
        lease_seconds=lease_seconds,
    )
    context.check_limits()
    routes = resolve_routes(loaded_spec, context.routing, context.model)
    choice = choose_backend(context)  # fails fast (exit 4) before anything is written
    if choice.notice:
        err.print(f"note: {choice.notice}", markup=False, highlight=False, soft_wrap=True)
    context.backend = choice.name
    if batch_size is None and choice.name == "embedded":
        context.batch_size = 1
    run_id = resume or join or new_run_id()
    out_dir = Path(str(out_dir).replace(RUN_ID_FIELD, run_id))
    context.out_dir = str(out_dir)
    if not join:  # before anything is written: never mix two runs' files in one folder
        check_folder(out_dir, run_id, RUN_FILES, overwrite)
    context.overwrite = overwrite
    watched = None
    if dashboard:  # listening before anything is written: a taken port fails here
        watched = make_dashboard(db, DEFAULT_HOST, dashboard_port, run_id)
        dashboard_url = watched.start_beside()
    ledger = open_ledger(db)
    ledger.start_run(
        run_id,
        loaded_spec,
        settings["target"],
        context.seed,
        choice.name,
        context.model,
        context.routing,
    )
    if not join:
        claim_folder(out_dir, run_id, RUN_FILES, overwrite)
    if resume:
        write_run_files(ledger, run_id, out_dir)  # files agree with the ledger before appending
    again = f"--join {run_id} --worker-name {context.worker}" if join else f"--resume {run_id}"
    models = (
        ", ".join(routes.models())
        if choice.name in ("ollama", "openai")
        else backend_for(context).model_name  # one in-process model, whatever the routing
    )
    err.print(
        f"run {run_id}: {settings['target']} examples of {loaded_spec.name} with "
        f"{choice.name} ({models})"
        + (f" as worker {context.worker}" if join else "")
        + f"; resume with {again}",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    if watched is not None:
        err.print(f"dashboard: {dashboard_url}/runs/{run_id}", markup=False, highlight=False)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    started = time.time()
    try:
        thread = f"{run_id}/{context.worker}" if join else run_id
        final = _stream_run(run_id, thread, settings["target"], context, quiet)
    except (KeyboardInterrupt, SpectrumgenError) as error:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "stopped"
        ledger.set_status(run_id, status)
        report = evaluate(loaded_spec, settings["target"], ledger.accepted_rows(run_id))
        manifest = build_manifest(
            ledger,
            loaded_spec,
            context,
            run_id,
            report,
            status,
            context.call_budget(
                settings["target"], context.calls_per_batch(judged=routes.judge is not None)
            ),
            seconds=time.time() - started,
        )
        write_run_files(ledger, run_id, out_dir, manifest)
        if isinstance(error, KeyboardInterrupt):
            err.print(f"interrupted; what was accepted is kept. Resume with {again}")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        raise
    _print_summary(final, out_dir)
    if watched is not None:  # let a page watching the run show how it ended
        watched.wait_until_shown(run_id)
    if final.get("status") != COMPLETE:
        err.print(_why_unfinished(final), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BUDGET)


def _stop(signum: int, frame: object) -> None:
    """Ctrl-C, or a polite kill: the lanes end with the batches in hand, then the files are
    rewritten from the ledger and the resume hint printed."""
    stop_runs()
    raise KeyboardInterrupt


def _run_settings(
    db: str,
    resume: str | None,
    target: int | None,
    backend: str | None,
    model: str | None,
    seed: int | None,
    routing: str | None,
    flag: str = "--resume",
) -> dict[str, Any]:
    """The run's target, backend, models and seed: from the flags, or fixed by the resumed run
    (`flag` names the option that gave its id, for the error line)."""
    if resume is None:
        return {
            "target": target or DEFAULT_TARGET,
            "backend": backend or "auto",
            "model": model or DEFAULT_MODEL,
            "seed": 0 if seed is None else seed,
            "routing": routing or "",
        }
    if not ledger_exists(db):  # opening it would create an empty one
        raise BadInputError(f"{flag} {resume}: there is no ledger at {db}")
    stored = open_ledger(db).get_run(resume)
    if stored is None:
        raise BadInputError(f"{flag} {resume}: no such run in the ledger {db}")
    given = {
        "target": target,
        "backend": backend,
        "model": model,
        "seed": seed,
        "route": routing,
    }
    kept = {
        "target": stored.target,
        "backend": stored.backend,
        "model": stored.model,
        "seed": stored.seed,
        "route": stored.routing,
    }
    for name, value in given.items():
        if (
            value is not None
            and value != kept[name]
            and not (name == "backend" and value == "auto")
        ):
            raise BadInputError(
                f"--{name} {value} differs from run {resume}'s {kept[name] or '(none)'}; a "
                f"resumed run keeps its {name}"
            )
    return {**kept, "routing": kept.pop("route")}


def _stream_run(
    run_id: str, thread: str, target: int, context: RunContext, quiet: bool
) -> dict[str, Any]:
    """Run the graph with a checkpointer, feeding the progress bar from its custom events.

    A thread whose last checkpoint has steps left (a run or worker that was stopped) continues
    from there; otherwise the graph starts on the thread and plans from the ledger.
    """
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    )
    final: dict[str, Any] = {}
    with (
        open_checkpointer(context.db_url) as checkpointer,
        Progress(*columns, console=err, disable=quiet, transient=False) as progress,
    ):
        graph = build_graph().compile(checkpointer=checkpointer)
        config = context.graph_config(thread)
        task = progress.add_task("accepted", total=target, detail="")
        for attempt in range(1, STORE_RETRIES + 1):
            try:
                unfinished = bool(graph.get_state(config).next)
                payload = None if unfinished else {"target": target, "run_id": run_id}
                for mode, chunk in graph.stream(
                    payload, config, context=context, stream_mode=["custom", "values"]
                ):
                    if mode == "values" and isinstance(chunk, dict):
                        final = chunk
                    elif isinstance(chunk, dict) and chunk.get("event") == "recorded":
                        _show_progress(progress, task, chunk)
                break
            except Exception as error:  # a dropped database connection: go on from the checkpoint
                if attempt == STORE_RETRIES or not _connection_lost(error):
                    raise
                err.print(
                    f"lost the database connection ({type(error).__name__}); continuing from the "
                    "last checkpoint",
                    markup=False,
                    highlight=False,
                )
                time.sleep(min(8.0, 0.5 * 2**attempt))
    return final


STORE_RETRIES = 5


def _connection_lost(error: Exception) -> bool:
    """A dropped ledger or checkpoint connection (psycopg's or SQLAlchemy's)."""
    if ledger_connection_lost(error):
        return True
    try:
        import psycopg
    except ImportError:
        return False
    return isinstance(error, psycopg.OperationalError)


def _show_progress(progress: Progress, task: Any, chunk: dict[str, Any]) -> None:
    calls = f"{chunk['llm_calls']}/{chunk['call_budget']} calls"
    tokens = f"{chunk['tokens']:,} tokens" + ("~" if chunk["tokens_estimated"] else "")
    progress.update(task, completed=chunk["accepted"], detail=f"{calls}, {tokens}")


def _print_summary(final: dict[str, Any], out_dir: Path) -> None:
    manifest = final.get("manifest", {})
    counts = manifest.get("counts", {})
    tokens = manifest.get("tokens", {})
    table = Table(title=f"run {manifest.get('run_id')}: {final.get('status')}", show_header=False)
    table.add_row("accepted", f"{counts.get('accepted')} / {manifest.get('target')}")
    stopped_early = " (stopped early)" if manifest.get("call_budget_rule") == HOPELESS else ""
    table.add_row(
        "LLM calls", f"{manifest.get('llm_calls')} of {manifest.get('call_budget')}{stopped_early}"
    )
    table.add_row("items asked for", str(counts.get("items_requested")))
    table.add_row(
        "repairs / rejected attempts",
        f"{counts.get('repairs')} / {counts.get('rejected_attempts')}",
    )
    estimated = " (estimated)" if tokens.get("estimated") else ""
    per_example = (tokens.get("per_accepted_example") or {}).get("total")
    table.add_row(
        "tokens",
        f"{tokens.get('total')}{estimated}"
        + (f", {per_example} per accepted example" if per_example is not None else ""),
    )
    attempts = manifest.get("acceptance_by_attempt") or []
    table.add_row(
        "accepted per attempt",
        ", ".join(f"#{a['attempt']} {a['rate']:.0%} of {a['tried']}" for a in attempts) or "-",
    )
    table.add_row("top rejection reasons", _top_reasons(manifest) or "none")
    judge = manifest.get("judge")
    if judge:
        calibration = judge["calibration"]
        table.add_row(
            "judge",
            f"{judge['kept']} kept, {judge['rejected']} rejected; authenticity off by "
            f"{calibration['mean_abs_diff']} on average, correlation {calibration['correlation']}",
        )
    for note in manifest.get("notes", []):
        table.add_row("note", note)
    shortfalls = manifest.get("quota", {}).get("shortfalls") or []
    more = f" (+{len(shortfalls) - 3} more in manifest.json)" if len(shortfalls) > 3 else ""
    table.add_row("quotas", "met" if not shortfalls else "; ".join(shortfalls[:3]) + more)
    table.add_row("files", str(out_dir))
    out.print(table)


def _top_reasons(manifest: dict[str, Any]) -> str:
    top = (manifest.get("rejections") or {}).get("top") or []
    return ", ".join(f"{t['reason']} ({t['count']})" for t in top)


def _why_unfinished(final: dict[str, Any]) -> str:
    """One line for exit 3: what stopped the run and why items failed most."""
    manifest = final.get("manifest", {})
    counts = manifest.get("counts", {})
    if manifest.get("call_budget_rule") == HOPELESS:
        what = (
            f"the model passed {manifest.get('acceptance_rate', 0):.0%} of "
            f"{counts.get('items_requested')} items, too few to reach the target; stopped early"
        )
    elif final.get("status") == BUDGET_SPENT:
        what = "the call or token budget was spent"
    else:
        what = "the quotas can no longer be met"
    reasons = _top_reasons(manifest)
    return (
        f"not complete: {what} ({counts.get('accepted')} of {manifest.get('target')} accepted)"
        + (f"; top rejection reasons: {reasons}" if reasons else "")
        + "; see rejected.jsonl"
    )


@app.command()
def worker(
    run_id: Annotated[str, typer.Option("--run", help="The run to work on.")],
    name: Annotated[
        str | None, typer.Option(help="This worker's name (to resume it); default host-pid.")
    ] = None,
    db: Annotated[str, typer.Option(help="SQLAlchemy URL of the shared ledger.")] = (
        DEFAULT_DB_URL
    ),
    base_url: Annotated[str | None, typer.Option(help="This worker's LLM server URL.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the dataset files.")] = Path(
        "spectrumgen-out"
    ),
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Batches in parallel.")] = 4,
    batch_size: Annotated[int, typer.Option(min=1, max=50, help="Scenarios per LLM call.")] = 5,
    max_calls: Annotated[int | None, typer.Option(min=1, help="This worker's call budget.")] = None,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Scripted backend: share of items broken.")
    ] = 0.0,
    lease_seconds: Annotated[
        int,
        typer.Option(
            min=1,
            max=LIMITS["lease_seconds"][1],
            help="How long a claim on a cell outlives its worker.",
        ),
    ] = 600,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """One more worker on an existing run (same as `run --join RUN_ID`): it claims cells in the
    shared ledger, so workers on several machines reach exactly the run's target together."""
    run(
        db=db,
        join=run_id,
        worker_name=name,
        base_url=base_url,
        out_dir=out_dir,
        concurrency=concurrency,
        batch_size=batch_size,
        max_calls=max_calls,
        fault_rate=fault_rate,
        lease_seconds=lease_seconds,
        quiet=quiet,
    )
