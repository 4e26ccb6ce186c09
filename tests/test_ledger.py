"""The ledger: one transaction per batch, idempotent on the batch id, coverage kept per cell."""

from __future__ import annotations

import pytest

from spectrumgen.errors import BadInputError
from spectrumgen.ledger import Ledger
from spectrumgen.ledger.claims import claim_cells, keep_only, live_claims
from spectrumgen.quotas import allocate
from spectrumgen.schemas.batch import Outcome, RawReply
from spectrumgen.schemas.example import ExampleRecord, GeneratedItem
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import Spec
from tests.helpers import make_scenarios, valid_item


def _batch(spec: Spec, batch_id: str = "b1", count: int = 4):
    scenarios = make_scenarios(spec, count)
    reply = RawReply(
        batch_id=batch_id,
        wave=1,
        scenarios=scenarios,
        model="m",
        backend="scripted",
        prompt_tokens=100,
        completion_tokens=50,
    )
    outcomes = []
    for index, scenario in enumerate(scenarios):
        item = GeneratedItem.model_validate(valid_item(scenario))
        accepted = index % 2 == 0
        outcomes.append(
            Outcome(
                batch_id=batch_id,
                scenario=scenario,
                item=item,
                accepted=accepted,
                reasons=[] if accepted else ["too dull"],
                model="m",
                backend="scripted",
            )
        )
    records = [
        ExampleRecord.build(
            run_id="r1",
            spec=spec.name,
            scenario=o.scenario,
            item=o.item,
            model="m",
            backend="scripted",
        )
        for o in outcomes
        if o.accepted and o.item
    ]
    return reply, outcomes, records


@pytest.fixture
def ledger(db_url: str, spec: Spec) -> Ledger:
    ledger = Ledger(db_url)
    ledger.start_run("r1", spec, 10, 0, "scripted", "m")
    return ledger


def test_a_batch_is_written_whole_and_counted(ledger: Ledger, spec: Spec) -> None:
    assert len(ledger.record_batch("r1", spec.name, *_batch(spec)) or []) == 2
    stats = ledger.run_stats("r1")
    assert (stats.llm_calls, stats.items_requested, stats.accepted, stats.rejected) == (1, 4, 2, 2)
    assert (stats.prompt_tokens, stats.completion_tokens) == (100, 50)
    assert len(ledger.examples("r1")) == 2
    assert ledger.rejections("r1")[0]["reasons"] == ["too dull"]
    assert sum(ledger.coverage_counts(spec.name).values()) == 2


def test_recording_the_same_batch_again_changes_nothing(ledger: Ledger, spec: Spec) -> None:
    batch = _batch(spec)
    assert ledger.record_batch("r1", spec.name, *batch)
    assert ledger.record_batch("r1", spec.name, *batch) is None
    stats = ledger.run_stats("r1")
    assert (stats.llm_calls, stats.accepted, stats.rejected) == (1, 2, 2)
    assert sum(ledger.coverage_counts(spec.name).values()) == 2


def test_recording_returns_the_run_as_a_fresh_read_sees_it(ledger: Ledger, spec: Spec) -> None:
    quota = allocate(spec, 64)
    for batch_id in ("b1", "b2"):
        reply, outcomes, records = _batch(spec, batch_id)
        records = [r.model_copy(update={"id": f"r1:{batch_id}:{r.scenario_id}"}) for r in records]
        records = [r.model_copy(update={"scenario_id": r.id}) for r in records]
        after = ledger.record("r1", spec, reply, outcomes, records, quota=quota, target=64)
        assert after.written and len(after.written) == 2
        assert after.standing == ledger.standing(spec, "r1")  # the counts plus what was written
        assert after.stats == ledger.run_stats("r1")
        # the written cells' coverage counts, totals across runs (both batches fill the same)
        written = {(r.capacity_level, r.authenticity_target, r.complexity_type) for r in records}
        counts = ledger.coverage_counts(spec.name)
        assert after.covered == {cell: counts[cell] for cell in written}
    assert set(after.covered.values()) == {2}
    again = ledger.record("r1", spec, reply, outcomes, records, quota=quota, target=64)
    assert again.written is None and again.standing == ledger.standing(spec, "r1")
    assert again.stats.accepted == 4


def test_coverage_accumulates_across_runs_of_a_spec(ledger: Ledger, spec: Spec) -> None:
    ledger.record_batch("r1", spec.name, *_batch(spec))
    ledger.start_run("r2", spec, 10, 0, "scripted", "m")
    reply, outcomes, records = _batch(spec, "b2")
    records = [r.model_copy(update={"run_id": "r2", "id": "r2:" + r.scenario_id}) for r in records]
    ledger.record_batch("r2", spec.name, reply, outcomes, records)
    counts = ledger.coverage_counts(spec.name)
    assert sorted(counts.values()) == [2, 2]


def test_claims_hand_out_each_scenario_id_once_and_never_past_a_quota(
    ledger: Ledger, spec: Spec
) -> None:
    cell = Cell(capacity_level="crisis", authenticity_target="failed", complexity_type="baseline")
    quota = allocate(spec, 64)
    first = claim_cells(ledger, "r1", "w1", [cell] * 5, quota, 64, 60)
    second = claim_cells(ledger, "r1", "w2", [cell] * 8, quota, 64, 60)
    numbers = [n for _, n in first + second]
    assert numbers == list(range(len(numbers)))  # unique, in order, across workers
    fullest = min(quota[axis][bucket] for axis, bucket in zip(quota, cell.key(), strict=True))
    assert len(numbers) == fullest == 8  # baseline holds 8 of 64: 13 asked, 8 granted
    assert len(live_claims(ledger, "r1")) == len(numbers)
    keep_only(ledger, "r1", "w1", [], 60)  # w1 lost its work: its claims go
    assert {c["worker"] for c in live_claims(ledger, "r1")} == {"w2"}


def test_a_run_refuses_a_changed_spec_or_target(ledger: Ledger, spec: Spec) -> None:
    changed = spec.model_copy(update={"description": "something else"})
    with pytest.raises(BadInputError, match="differs"):
        ledger.start_run("r1", changed, 10, 0, "scripted", "m")
    with pytest.raises(BadInputError, match="target of 10"):
        ledger.start_run("r1", spec, 11, 0, "scripted", "m")


def test_an_unusable_url_is_a_clear_bad_input(tmp_path) -> None:
    with pytest.raises(BadInputError, match="not usable"):
        Ledger("nosuchdialect://x")
    with pytest.raises(BadInputError, match="cannot be opened"):
        Ledger(f"sqlite:///{tmp_path}/missing/dir/ledger.db")


def test_an_example_already_recorded_is_not_counted_again(ledger: Ledger, spec: Spec) -> None:
    reply, outcomes, records = _batch(spec, "b1")
    ledger.record_batch("r1", spec.name, reply, outcomes, records)
    again = reply.model_copy(update={"batch_id": "b2"})
    assert ledger.record_batch("r1", spec.name, again, outcomes, records) == []
    assert len(ledger.examples("r1")) == 2 and len(ledger.rejections("r1")) == 2
    assert sum(ledger.coverage_counts(spec.name).values()) == 2
