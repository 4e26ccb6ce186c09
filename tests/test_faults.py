"""Faults survived: the LLM server going away and coming back, PostgreSQL restarted mid-run.

After each: exit codes as documented, exactly the target, every example once, the files equal
to the ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spectrumgen.ledger import open_ledger
from tests.helpers import run_cli, start_cli, wait_for_accepted
from tests.llm_servers import Behaviour, OllamaHandler, serve
from tests.postgres import restart_postgres


def assert_exact(db_url: str, out: Path, target: int) -> None:
    rows = [json.loads(line) for line in (out / "examples.jsonl").open()]
    ids = [r["id"] for r in rows]
    assert len(ids) == target == len(set(ids))
    [run_id] = {r["run_id"] for r in rows}
    ledger_ids = sorted(e["id"] for e in open_ledger(db_url).examples(run_id))
    assert ledger_ids == sorted(ids)


def test_the_llm_server_going_away_stops_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    behaviour = Behaviour(down_after=4)
    with serve(OllamaHandler, behaviour) as (url, _):
        args = ["--backend", "ollama", "--base-url", url, "--db", db, "--out", "out", "--quiet"]
        stopped = run_cli("run", "--target", "30", "--concurrency", "1", *args, cwd=tmp_path)
        assert stopped.returncode == 4, stopped.stderr
        last = stopped.stderr.strip().splitlines()[-1]
        assert url in last and "--resume" in last
        manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
        assert manifest["status"] == "stopped" and 0 < manifest["counts"]["accepted"] < 30
        behaviour.down_after, behaviour.down = None, False  # the server is back
        resumed = run_cli("run", "--resume", manifest["run_id"], *args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert_exact(db, tmp_path / "out", 30)


@pytest.mark.postgres
def test_a_postgres_restart_mid_run_is_ridden_out(postgres_url: str, tmp_path: Path) -> None:
    target = 300
    process = start_cli(
        "run",
        "--backend",
        "scripted",
        "--target",
        str(target),
        "--concurrency",
        "1",
        "--db",
        postgres_url,
        "--out",
        "out",
        "--quiet",
        cwd=tmp_path,
    )
    assert process.stderr is not None
    run_id = process.stderr.readline().split()[1].rstrip(":")
    wait_for_accepted(postgres_url, run_id, target // 4, process)
    restart_postgres(postgres_url)  # drops the run's connections mid-run
    assert process.wait(timeout=240) == 0, process.stderr.read()
    assert_exact(postgres_url, tmp_path / "out", target)
