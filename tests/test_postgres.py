"""The ledger on a real PostgreSQL server: the whole loop, and batches recorded at most once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spectrumgen import RunContext, build_graph
from spectrumgen.ledger import Ledger
from spectrumgen.schemas.spec import Spec

pytestmark = pytest.mark.postgres


def test_a_whole_run_on_postgres_meets_target_and_quotas(
    postgres_url: str, tmp_path: Path, spec: Spec
) -> None:
    context = RunContext(
        backend="scripted", db_url=postgres_url, out_dir=str(tmp_path), fault_rate=0.3
    )
    before = sum(Ledger(postgres_url).coverage_counts(spec.name).values())  # a shared server
    result = build_graph().compile().invoke({"target": 40, "run_id": "pg-run"}, context=context)
    assert result["status"] == "complete"
    rows = [json.loads(line) for line in (tmp_path / "examples.jsonl").read_text().splitlines()]
    ledger = Ledger(postgres_url)
    assert len(rows) == ledger.run_stats("pg-run").accepted == 40
    assert sum(ledger.coverage_counts(spec.name).values()) - before == 40


def test_a_replayed_batch_is_recorded_once_on_postgres(postgres_url: str, spec: Spec) -> None:
    from tests.test_ledger import _batch

    ledger = Ledger(postgres_url)
    ledger.start_run("r1", spec, 10, 0, "scripted", "m")
    batch = _batch(spec, "pg-b1")
    assert ledger.record_batch("r1", spec.name, *batch)
    assert ledger.record_batch("r1", spec.name, *batch) is None
    assert ledger.run_stats("r1").llm_calls == 1
    assert ledger.run_stats("r1").accepted == len(batch[2])
