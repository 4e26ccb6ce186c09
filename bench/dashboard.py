"""The dashboard's server time per page update on a big ledger (bench section H).

    python bench/dashboard.py [--examples 100000]

A ledger of EXAMPLES accepted examples (a running run: 5 per batch, rejections, claims of
eight workers) is written straight into SQLite, then the dashboard's reads are timed as its
server answers them: the first load of the run's page, then updates while new batches land (a
page update is the run's snapshot and its examples list, both JSON-encoded), the examples list
filtered by a bucket and by a failure reason, and the list of runs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, insert

from spectrumgen.dashboard.ledger_view import LedgerView
from spectrumgen.ledger import open_ledger
from spectrumgen.ledger.tables import (
    Batch,
    Claim,
    Example,
    ParameterCoverage,
    Rejection,
    RunCell,
    RunTotals,
)
from spectrumgen.schemas.spec import AXIS_NAMES
from spectrumgen.specs import load_spec

Row = tuple[str, ...]
RUN = "bench-dashboard"
REASONS = [
    "authenticity_score 0.95 is outside authentic's range 0.6-0.8",
    "repetition: response repeats 'deadline' 4 times (12% of its words)",
    "unfinished: response stops mid-sentence (...'and then we')",
    "reasoning says support given 3.3, the fields give 9.9",
    "response is a near-duplicate of s00412 (similarity 93)",
    "off_topic: context does not read as someone asking the character for help (0 of 1 cues)",
    "missing from the reply",
]
TEXT = {
    "context": "Mateo, an old friend, wants help planning a surprise party, the day after the "
    "character's own bad news.",
    "response": "Alright. I've barely eaten since the funeral, but I'll meet you for coffee on "
    "Tuesday, Mateo. Tell me which part scares you most. That's honestly my limit.",
    "reasoning": "Capacity 4.8/10 allows at most 6.8/10 support. Mateo needs 3.8/10, so the "
    "character gives 3.8/10, a gap of 0; feeling steady enough.",
}


def example_row(
    scenario: str, batch_id: str, cell: dict[str, str], stamp: datetime, attempt: int = 1
) -> dict[str, Any]:
    """An accepted example of the run, as the examples table holds it."""
    return {
        "id": f"{RUN}-{scenario}",
        "run_id": RUN,
        "scenario_id": scenario,
        "batch_id": batch_id,
        "spec_name": "emotional_authenticity",
        **cell,
        "effective_capacity": 4.8,
        "authenticity_score": 0.7,
        "support_needed": 3.8,
        "support_provided": 3.8,
        "support_ceiling": 6.8,
        **{name: f"{text} ({scenario})" for name, text in TEXT.items()},
        "model": "qwen3:8b",
        "backend": "ollama",
        "attempt": attempt,
        "judge_fit": None,
        "judge_authenticity": None,
        "created_at": stamp,
    }


def build_ledger(url: str, examples: int, seed: int = 7) -> None:
    """A running run of `examples` accepted examples, written in bulk."""
    rng = random.Random(seed)
    spec = load_spec()
    ledger = open_ledger(url)
    ledger.start_run(RUN, spec, examples * 2, 0, "ollama", "qwen3:8b")
    buckets = {axis: spec.bucket_names(axis) for axis in AXIS_NAMES}
    start = datetime.now(UTC) - timedelta(hours=6)
    engine = create_engine(url)
    batches, rows, rejections = [], [], []
    cells: Counter[tuple[str, str, str]] = Counter()
    per_batch = 5
    for number in range(examples // per_batch):
        stamp = start + timedelta(seconds=number * 1.0)
        worker = f"w{number % 4}/{number % 2}"
        batch_id = f"b{number:06d}"
        batches.append(
            {
                "run_id": RUN,
                "batch_id": batch_id,
                "wave": number,
                "items_requested": per_batch + 2,
                "repair_items": 1,
                "accepted": per_batch,
                "rejected": 2,
                "prompt_tokens": 1800,
                "completion_tokens": 900,
                "tokens_estimated": False,
                "model": "qwen3:8b",
                "backend": "ollama",
                "error": None,
                "seconds": 20.0,
                "requests": 1,
                "worker": worker,
                "created_at": stamp,
            }
        )
        for item in range(per_batch + 2):
            cell = tuple(rng.choice(buckets[axis]) for axis in AXIS_NAMES)
            scenario = f"s{number * (per_batch + 2) + item:07d}"
            common = dict(zip(AXIS_NAMES, cell, strict=True))
            if item < per_batch:
                cells[cell] += 1  # type: ignore[index]
                rows.append(example_row(scenario, batch_id, common, stamp, 1 + (item == 0)))
            else:
                rejections.append(
                    {
                        "run_id": RUN,
                        "scenario_id": scenario,
                        "batch_id": batch_id,
                        "attempt": 1,
                        **common,
                        "reasons": json.dumps(rng.sample(REASONS, rng.randint(1, 2))),
                        "item_json": json.dumps(TEXT),
                        "model": "qwen3:8b",
                        "backend": "ollama",
                        "judge_fit": None,
                        "judge_authenticity": None,
                        "created_at": stamp,
                    }
                )
    with engine.begin() as db:
        for table, data in ((Batch, batches), (Example, rows), (Rejection, rejections)):
            for at in range(0, len(data), 5_000):
                db.execute(insert(table), data[at : at + 5_000])
        cell_rows = [
            dict(zip(AXIS_NAMES, cell, strict=True)) | {"count": count}
            for cell, count in cells.items()
        ]
        db.execute(
            insert(RunCell),
            [
                {"run_id": RUN, **{a: r[a] for a in AXIS_NAMES}, "accepted": r["count"]}
                | {"min_score": 0.2, "max_score": 1.0}
                for r in cell_rows
            ],
        )
        db.execute(
            insert(ParameterCoverage),
            [
                {"spec_name": spec.name, **{a: r[a] for a in AXIS_NAMES}}
                | {"generated_count": r["count"], "first_generated": start}
                | {"last_generated": start}
                for r in cell_rows
            ],
        )
        db.execute(
            insert(RunTotals),
            [
                {
                    "run_id": RUN,
                    "requests": len(batches),
                    "items_requested": len(rows) + len(rejections),
                    "repair_items": len(batches),
                    "prompt_tokens": 1800 * len(batches),
                    "completion_tokens": 900 * len(batches),
                    "tokens_estimated": 0,
                    "llm_seconds": 20.0 * len(batches),
                    "accepted": len(rows),
                    "rejected": len(rejections),
                    "call_budget": len(batches) * 3,
                    "token_budget": None,
                }
            ],
        )
        expires = datetime.now(UTC) + timedelta(minutes=5)
        db.execute(
            insert(Claim),
            [
                {
                    "run_id": RUN,
                    "scenario_id": f"c{n:05d}",
                    "worker": f"w{n % 4}/{n % 2}",
                    **{axis: buckets[axis][0] for axis in AXIS_NAMES},
                    "expires_at": expires,
                }
                for n in range(40)
            ],
        )
    engine.dispose()


def land_batch(url: str, number: int) -> None:
    """One more batch of the run (5 examples, 2 rejections), as a worker would record it."""
    engine = create_engine(url)
    now = datetime.now(UTC)
    batch_id = f"live{number:04d}"
    with engine.begin() as db:
        db.execute(
            insert(Batch),
            [
                {
                    "run_id": RUN,
                    "batch_id": batch_id,
                    "wave": 10**6 + number,
                    "items_requested": 7,
                    "accepted": 5,
                    "rejected": 2,
                    "prompt_tokens": 1800,
                    "completion_tokens": 900,
                    "model": "qwen3:8b",
                    "backend": "ollama",
                    "seconds": 20.0,
                    "worker": "w0/0",
                    "created_at": now,
                }
            ],
        )
        spec = load_spec()
        first = {axis: spec.bucket_names(axis)[0] for axis in AXIS_NAMES}
        db.execute(
            insert(Example),
            [example_row(f"{batch_id}-{n}", batch_id, first, now) for n in range(5)],
        )
        db.execute(
            insert(Rejection),
            [
                {
                    "run_id": RUN,
                    "scenario_id": f"{batch_id}-r{n}",
                    "batch_id": batch_id,
                    "attempt": 1,
                    **first,
                    "reasons": json.dumps(REASONS[:2]),
                    "item_json": None,
                    "model": "qwen3:8b",
                    "backend": "ollama",
                    "created_at": now,
                }
                for n in range(2)
            ],
        )
    engine.dispose()


def timed(read: Any) -> float:
    """Server time of one answer: the read and its JSON encoding, in ms."""
    started = time.perf_counter()
    json.dumps(read())
    return (time.perf_counter() - started) * 1000


def section_h(folder: Path, examples: int = 100_000, updates: int = 20) -> list[Row]:
    url = f"sqlite:///{folder / 'dashboard.db'}"
    built = time.perf_counter()
    build_ledger(url, examples)
    built = time.perf_counter() - built
    view = LedgerView(url)
    first = timed(lambda: view.run(RUN))
    update_ms = []
    for number in range(updates):
        land_batch(url, number)
        update_ms.append(
            timed(lambda: view.run(RUN)) + timed(lambda: view.examples(RUN, "accepted"))
        )
    spec = load_spec()
    bucket = {"complexity_type": spec.bucket_names("complexity_type")[-1]}
    filtered = statistics.median(
        timed(lambda: view.examples(RUN, "accepted", bucket)) for _ in range(5)
    )
    by_reason = statistics.median(
        timed(lambda: view.examples(RUN, "rejected", reason="repetition")) for _ in range(5)
    )
    runs = statistics.median(timed(view.runs) for _ in range(5))
    label = f"{examples:,}-example ledger"
    median, worst = statistics.median(update_ms), max(update_ms)
    return [
        ("H. dashboard server time", "measured", "goal", "met", "", ""),
        (
            f"page update (run snapshot + examples list) while batches land, {label}",
            f"{median:.1f} ms median, {worst:.1f} ms worst of {updates}",
            "<= 100 ms",
            "yes" if worst <= 100 else "no",
            "",
            "",
        ),
        (
            f"first load of the run's page, {label}",
            f"{first:.0f} ms (reads the run's batches, examples and rejections once)",
            "",
            "",
            "",
            "",
        ),
        (f"examples filtered by a bucket, {label}", f"{filtered:.1f} ms", "<= 100 ms",
         "yes" if filtered <= 100 else "no", "", ""),
        (f"rejected items of one reason, {label}", f"{by_reason:.1f} ms", "<= 100 ms",
         "yes" if by_reason <= 100 else "no", "", ""),
        ("list of runs", f"{runs:.1f} ms", "<= 100 ms", "yes" if runs <= 100 else "no", "", ""),
        (f"(building the {label} took {built:.0f} s)", "", "", "", "", ""),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spectrumgen-dashboard-") as folder:
        for row in section_h(Path(folder), args.examples):
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
