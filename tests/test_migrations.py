"""Upgrades keep the ledger: a ledger of the first release (commit 9d0b3a9) upgrades in place."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from spectrumgen.errors import BadInputError
from spectrumgen.ledger import Ledger
from spectrumgen.ledger.versions import head
from tests.helpers import run_cli

FIRST_RELEASE = Path(__file__).parent / "data" / "ledger_9d0b3a9.db"
CELL = ("capacity_level", "authenticity_target", "complexity_type")


def rows(path: Path, query: str) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return sorted(connection.execute(query).fetchall())


EXAMPLES = "SELECT id, run_id, context, response, reasoning, authenticity_score FROM examples"
REJECTIONS = "SELECT run_id, scenario_id, attempt, reasons FROM rejections"
RUN_CELLS = (
    "SELECT run_id, capacity_level, authenticity_target, complexity_type, accepted, min_score, "
    "max_score FROM run_cells"
)
GROUPED = (
    "SELECT run_id, capacity_level, authenticity_target, complexity_type, count(*), "
    "min(authenticity_score), max(authenticity_score) FROM examples "
    "GROUP BY run_id, capacity_level, authenticity_target, complexity_type"
)
RUN_TOTALS = (
    "SELECT run_id, requests, items_requested, repair_items, prompt_tokens, completion_tokens, "
    "tokens_estimated, llm_seconds, accepted, rejected FROM run_totals"
)
SUMMED = (
    "SELECT r.run_id, "
    "(SELECT coalesce(sum(requests), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT coalesce(sum(items_requested), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT coalesce(sum(repair_items), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT coalesce(sum(prompt_tokens), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT coalesce(sum(completion_tokens), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT coalesce(max(tokens_estimated), 0) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT round(coalesce(sum(seconds), 0), 6) FROM batches b WHERE b.run_id = r.run_id), "
    "(SELECT count(*) FROM examples e WHERE e.run_id = r.run_id), "
    "(SELECT count(*) FROM rejections j WHERE j.run_id = r.run_id) FROM runs r"
)


def totals(path: Path) -> list[tuple]:
    """run_totals, seconds rounded as SUMMED rounds them."""
    return [(*row[:7], round(row[7], 6), *row[8:]) for row in rows(path, RUN_TOTALS)]


COVERAGE = (
    "SELECT spec_name, capacity_level, authenticity_target, complexity_type, generated_count "
    "FROM parameter_coverage"
)


def test_a_first_release_ledger_upgrades_with_everything_intact(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    shutil.copy(FIRST_RELEASE, ledger)
    before = {q: rows(ledger, q) for q in (EXAMPLES, REJECTIONS, COVERAGE)}
    assert len(before[EXAMPLES]) == 24 and before[REJECTIONS] and before[COVERAGE]

    done = run_cli("coverage", "--db", "sqlite:///ledger.db", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"upgraded ledger 'sqlite:///ledger.db' from schema unversioned to {head()}" in (
        done.stderr
    )
    backup = tmp_path / "ledger.db.unversioned.bak"
    assert {q: rows(backup, q) for q in before} == before  # the old ledger, as it was
    assert "alembic_version" not in {t for (t,) in rows(backup, "SELECT name FROM sqlite_master")}
    assert {q: rows(ledger, q) for q in before} == before
    assert rows(ledger, "SELECT version_num FROM alembic_version") == [(head(),)]
    assert rows(ledger, RUN_CELLS) == rows(ledger, GROUPED)  # per-run counts filled in
    assert totals(ledger) == rows(ledger, SUMMED)  # and each run's totals
    assert any(row[1] > 0 for row in totals(ledger))
    assert json.loads(done.stdout)["total_examples_generated"] == 24

    again = run_cli("coverage", "--db", "sqlite:///ledger.db", cwd=tmp_path)
    assert again.returncode == 0 and "upgraded" not in again.stderr  # once only


def test_a_new_run_on_an_upgraded_ledger_plans_around_what_it_holds(tmp_path: Path) -> None:
    shutil.copy(FIRST_RELEASE, tmp_path / "ledger.db")
    old_cells = {row[1:4] for row in rows(tmp_path / "ledger.db", COVERAGE)}
    done = run_cli(
        "run", "--backend", "scripted", "--target", "24", "--db", "sqlite:///ledger.db",
        "--out", "out", "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    new = [
        json.loads(line) for line in (tmp_path / "out" / "examples.jsonl").read_text().splitlines()
    ]
    new_cells = {tuple(example[k] for k in CELL) for example in new}
    assert len(new) == 24
    assert len(new_cells & old_cells) <= 2, "the planner fills empty cells first"
    total = rows(tmp_path / "ledger.db", "SELECT sum(generated_count) FROM parameter_coverage")
    assert total == [(48,)]
    # and kept as the new run recorded its batches, side by side in its lanes
    assert rows(tmp_path / "ledger.db", RUN_CELLS) == rows(tmp_path / "ledger.db", GROUPED)
    assert totals(tmp_path / "ledger.db") == rows(tmp_path / "ledger.db", SUMMED)


def test_a_ledger_newer_than_this_spectrumgen_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url)
    with sqlite3.connect(tmp_path / "ledger.db") as connection:
        connection.execute("UPDATE alembic_version SET version_num = 'r9999'")
    with pytest.raises(BadInputError, match="newer than this spectrumgen knows"):
        Ledger(url)


@pytest.mark.postgres
def test_an_older_postgres_ledger_waits_for_spectrumgen_migrate(
    postgres_url: str, tmp_path: Path
) -> None:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS spectrumgen_migrations"))
        connection.execute(text("CREATE DATABASE spectrumgen_migrations"))
    admin.dispose()
    url = make_url(postgres_url).set(database="spectrumgen_migrations")
    db = url.render_as_string(hide_password=False)
    Ledger(db)
    engine = create_engine(db)
    with engine.begin() as connection:  # as a ledger of the release before this one
        connection.execute(text("ALTER TABLE batches DROP COLUMN requests"))
        connection.execute(text("UPDATE alembic_version SET version_num = 'r0002'"))
    with pytest.raises(BadInputError, match="run `spectrumgen migrate --db URL` once"):
        Ledger(db)
    done = run_cli("migrate", "--db", db, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"from schema r0002 to {head()}" in done.stdout
    Ledger(db)  # opens now
    with engine.connect() as connection:
        columns = connection.execute(
            text("SELECT column_name FROM information_schema.columns WHERE table_name='batches'")
        )
        assert "requests" in {c for (c,) in columns}
    engine.dispose()
