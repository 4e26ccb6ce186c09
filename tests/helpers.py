"""Small builders shared by tests."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from spectrumgen.llm.scripted import write_example
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.schemas.prompts import scenario_line
from spectrumgen.schemas.scenario import Cell, Scenario
from spectrumgen.schemas.spec import Spec


class FakeRuntime:
    """The parts of a LangGraph runtime that nodes read: the context and a stream writer."""

    def __init__(self, context: object) -> None:
        self.context = context
        self.events: list[dict] = []
        self.stream_writer = self.events.append


def make_scenarios(spec: Spec, count: int, seed: int = 0) -> list[Scenario]:
    """Scenarios cycling through every target and complexity type."""
    targets = spec.bucket_names("authenticity_target")
    types = spec.bucket_names("complexity_type")
    levels = spec.bucket_names("capacity_level")
    return [
        compose_scenario(
            spec,
            Cell(
                capacity_level=levels[i % len(levels)],
                authenticity_target=targets[i % len(targets)],
                complexity_type=types[i % len(types)],
            ),
            f"s{i:05d}",
            random.Random(f"{seed}|{i}"),
        )
        for i in range(count)
    ]


def valid_item(scenario: Scenario, seed: int = 0) -> dict:
    """The item the scripted backend would write for a scenario: valid by construction."""
    return write_example(json.loads(scenario_line(scenario)), random.Random(seed))


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`spectrumgen ARGS` as a user runs it, to the end."""
    return subprocess.run(
        [sys.executable, "-m", "spectrumgen", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """`spectrumgen ARGS` in the background; its first stderr line names the run."""
    return subprocess.Popen(
        [sys.executable, "-m", "spectrumgen", *args],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_accepted(
    db_url: str, run_id: str, at: int, process: subprocess.Popen[str] | None = None
) -> None:
    """Wait (two minutes at most) until the run holds `at` examples, or its process ended."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        if accepted_count(db_url, run_id) >= at:
            return
        time.sleep(0.02)


def accepted_count(db_url: str, run_id: str) -> int:
    """Examples the ledger holds for a run, read as another process sees them (0 before the
    tables exist)."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("select count(*) from examples where run_id = :r"), {"r": run_id}
                ).scalar_one()
            )
    except Exception:
        return 0
    finally:
        engine.dispose()
