"""`spectrumgen coverage`, `quality`, `compare`, `export` and `migrate`: reports and tools."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from spectrumgen.analysis import coverage_report
from spectrumgen.cli.common import app, err, open_ledger, out
from spectrumgen.errors import BadInputError
from spectrumgen.graph.context import DEFAULT_DB_URL, DEFAULT_MODEL, RunContext
from spectrumgen.ledger import ledger_exists
from spectrumgen.llm import BACKENDS, choose_backend
from spectrumgen.redact import redact
from spectrumgen.specs import DEFAULT_SPEC, load_spec

SpecOption = Annotated[str, typer.Option(help="Built-in spec name or YAML/JSON spec file.")]
DbOption = Annotated[str, typer.Option(help="SQLAlchemy URL of the coverage ledger.")]


@app.command()
def coverage(
    spec: SpecOption = DEFAULT_SPEC,
    db: DbOption = DEFAULT_DB_URL,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Draw heatmaps of the coverage to this PNG file.")
    ] = None,
    per_cell: Annotated[
        int, typer.Option(min=1, help="Examples each cell should have; fewer is a gap.")
    ] = 1,
) -> None:
    """The coverage report of the ledger (the seed's get_coverage_report), across all runs."""
    loaded = load_spec(spec)
    ledger = open_ledger(db)
    report = coverage_report(ledger, loaded, per_cell)
    if plot is not None:
        from spectrumgen.plots import plot_coverage

        plot_coverage(loaded, ledger.coverage_counts(loaded.name), plot)
        err.print(f"coverage plot written to {plot}", markup=False, highlight=False)
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table(title=f"coverage of {loaded.name} in {db}", show_header=False)
    table.add_row(
        "combinations tracked",
        f"{report['total_combinations_tracked']} of {report['total_combinations']}",
    )
    table.add_row("examples generated", str(report["total_examples_generated"]))
    table.add_row("average per combination", str(report["avg_per_combination"]))
    for key in ("capacity_coverage", "authenticity_coverage", "complexity_coverage"):
        table.add_row(key.replace("_", " "), ", ".join(f"{k} {v}" for k, v in report[key].items()))
    gaps = report["gaps_to_fill"]
    shown = "; ".join(
        f"{g['capacity']}/{g['authenticity']}/{g['complexity']} ({g['count']})" for g in gaps[:5]
    )
    table.add_row("gaps to fill", f"{len(gaps)}" + (f": {shown}" if gaps else ""))
    out.print(table)


@app.command()
def quality(
    run: Annotated[
        list[str] | None, typer.Option(help="A run in the ledger, repeatable (default: all).")
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option(help="An examples.jsonl file instead of the ledger.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the analysis as JSON.")] = False,
    spec: SpecOption = DEFAULT_SPEC,
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """The seed's quality analysis of a run, of every run, or of a dataset file."""
    from spectrumgen.analysis import quality_analysis
    from spectrumgen.export import collect_examples

    loaded = load_spec(spec)
    if dataset is not None:
        try:
            records = [json.loads(line) for line in dataset.read_text().splitlines() if line]
        except (OSError, ValueError) as error:
            raise BadInputError(f"{dataset}: not a JSON-lines dataset ({error})") from None
    else:
        records = collect_examples(open_ledger(db), loaded, run)
    analysis = quality_analysis(loaded, records)
    if as_json:
        out.print_json(json.dumps(analysis))
        return
    spectrum = analysis["spectrum_coverage"]
    validation = analysis["systematic_validation"]
    table = Table(title=f"quality of {len(records)} examples of {loaded.name}", show_header=False)
    table.add_row(
        "authenticity categories",
        f"{spectrum['categories_covered']}/{spectrum['categories_total']}, scores "
        f"{spectrum['min_score']}-{spectrum['max_score']} (spread {spectrum['spread']})",
    )
    complexity = analysis["complexity_coverage"]
    table.add_row("complexity types", f"{complexity['types_covered']}/{complexity['types_total']}")
    table.add_row("capacity balanced", str(analysis["capacity_balance"]["balanced"]))
    table.add_row("pattern diversity", str(analysis["pattern_diversity"]))
    table.add_row("rule violations", str(analysis["rule_violations"] or "none"))
    table.add_row("meets spectrum requirements", str(validation["meets_spectrum_requirements"]))
    table.add_row("cells covered", f"{validation['cells_covered']}/{validation['cells_total']}")
    out.print(table)


@app.command()
def compare(
    samples: Annotated[int, typer.Option(min=1, help="Examples per approach.")] = 50,
    skip_old: Annotated[bool, typer.Option(help="Run only the new approach.")] = False,
    two_stage: Annotated[
        bool, typer.Option(help="Also run spectrumgen's two-stage mode (--stages 2).")
    ] = False,
    output: Annotated[Path | None, typer.Option(help="Write the full report as JSON.")] = None,
    spec: SpecOption = DEFAULT_SPEC,
    backend: Annotated[str, typer.Option(help=f"One of: {', '.join(BACKENDS)}.")] = "auto",
    model: Annotated[str, typer.Option(help="Model name.")] = DEFAULT_MODEL,
    base_url: Annotated[str | None, typer.Option(help="LLM server URL.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=50, help="New approach's batch.")] = 5,
    seed: Annotated[int, typer.Option(help="Seed for both approaches.")] = 0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Scripted backend: share of items broken.")
    ] = 0.0,
) -> None:
    """The seed's comparison: the old approach (1 call per example, random, no repair) and
    spectrumgen, on the same backend and model, side by side."""
    from spectrumgen.compare import compare_approaches, summary_lines

    context = RunContext(
        spec=spec,
        backend=backend,
        model=model,
        base_url=base_url,
        batch_size=batch_size,
        seed=seed,
        fault_rate=fault_rate,
    )
    choice = choose_backend(context)
    if choice.notice:
        err.print(f"note: {choice.notice}", markup=False, highlight=False, soft_wrap=True)
    context.backend = choice.name
    report = compare_approaches(context, samples, skip_old, two_stage)
    for line in summary_lines(report):
        out.print(line, markup=False, highlight=False)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2))
        err.print(f"report written to {output}", markup=False, highlight=False)


@app.command()
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the export to.")],
    fmt: Annotated[str, typer.Option("--format", help="jsonl, parquet or hf.")] = "jsonl",
    run: Annotated[
        list[str] | None, typer.Option(help="Run to export, repeatable (default: all runs).")
    ] = None,
    chat: Annotated[
        bool, typer.Option(help="Write system/user/assistant messages for fine-tuning.")
    ] = False,
    reasoning: Annotated[
        str,
        typer.Option(
            help="With --chat: none, think (<think>reasoning</think> before the response, as "
            "Qwen3 and DeepSeek-R1 are trained) or field (the assistant's reasoning_content)."
        ),
    ] = "none",
    spec: SpecOption = DEFAULT_SPEC,
    db: DbOption = DEFAULT_DB_URL,
    overwrite: Annotated[
        bool, typer.Option(help="Replace a data file or README.md spectrumgen did not write.")
    ] = False,
) -> None:
    """Export accepted examples from the ledger with a dataset card (README.md)."""
    from spectrumgen.export import collect_examples, export_dataset

    loaded = load_spec(spec)
    records = collect_examples(open_ledger(db), loaded, run)
    written = export_dataset(
        loaded, records, fmt, out_dir, chat=chat, reasoning=reasoning, overwrite=overwrite
    )
    out.print(
        f"exported {written['rows']} examples to {written['data']} (card: {written['card']})",
        markup=False,
        highlight=False,
    )


@app.command()
def migrate(db: DbOption = DEFAULT_DB_URL) -> None:
    """Upgrade a ledger made by an earlier spectrumgen to this one's schema (a SQLite ledger is
    upgraded when opened anyway, after a backup copy; a PostgreSQL one only by this command)."""
    from spectrumgen.ledger.store import make_engine
    from spectrumgen.ledger.versions import current, head, upgrade

    if not ledger_exists(db):
        raise BadInputError(f"there is no ledger at {db}")
    engine = make_engine(db)
    with engine.connect() as connection:
        before = current(connection)
    if before == head():
        out.print(
            f"ledger {redact(db)} is at schema {before} already", markup=False, soft_wrap=True
        )
        return
    upgrade(engine)
    out.print(
        f"upgraded ledger {redact(db)} from schema {before or 'unversioned'} to {head()}",
        markup=False,
        soft_wrap=True,
    )
