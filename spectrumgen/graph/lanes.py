"""Lanes: a run's batches go through the loop side by side, each on its own.

A run keeps `lane_count()` lanes (`RunContext`); each lane loops plan_gaps -> compose -> generate
-> parse -> validate -> judge -> review -> repair -> record by itself, claiming its cells through
the ledger as workers do, so a lane whose batch is recorded plans its next one at once instead of
waiting for the slowest batch of a wave. There is one lane more than LLM calls may be in flight:
while `concurrency` lanes wait on the model, the spare one validates, records and plans, so a
freed call slot is taken again at once.

What the lanes of one run share inside one process lives here, one `RunLanes` per ledger and
run: the semaphore of calls in flight, a lock so one lane at a time reads the ledger, chooses
and claims (two lanes reading at once would both pick the same least-covered cell), the calls
each lane has planned but not yet recorded (so the call budget holds across lanes), a condition
a lane waiting on the others' claims sleeps on (woken when a lane records), and the run's
accepted responses for the near-duplicate check (read from the ledger once, then kept up to
date, so two lanes never both accept one response), and the run's standing as the lanes last
planned or recorded it (validate's quota check; the record re-checks under the run's lock,
counting every worker). Workers in other processes share only the ledger, as before.

Lanes also take turns at the interpreter. Python runs one thread at a time; two lanes that both
want it would hand it to each other at every ledger statement (SQLite lets go of the
interpreter's lock while it works), about 30 thread switches a batch, each one costing system
calls and cold caches: with a model that answers at once, 12% more CPU per batch (measured side
by side). So a lane holds the run's turn while it plans, validates and records, and gives it up only
while it waits: for a call slot and the model's answer, or for other lanes' claims. The turn is
only ever a hint: a lane that waits `TURN_WAIT_SECONDS` for it goes on without it (a lane holding
it may be stuck in a ledger retry's back-off), so no lane ever depends on another for it.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from spectrumgen.near_duplicates import NearDuplicates
from spectrumgen.quotas import Standing

# How far before the newest coverage count seen the next read starts (workers' clocks differ).
COVERAGE_OVERLAP = timedelta(seconds=60)
# How often planning reads the coverage other processes wrote (`RunLanes.coverage`); the cells
# this process's lanes write come back from each batch's own transaction.
COVERAGE_REFRESH_SECONDS = 1.0
# How long a lane waits for its turn at the interpreter before it goes on without it.
TURN_WAIT_SECONDS = 0.25


@dataclass
class RunLanes:
    """What the lanes of one run in this process share (see module docstring)."""

    concurrency: int
    calls: threading.BoundedSemaphore
    changed: threading.Condition = field(default_factory=threading.Condition)
    planning: threading.Lock = field(default_factory=threading.Lock)
    stopped_at: float | None = None
    lane_started: dict[int, float] = field(default_factory=dict)
    reserved: dict[int, int] = field(default_factory=dict)
    responses: NearDuplicates | None = None
    # Held while a lane checks its batch against the responses, ledger read included; `changed`
    # is never held while the ledger is (a planning lane takes it inside its transaction).
    responses_lock: threading.Lock = field(default_factory=threading.Lock)
    responses_seen: datetime | None = None
    covered: dict[tuple[str, str, str], int] = field(default_factory=dict)
    covered_seen: datetime | None = None
    covered_read_at: float | None = None  # time.monotonic() of the last read
    covered_lock: threading.Lock = field(default_factory=threading.Lock)
    standing: Standing | None = None
    standing_lock: threading.Lock = field(default_factory=threading.Lock)
    turn_lane: int | None = None  # the lane whose turn it is (any of its threads holds it)
    turn_changed: threading.Condition = field(default_factory=threading.Condition)
    turn_waiting: Counter[int] = field(default_factory=Counter)  # threads waiting, per lane

    def take_turn(self, lane: int) -> None:
        """Wait for the turn at the interpreter (module docstring), at most `TURN_WAIT_SECONDS`;
        then the lane has it, or goes on without it. A lane that has it already goes on."""
        deadline = time.monotonic() + TURN_WAIT_SECONDS
        with self.turn_changed:
            self.turn_waiting[lane] += 1
            try:
                while self.turn_lane not in (None, lane):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return
                    self.turn_changed.wait(left)
                self.turn_lane = lane
            finally:
                self.turn_waiting[lane] -= 1
            if self.turn_waiting[lane]:  # the lane's other threads (two calls of one lane)
                self.turn_changed.notify_all()

    def give_turn(self, lane: int) -> None:
        """Let the next lane run: this one waits for something else now (or it ended). One
        waiting thread is woken, the longest waiting, not every lane."""
        with self.turn_changed:
            if self.turn_lane == lane:
                self.turn_lane = None
                self.turn_changed.notify()

    def note_standing(self, standing: Standing) -> None:
        """Keep the newest standing a lane read or recorded (counts only grow: the one with the
        most accepted), for validate's quota check. Its own lock: a planning lane calls this
        inside its ledger transaction, and must not wait there on `changed`."""
        with self.standing_lock:
            self._keep_newest(standing)

    @contextmanager
    def reporting(self, standing: Standing) -> Iterator[Standing]:
        """`note_standing`, then the newest standing the lanes know, held while a lane reports
        it: two lanes' reports come out in order, and the run's accepted count they show never
        goes back (a lane that committed first can reach its report last)."""
        with self.standing_lock:
            yield self._keep_newest(standing)

    def _keep_newest(self, standing: Standing) -> Standing:
        """Keep `standing` if it is the newest (the most accepted); the newest. Under
        `standing_lock`."""
        if self.standing is None or standing.accepted >= self.standing.accepted:
            self.standing = standing
        return self.standing

    def coverage(
        self,
        read: Callable[[datetime | None], tuple[dict[tuple[str, str, str], int], datetime | None]],
        fresh_within: float = 0.0,
    ) -> dict[tuple[str, str, str], int]:
        """The spec's coverage (accepted examples per cell, across all runs), a copy of the
        lanes' own, which a call brings up to date with the cells counted since the last
        (`read(since)`) instead of reading every covered cell again (at 18,000 covered cells:
        0.4 ms against 30-34 ms per batch). It reads from `COVERAGE_OVERLAP` before the newest
        count it saw, so a worker whose clock runs a little behind is not missed, and not at
        all within `fresh_within` seconds of its last read: what this process's lanes write
        comes in through `note_covered`; only other processes' counts wait for the next read
        (coverage only orders the cells the quotas still need). Called under `planning`."""
        now = time.monotonic()
        if self.covered_read_at is None or now - self.covered_read_at >= fresh_within:
            since = None if self.covered_seen is None else self.covered_seen - COVERAGE_OVERLAP
            fresh, newest = read(since)
            with self.covered_lock:
                self.covered.update(fresh)
            if newest is not None:
                self.covered_seen = max(newest, self.covered_seen or newest)
            self.covered_read_at = now
        with self.covered_lock:
            return dict(self.covered)

    def note_covered(self, counts: dict[tuple[str, str, str], int]) -> None:
        """Keep the coverage counts a lane's batch wrote (read back in its transaction)."""
        with self.covered_lock:
            self.covered.update(counts)

    @contextmanager
    def waiting(self, lane: int) -> Iterator[None]:
        """The lane's turn given up while it waits on something else, and taken again after (not
        after a failure: a retry's back-off must not hold it)."""
        self.give_turn(lane)
        yield
        self.take_turn(lane)

    @contextmanager
    def call_slot(self, lane: int) -> Iterator[None]:
        """Hold one of the run's `concurrency` slots for an LLM call, the lane's turn given up
        while it waits for the slot and the answer."""
        with self.waiting(lane):
            with self.calls:
                yield
            # A lane waiting for the slot needs the interpreter's lock to send its call: give it
            # now, not after up to 5 ms (the switch interval) of this lane going on.
            time.sleep(0)

    def take_calls(self, lane: int, wanted: int, left: int) -> int:
        """Reserve for a lane up to `wanted` of the `left` calls the ledger does not count yet,
        less what the other lanes hold; returns how many it got (it holds them until its batch
        is recorded, or it plans again)."""
        with self.changed:
            free = left - sum(n for other, n in self.reserved.items() if other != lane)
            self.reserved[lane] = max(0, min(wanted, free))
            return self.reserved[lane]

    def recorded(self, lane: int) -> None:
        """A lane's batch is in the ledger (its calls count there now), or the lane ended and
        let its claims go: wake waiting lanes."""
        with self.changed:
            self.reserved.pop(lane, None)
            self.changed.notify_all()

    def began(self, lane: int) -> None:
        """A lane (re)starts: a stop asked before now was meant for an earlier invocation."""
        with self.changed:
            self.lane_started[lane] = time.monotonic()

    def stop(self) -> None:
        """End every lane of the run at its next plan (one lane failed, or Ctrl-C)."""
        with self.changed:
            self.stopped_at = time.monotonic()
            self.changed.notify_all()

    def stopping(self, lane: int) -> bool:
        """True once the run was asked to stop since this lane began."""
        with self.changed:
            return self.stopped_at is not None and self.stopped_at >= self.lane_started.get(
                lane, 0.0
            )

    def wait(self, lane: int, seconds: float) -> None:
        """Sleep until a lane records, or `seconds` pass (another process may have recorded),
        the lane's turn given up meanwhile."""
        with self.waiting(lane), self.changed:
            self.changed.wait(seconds)

    @contextmanager
    def accepted_responses(
        self,
        load: Callable[[datetime | None], tuple[dict[str, str], datetime | None]],
        cutoff: float,
    ) -> Iterator[NearDuplicates]:
        """The run's accepted responses for the near-duplicate check (`near_duplicates`), held
        for one batch's check: read what is new in the ledger since the last look
        (`load(since)`), let the caller check and add its batch's accepted responses, then let
        the next lane in."""
        with self.responses_lock:
            if self.responses is None:
                self.responses = NearDuplicates(cutoff)
            new, seen = load(self.responses_seen)
            for key, text in new.items():
                if key not in self.responses:
                    self.responses.add(key, text)
            self.responses_seen = seen or self.responses_seen
            yield self.responses

    def drop_responses(self, scenario_ids: set[str]) -> None:
        """Forget responses validate let through that did not make it into the ledger (the
        judge or a reviewer rejected them, or another lane's batch filled their bucket)."""
        with self.responses_lock:
            for scenario_id in scenario_ids:
                if self.responses is not None:
                    self.responses.remove(scenario_id)


_RUNS: dict[tuple[str, str], RunLanes] = {}
_RUNS_LOCK = threading.Lock()


def run_lanes(db_url: str, run_id: str, concurrency: int) -> RunLanes:
    """The shared parts of this run's lanes in this process (made on first use)."""
    key = (db_url, run_id)
    with _RUNS_LOCK:
        lanes = _RUNS.get(key)
        if lanes is None or lanes.concurrency != concurrency:
            lanes = RunLanes(concurrency, threading.BoundedSemaphore(concurrency))
            _RUNS[key] = lanes
        return lanes


def stop_runs() -> None:
    """Ask every run's lanes in this process to end after the batch each has in hand (Ctrl-C,
    SIGTERM): LangGraph waits for a superstep's tasks, the lanes, before an interrupt gets out."""
    with _RUNS_LOCK:
        runs = list(_RUNS.values())
    for lanes in runs:
        lanes.stop()


def forget_run(db_url: str, run_id: str) -> None:
    """Drop a finished run's shared parts."""
    with _RUNS_LOCK:
        _RUNS.pop((db_url, run_id), None)
