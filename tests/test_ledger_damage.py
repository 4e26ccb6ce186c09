"""Damage told apart from outage: each ledger problem gets its own message and exit code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.helpers import run_cli

DAMAGED, OUTAGE, BAD_INPUT = 5, 1, 2


def run(tmp_path: Path, db: str, *extra: str):
    return run_cli(
        "run", "--backend", "scripted", "--target", "2", "--out", "out", "--db", db, "--quiet",
        *extra, cwd=tmp_path,
    )  # fmt: skip


@pytest.fixture(scope="module")
def good_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("good")
    assert run(folder, "sqlite:///ledger.db").returncode == 0
    return folder


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p, good: p.write_bytes(b"\x00\x17" * 2000), "is damaged or not a database"),
        (lambda p, good: p.write_text("hello\n"), "is damaged or not a database"),
        (
            lambda p, good: p.write_bytes((good / "ledger.db").read_bytes()[:5000]),
            "is damaged or not a database (database disk image is malformed)",
        ),
    ],
    ids=["random-bytes", "text-file", "truncated"],
)
def test_a_damaged_ledger_exits_5_saying_so_and_is_left_as_it_was(
    tmp_path: Path, good_ledger: Path, make, says: str
) -> None:
    path = tmp_path / "ledger.db"
    make(path, good_ledger)
    before = path.read_bytes()
    done = run(tmp_path, "sqlite:///ledger.db")
    assert done.returncode == DAMAGED, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert says in line and "restore it from a backup or pass another --db" in line
    assert "resume" not in line  # it is not an outage: waiting will not help
    assert path.read_bytes() == before


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "app.db") as connection:
        connection.execute("CREATE TABLE invoices (id INTEGER)")
    done = run(tmp_path, "sqlite:///app.db")
    assert done.returncode == DAMAGED
    assert "is another application's database (tables invoices)" in done.stderr
    with sqlite3.connect(tmp_path / "app.db") as connection:
        tables = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
    assert tables == {"invoices"}


def test_a_damaged_checkpoint_file_exits_5_and_says_what_to_do(
    tmp_path: Path, good_ledger: Path
) -> None:
    (tmp_path / "ledger.db").write_bytes((good_ledger / "ledger.db").read_bytes())
    checkpoints = (good_ledger / "ledger.checkpoints.db").read_bytes()
    (tmp_path / "ledger.checkpoints.db").write_bytes(checkpoints[:3000])
    done = run(tmp_path, "sqlite:///ledger.db")
    assert done.returncode == DAMAGED, done.stderr
    assert "checkpoint file" in done.stderr and "move it aside and resume" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_server_that_does_not_answer_is_an_outage(tmp_path: Path) -> None:
    done = run(tmp_path, "postgresql+psycopg://u:p@127.0.0.1:1/x")
    assert done.returncode == OUTAGE, done.stderr
    assert "does not answer" in done.stderr and "try again once it is back" in done.stderr


def test_an_in_memory_ledger_runs_in_one_process(tmp_path: Path) -> None:
    done = run(tmp_path, "sqlite://")
    assert done.returncode == 0, done.stderr
    assert len((tmp_path / "out" / "examples.jsonl").read_text().splitlines()) == 2


def test_resume_or_join_of_a_ledger_that_is_not_there_creates_nothing(tmp_path: Path) -> None:
    for flag in ("--resume", "--join"):
        done = run_cli("run", "--backend", "scripted", flag, "nope", "--quiet", cwd=tmp_path)
        assert done.returncode == BAD_INPUT, done.stderr
        assert f"{flag} nope: there is no ledger at sqlite:///spectrumgen.db" in done.stderr
        assert list(tmp_path.iterdir()) == []


def test_a_read_only_ledger_exits_5_before_any_work(tmp_path: Path, good_ledger: Path) -> None:
    (tmp_path / "ledger.db").write_bytes((good_ledger / "ledger.db").read_bytes())
    done = run(tmp_path, "sqlite:///file:ledger.db?mode=ro&uri=true")
    assert done.returncode == DAMAGED, done.stderr
    [line] = done.stderr.strip().splitlines()
    assert "is read-only (attempt to write a readonly database)" in line, line
    assert not (tmp_path / "out").exists()
