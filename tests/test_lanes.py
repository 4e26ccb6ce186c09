"""Lanes: a run's batches go side by side, each lane refilling its slot as soon as its batch is
recorded; several claimers on one SQLite file never share a scenario or pass a quota."""

from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import spectrumgen.graph.lanes as lanes_module
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.graph.lanes import RunLanes
from spectrumgen.ledger import open_ledger
from spectrumgen.ledger.claims import claim_cells
from spectrumgen.ledger.tables import ParameterCoverage
from spectrumgen.nodes.plan_gaps import choose_cells, still_needed
from spectrumgen.quotas import Standing, allocate
from spectrumgen.schemas.spec import AXIS_NAMES, Spec
from tests.llm_servers import Behaviour, OllamaHandler, serve
from tests.test_ollama_backend import ollama_context, run_graph


def test_a_lane_goes_on_while_another_waits_on_a_slow_call(tmp_path: Path) -> None:
    # The first call is held until three later calls were answered. Waves of two would wait for
    # it after one other call, and it would be released by the 10 s timeout instead.
    behaviour = Behaviour(hold_first_for=3)
    with serve(OllamaHandler, behaviour) as (url, _):
        context = ollama_context(url, tmp_path, concurrency=2, batch_size=1)
        result = run_graph(context, target=6)
    assert result["status"] == "complete" and result["accepted"] == 6
    assert behaviour.overtaken is True


def test_claimers_on_one_sqlite_file_never_share_a_scenario_or_pass_a_quota(
    tmp_path: Path, spec: Spec
) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    target = 96
    ledger.start_run("r1", spec, target, 0, "scripted", "m")
    quota = allocate(spec, target)
    granted: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def claimer(worker: str) -> None:
        try:
            start.wait()
            for _ in range(6):  # each asks for more than its share, over and over
                cells = choose_cells(still_needed(quota, {}), {}, 12, [], random.Random(worker))
                for cell, number in claim_cells(ledger, "r1", worker, cells, quota, target, 600):
                    granted.append((worker, number))
                    taken[cell.key()] += 1
        except BaseException as error:  # reported below
            errors.append(error)

    taken: Counter[tuple[str, str, str]] = Counter()
    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    numbers = [number for _, number in granted]
    assert sorted(numbers) == list(range(len(numbers)))  # each number once, none skipped
    assert target // 2 < len(numbers) <= target
    for index, axis in enumerate(AXIS_NAMES):
        per_bucket: Counter[str] = Counter()
        for key, count in taken.items():
            per_bucket[key[index]] += count
        assert all(per_bucket[b] <= n for b, n in quota[axis].items())


def test_the_callers_step_limit_does_not_end_a_long_run(scripted_context: RunContext) -> None:
    # 40 batches of one in two lanes is about 200 steps of each lane's loop: LangGraph's limit
    # of steps applies to the run (start, lanes, finish), and the loop ends by its budget.
    scripted_context.batch_size, scripted_context.concurrency = 1, 1
    graph = build_graph().compile()
    result = graph.invoke({"target": 40}, {"recursion_limit": 50}, context=scripted_context)
    assert result["status"] == "complete" and result["accepted"] == 40


def test_planning_keeps_coverage_and_reads_only_the_cells_counted_since(db_url: str) -> None:
    ledger = open_ledger(db_url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    table = ParameterCoverage.__table__

    def count(cell: str, number: int, minutes: float) -> None:  # as recording a batch does
        stamp = start + timedelta(minutes=minutes)
        with ledger.engine.begin() as db:
            db.execute(table.delete().where(table.c.capacity_level == cell))
            db.execute(
                table.insert().values(
                    spec_name="s", capacity_level=cell, authenticity_target="a",
                    complexity_type="x", generated_count=number, first_generated=start,
                    last_generated=stamp,
                )
            )  # fmt: skip

    count("old", 3, 0)
    count("recent", 1, 10)
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    asked: list[datetime | None] = []

    def read(since: datetime | None) -> tuple[dict[tuple[str, str, str], int], datetime | None]:
        asked.append(since)
        fresh, newest = ledger.coverage_since("s", since)
        read_back.append(set(fresh))
        return fresh, newest

    read_back: list[set[tuple[str, str, str]]] = []
    assert lanes.coverage(read) == {("old", "a", "x"): 3, ("recent", "a", "x"): 1}
    count("recent", 2, 20)
    count("new", 1, 20)
    seen = lanes.coverage(read)
    assert seen == {("old", "a", "x"): 3, ("recent", "a", "x"): 2, ("new", "a", "x"): 1}
    # The second look starts a minute before the newest count it had seen (minute 10): the cell
    # counted at minute 0 is not read again, its count is kept.
    assert asked[0] is None and asked[1] is not None
    assert read_back[1] == {("recent", "a", "x"), ("new", "a", "x")}
    seen[("old", "a", "x")] = 99  # each caller gets a copy to add its claims to
    assert lanes.coverage(read)[("old", "a", "x")] == 3


def test_planning_reads_other_processes_coverage_at_most_once_in_a_while() -> None:
    # Within `fresh_within` seconds of its last read the lanes' copy is used as it is, with the
    # counts this process's batches wrote (note_covered); the next read after that brings in
    # the rest.
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    in_ledger = {("a", "b", "c"): 1}
    reads: list[datetime | None] = []

    def read(since: datetime | None) -> tuple[dict[tuple[str, str, str], int], datetime | None]:
        reads.append(since)
        return dict(in_ledger), datetime(2026, 1, 1, tzinfo=UTC)

    assert lanes.coverage(read, fresh_within=3600) == {("a", "b", "c"): 1}
    in_ledger[("x", "y", "z")] = 4  # another worker's batch
    lanes.note_covered({("a", "b", "c"): 2})  # this process's batch, read back as it recorded
    assert lanes.coverage(read, fresh_within=3600) == {("a", "b", "c"): 2}
    assert len(reads) == 1
    assert lanes.coverage(read) == {("a", "b", "c"): 1, ("x", "y", "z"): 4}  # read again
    assert len(reads) == 2


def test_a_lane_that_reports_an_earlier_commit_last_reports_the_newest_standing() -> None:
    # Lane A commits with 5 accepted, lane B then with 10 and reports; A's report comes out
    # last: it must not tell a progress bar that the run went back to 5.
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    five, ten = (Standing(counts={}, accepted=n, low=None, high=None) for n in (5, 10))
    with lanes.reporting(ten) as newest:
        assert newest.accepted == 10
    with lanes.reporting(five) as newest:
        assert newest.accepted == 10
    assert lanes.standing is not None and lanes.standing.accepted == 10


def test_lanes_take_turns_and_a_waiting_lane_gets_the_turn_when_it_is_given_up() -> None:
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    lanes.take_turn(0)
    got = threading.Event()

    def second_lane() -> None:
        lanes.take_turn(1)
        got.set()

    waiter = threading.Thread(target=second_lane)
    waiter.start()
    assert not got.wait(0.05)  # lane 0 holds the turn (the wait is TURN_WAIT_SECONDS long)
    lanes.give_turn(0)
    waiter.join(5)
    assert got.is_set() and lanes.turn_lane == 1


def test_a_lane_gives_its_turn_up_while_it_waits_on_its_call_but_not_after_a_failed_one() -> None:
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    lanes.take_turn(0)
    with lanes.call_slot(0):
        assert lanes.turn_lane is None  # another lane may run while this one waits
    assert lanes.turn_lane == 0
    try:
        with lanes.call_slot(0):
            raise TimeoutError("the server did not answer")
    except TimeoutError:
        pass
    assert lanes.turn_lane is None  # a retry's back-off does not hold up the other lanes


def test_a_lane_goes_on_without_the_turn_when_another_keeps_it_too_long(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The turn is a hint: a lane stuck holding it (a ledger retry's back-off) cannot stop the
    # others, and one that goes on without it cannot give away what it does not hold.
    monkeypatch.setattr(lanes_module, "TURN_WAIT_SECONDS", 0.01)
    lanes = RunLanes(1, threading.BoundedSemaphore(1))
    lanes.take_turn(0)
    lanes.take_turn(1)  # returns after 0.01 s
    assert lanes.turn_lane == 0
    lanes.give_turn(1)
    assert lanes.turn_lane == 0


def test_two_calls_of_one_lane_waiting_for_the_turn_both_go_on_when_it_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A lane's two batches (two models, or a judge per batch) end their calls while another
    # lane has the turn: waking one waiting thread when the turn is given up must not leave
    # the other waiting out TURN_WAIT_SECONDS.
    monkeypatch.setattr(lanes_module, "TURN_WAIT_SECONDS", 60)
    lanes = RunLanes(2, threading.BoundedSemaphore(2))
    lanes.take_turn(0)
    waiters = [threading.Thread(target=lanes.take_turn, args=(1,)) for _ in range(2)]
    for waiter in waiters:
        waiter.start()
    while lanes.turn_waiting[1] < 2:
        threading.Event().wait(0.001)
    lanes.give_turn(0)
    for waiter in waiters:
        waiter.join(5)
    assert not any(waiter.is_alive() for waiter in waiters)
    assert lanes.turn_lane == 1
