"""The command line as a user runs it: files, exit codes, one-line errors, resume."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from spectrumgen.schemas.spec import Spec
from tests.helpers import run_cli

RECORD_FIELDS = {
    "id",
    "run_id",
    "capacity_level",
    "effective_capacity",
    "authenticity_target",
    "authenticity_score",
    "complexity_type",
    "support_needed",
    "support_provided",
    "context",
    "response",
    "reasoning",
    "model",
    "backend",
    "attempt",
}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_scripted_run_of_64_meets_the_issues_done_when(tmp_path: Path, spec: Spec) -> None:
    done = run_cli("run", "--backend", "scripted", "--target", "64", "--out", "OUT", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = _lines(tmp_path / "OUT" / "examples.jsonl")
    assert len(records) == 64
    for record in records:
        assert set(record) >= RECORD_FIELDS
        assert spec.capacity(record["capacity_level"]).range.contains(record["effective_capacity"])
        assert spec.authenticity(record["authenticity_target"]).range.contains(
            record["authenticity_score"]
        )
        assert record["support_provided"] <= min(10, record["effective_capacity"] + 2) + 1e-9
    targets = Counter(r["authenticity_target"] for r in records)
    types = Counter(r["complexity_type"] for r in records)
    assert len(targets) == 4 and len(types) == 8
    assert targets["excellent"] / 64 <= 0.4 and types["baseline"] / 64 <= 0.3
    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text())
    for key in ("accepted", "items_requested", "repairs", "rejected_attempts"):
        assert key in manifest["counts"]
    assert manifest["llm_calls"] >= 13
    assert (tmp_path / "spectrumgen.db").exists(), "the default ledger is sqlite:///spectrumgen.db"
    assert "complete" in done.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["run", "--target", "0", "--backend", "scripted"], "--target"),
        (["run", "--bogus"], "--bogus"),
        (["run", "--backend", "nope"], "nope"),
        (["run", "--spec", "missing.yaml", "--backend", "scripted"], "missing.yaml"),
        (["run", "--backend", "scripted", "--db", "nosuch://x"], "nosuch"),
        (["run", "--backend", "scripted", "--resume", "no-such-run"], "no-such-run"),
        (["run", "--backend", "scripted", "--target", "9223372036854775808"], "--target"),
        (["run", "--backend", "scripted", "--seed", "99999999999999999999999"], "--seed"),
        (["run", "--backend", "scripted", "--lease-seconds", "99999999999999999999"], "--lease"),
        (["run", "--backend", "scripted", "--max-calls", "99999999999999999999999"], "--max-c"),
        (["run", "--backend", "scripted", "--timeout", "1e308"], "--timeout"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str], says: str
) -> None:
    done = run_cli(*args, "--out", "OUT", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert says in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "OUT").exists()


def test_a_bad_spec_file_names_the_field(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: x\ncharacter: y\naxes: {capacity_level: []}\n")
    done = run_cli("run", "--spec", "bad.yaml", "--backend", "scripted", cwd=tmp_path)
    assert done.returncode == 2
    assert "axes.capacity_level" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unreachable_ollama_exits_4_naming_the_url(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "--backend",
        "ollama",
        "--base-url",
        "http://127.0.0.1:9",
        "--target",
        "5",
        cwd=tmp_path,
    )
    assert done.returncode == 4
    assert "http://127.0.0.1:9" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "spectrumgen.db").exists()
    assert not (tmp_path / "spectrumgen-out").exists()


def test_a_spent_budget_exits_3_and_resume_finishes_without_duplicates(tmp_path: Path) -> None:
    first = run_cli(
        "run",
        "--backend",
        "scripted",
        "--target",
        "30",
        "--max-calls",
        "2",
        "--fault-rate",
        "0.3",
        "--out",
        "OUT",
        cwd=tmp_path,
    )
    assert first.returncode == 3, first.stderr
    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text())
    kept = _lines(tmp_path / "OUT" / "examples.jsonl")
    assert manifest["status"] == "budget_spent"
    assert 0 < len(kept) == manifest["counts"]["accepted"] < 30

    run_id = manifest["run_id"]
    wrong = run_cli("run", "--resume", run_id, "--target", "31", "--out", "OUT", cwd=tmp_path)
    assert wrong.returncode == 2 and "target" in wrong.stderr

    second = run_cli("run", "--resume", run_id, "--fault-rate", "0.3", "--out", "OUT", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    rows = _lines(tmp_path / "OUT" / "examples.jsonl")
    assert len(rows) == 30 and len({r["id"] for r in rows}) == 30
    assert {r["id"] for r in kept} <= {r["id"] for r in rows}
    assert json.loads((tmp_path / "OUT" / "manifest.json").read_text())["status"] == "complete"


def test_a_terminated_run_keeps_its_files_consistent_and_resumes_to_the_target(
    tmp_path: Path,
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spectrumgen",
            "run",
            "--backend",
            "scripted",
            "--target",
            "1500",
            "--out",
            "OUT",
            "--quiet",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    examples = tmp_path / "OUT" / "examples.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if examples.exists() and examples.stat().st_size > 0:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "--resume" in stderr

    manifest = json.loads((tmp_path / "OUT" / "manifest.json").read_text())
    kept = _lines(examples)
    assert manifest["status"] == "interrupted"
    assert 0 < len(kept) == manifest["counts"]["accepted"] < 1500

    resumed = run_cli(
        "run", "--resume", manifest["run_id"], "--out", "OUT", "--quiet", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    rows = _lines(examples)
    assert len(rows) == 1500 and len({r["id"] for r in rows}) == 1500
