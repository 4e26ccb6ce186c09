"""Durable runs: a CLI run killed with SIGKILL at random moments resumes to exactly its target.

The kill moments are random points in the run's progress (read from its ledger), so they fall
between batches, during a wave's LLM calls, and while a batch is being recorded.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.helpers import accepted_count, run_cli, start_cli, wait_for_accepted

TARGET = 300
KILLS = 3


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_kind(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite"
    return str(request.getfixturevalue("postgres_url"))


def _kill_when(process: subprocess.Popen[str], db_url: str, run_id: str, at: int) -> None:
    """SIGKILL the process once the run holds `at` examples (or when it is about to end)."""
    wait_for_accepted(db_url, run_id, at, process)
    process.kill()
    process.wait(timeout=30)


def test_sigkill_at_random_moments_then_resume_ends_with_exactly_the_target(
    tmp_path: Path, ledger_kind: str
) -> None:
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}" if ledger_kind == "sqlite" else ledger_kind
    rng = random.Random(20261125)
    common = ["--db", db_url, "--out", "OUT", "--quiet"]
    first = start_cli(
        "run",
        "--backend",
        "scripted",
        "--target",
        str(TARGET),
        "--fault-rate",
        "0.2",
        "--concurrency",
        "2",
        *common,
        cwd=tmp_path,
    )
    assert first.stderr is not None
    header = first.stderr.readline()  # "run RUN_ID: ..." comes before any work
    run_id = header.split()[1].rstrip(":")
    moments = sorted(rng.randrange(0, TARGET - 20) for _ in range(KILLS))
    _kill_when(first, db_url, run_id, moments[0])
    for moment in moments[1:]:
        again = start_cli("run", "--resume", run_id, *common, cwd=tmp_path)
        _kill_when(again, db_url, run_id, moment)
    done = run_cli("run", "--resume", run_id, *common, cwd=tmp_path)
    assert done.returncode == 0, done.stderr

    rows = [json.loads(line) for line in (tmp_path / "OUT" / "examples.jsonl").open()]
    ids = [row["id"] for row in rows]
    assert len(ids) == TARGET and len(set(ids)) == TARGET  # nothing lost, nothing twice
    assert accepted_count(db_url, run_id) == TARGET  # the ledger agrees with the dataset
    engine = create_engine(db_url)
    with engine.connect() as connection:
        coverage = connection.execute(
            text("select coalesce(sum(generated_count), 0) from parameter_coverage")
        ).scalar_one()
        batches = connection.execute(
            text("select count(*), count(distinct batch_id) from batches where run_id = :r"),
            {"r": run_id},
        ).one()
    engine.dispose()
    if ledger_kind == "sqlite":  # one run per ledger: coverage counts exactly its examples
        assert coverage == TARGET
    assert batches[0] == batches[1]
    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text())
    assert manifest["counts"]["accepted"] == TARGET and manifest["status"] == "complete"
    rejected = [json.loads(line) for line in (tmp_path / "OUT" / "rejected.jsonl").open()]
    attempts = [(r["scenario_id"], r["attempt"]) for r in rejected]
    assert len(attempts) == len(set(attempts)) == manifest["counts"]["rejected_attempts"]
