"""Output never mixes: a folder holds one run's files or one export's, replaced only when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spectrumgen.dataset import OWNER_FILE, RUN_FILES, claim_folder
from spectrumgen.errors import BadInputError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from tests.helpers import run_cli


def scripted_run(tmp_path: Path, target: int, *extra: str):
    return run_cli(
        "run", "--backend", "scripted", "--target", str(target), "--out", "out", "--quiet",
        *extra, cwd=tmp_path,
    )  # fmt: skip


def test_a_second_run_refuses_a_folder_holding_the_firsts_files_unless_told(
    tmp_path: Path,
) -> None:
    first = scripted_run(tmp_path, 3)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "out"
    before = {name: (out / name).read_bytes() for name in RUN_FILES}
    first_id = json.loads(before["manifest.json"])["run_id"]
    runs_before = len(list(tmp_path.glob("*.db")))

    again = scripted_run(tmp_path, 5)
    assert again.returncode == 2
    [line] = again.stderr.strip().splitlines()
    assert f"holds run {first_id}'s examples.jsonl" in line and "--overwrite" in line, line
    assert {name: (out / name).read_bytes() for name in RUN_FILES} == before  # untouched
    assert len(list(tmp_path.glob("*.db"))) == runs_before

    replaced = scripted_run(tmp_path, 5, "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    rows = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert manifest["run_id"] != first_id and len(rows) == 5
    assert {row["run_id"] for row in rows} == {manifest["run_id"]}  # none of the first run's

    resumed = run_cli(
        "run", "--resume", manifest["run_id"], "--out", "out", "--quiet", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr  # a run may always write its own folder


def test_a_library_run_refuses_another_runs_folder_too(tmp_path: Path) -> None:
    context = RunContext(
        backend="scripted", db_url=f"sqlite:///{tmp_path / 'l.db'}", out_dir=str(tmp_path / "o")
    )
    graph = build_graph().compile()
    assert graph.invoke({"target": 2}, context=context)["status"] == "complete"
    with pytest.raises(BadInputError, match=r"holds run .*'s examples\.jsonl"):
        graph.invoke({"target": 2}, context=context)
    context.overwrite = True
    assert graph.invoke({"target": 2}, context=context)["accepted"] == 2


def test_out_that_is_a_file_or_read_only_is_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file")
    done = scripted_run(tmp_path, 2)
    assert done.returncode == 2 and done.stderr.strip() == (
        "spectrumgen: error: --out out is a file, not a folder"
    ), done.stderr
    assert not (tmp_path / "spectrumgen.db").exists()  # no ledger, no run row
    # A folder nobody may create (even root: /proc takes no new entries).
    with pytest.raises(BadInputError, match=r"^--out /proc/spectrumgen cannot be created"):
        claim_folder("/proc/spectrumgen", "r1", RUN_FILES, overwrite=False)


def test_export_never_replaces_a_file_it_did_not_write(tmp_path: Path) -> None:
    assert scripted_run(tmp_path, 2).returncode == 0
    exported = tmp_path / "exported"
    exported.mkdir()
    (exported / "README.md").write_text("my own notes")
    refused = run_cli("export", "--out", "exported", cwd=tmp_path)
    assert (
        refused.returncode == 2 and "files spectrumgen did not write: README.md" in refused.stderr
    )
    assert (exported / "README.md").read_text() == "my own notes"
    assert run_cli("export", "--out", "exported", "--overwrite", cwd=tmp_path).returncode == 0
    assert (exported / "README.md").read_text() != "my own notes"
    again = run_cli("export", "--out", "exported", cwd=tmp_path)  # its own files: replaced
    assert again.returncode == 0, again.stderr
    assert (exported / OWNER_FILE).read_text().strip() == "export"


def test_a_folder_per_run_with_run_id_in_out(tmp_path: Path) -> None:
    for target in (2, 3):
        done = run_cli(
            "run", "--backend", "scripted", "--target", str(target), "--out", "runs/{run_id}",
            "--quiet", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 2
    for folder in folders:
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["run_id"] == folder.name


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"seed": 2**64}, "seed must be from 0 to"),
        ({"lease_seconds": 10**20}, "lease_seconds must be from 1 to 604800"),
        ({"max_calls": 10**23}, "max_calls must be from 1 to"),
        ({"request_timeout": float("nan")}, "request_timeout must be from 0.01 to 86400, got nan"),
        ({"batch_size": 0}, "batch_size must be from 1 to 50"),
    ],
)
def test_a_library_run_checks_every_number_before_any_work(
    tmp_path: Path, change: dict[str, object], says: str
) -> None:
    context = RunContext(
        backend="scripted", db_url=f"sqlite:///{tmp_path / 'l.db'}", out_dir=str(tmp_path / "o")
    )
    for name, value in change.items():
        setattr(context, name, value)
    with pytest.raises(BadInputError, match=says):
        build_graph().compile().invoke({"target": 2}, context=context)
    assert not (tmp_path / "o").exists()
