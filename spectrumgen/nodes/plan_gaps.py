"""plan_gaps: decide which cells a lane's next batch must fill.

Every bucket of every axis has a quota for the run (see `spectrumgen.quotas`); what the run has
accepted, plus every live claim (this worker's scenarios waiting for repair, and the cells other
workers are generating), is subtracted to give what is still needed. All of it is read, and the
chosen cells claimed, in one transaction that locks the run first (`spectrumgen.ledger.claims`),
so what is chosen is granted.
Cells are picked one at a time among those whose three buckets are all still needed: the cell
with the fewest examples in the ledger across all runs first (so gaps fill before anything
repeats), then the cell whose buckets need the most, then a seeded coin. Scenarios waiting for
repair go first.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.budget import call_budget
from spectrumgen.graph.context import check_target
from spectrumgen.graph.lanes import COVERAGE_REFRESH_SECONDS, run_lanes
from spectrumgen.graph.state import GenerationState
from spectrumgen.ledger.claims import (
    claim_counted,
    keep_only,
    keep_only_in,
    live_claims,
    lock_run,
)
from spectrumgen.nodes.common import node_parts
from spectrumgen.nodes.start import new_run_id
from spectrumgen.quotas import allocate, bucket_counts
from spectrumgen.schemas.scenario import Cell, Scenario
from spectrumgen.schemas.spec import AXIS_NAMES

CellKey = tuple[str, str, str]


# How often a worker whose cells are all claimed by others looks again: short, so a worker is
# not left idle for long when the others record (a fixed 2 s once cost 3 of 4 workers up to 2 s
# each near a run's end); a poll is a few small reads.
WAIT_POLL_SECONDS = 0.2


def plan_gaps(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Plan the lane's next batch: its repairs first, then the least-covered cells that quotas
    still need and no other lane or worker holds."""
    parts = node_parts(runtime, state)
    context, spec, ledger = parts.context, parts.spec, parts.ledger
    target = state.get("target")
    check_target(target)
    assert isinstance(target, int)
    run_id = state.get("run_id") or new_run_id()
    if "wave" not in state:  # the lane's first step (a lane graph run alone starts the run)
        ledger.start_run(
            run_id, spec, target, context.seed, context.backend, context.model, context.routing
        )
    lane = int(state.get("lane", 0))
    shared = run_lanes(context.db_url, run_id, context.concurrency)
    worker = parts.worker(run_id, lane)
    # A lane waits while others hold the cells left, but not forever without progress.
    patience = context.lease_seconds + 5
    deadline, accepted_before = time.monotonic() + patience, -1
    while True:
        if shared.stopping(lane):  # the batches in hand are recorded; their claims lapse
            return {"planned_cells": [], "wave_repairs": []}
        with shared.planning:  # one lane at a time reads, chooses and claims
            calls_per_batch = context.calls_per_batch(judged=parts.routes.judge is not None)
            models = len({parts.routes.model_for(c) for c in spec.bucket_names("complexity_type")})
            wanted = context.batches_per_lane() * min(models, context.batch_size) * calls_per_batch
            repair_queue = [Scenario.model_validate(s) for s in state.get("repair_queue", [])]
            repairing = {s.scenario_id for s in repair_queue}
            # One transaction, the run's row locked first: the calls made, what is accepted,
            # claimed and covered, the choice, and the claim on it (no other lane or worker
            # claims or records in between, so every cell chosen is granted).
            with ledger.sessions.write() as session:
                db = session.connection()
                first = lock_run(db, run_id)
                # The calls this lane may make: what the budget has left once the other lanes'
                # batches on their way are counted (taken in one step, so two lanes never spend
                # one call). No batch commits while the run is locked, and a recording lane
                # gives its reservation back only after its commit: a call is always in the
                # ledger's count or in a reservation.
                stats = ledger.run_stats(run_id, session)
                budget_now = call_budget(context, target, calls_per_batch, stats)
                calls = shared.take_calls(lane, wanted, budget_now.calls - stats.llm_calls)
                budget = budget_now.calls
                tokens_used = stats.prompt_tokens + stats.completion_tokens
                standing = ledger.standing(spec, run_id, session)
                shared.note_standing(standing)
                claims = live_claims(ledger, run_id, session)
                holds_any = any(c["worker"] == worker for c in claims)
                coverage = shared.coverage(
                    lambda since: ledger.coverage_since(spec.name, since, session),
                    COVERAGE_REFRESH_SECONDS,
                )
                accepted_count = standing.accepted
                remaining = target - accepted_count
                slots = max(
                    0,
                    min(
                        remaining,
                        calls // calls_per_batch * context.batch_size,
                        context.batches_per_lane() * context.batch_size,
                    ),
                )
                if context.max_tokens is not None and tokens_used >= context.max_tokens:
                    slots = 0  # checked before each wave: a wave already asked for finishes

                wave_repairs, waiting = repair_queue[:slots], repair_queue[slots:]
                claims = [  # this lane's repairs, and every other lane's and worker's cells
                    c for c in claims if c["worker"] != worker or c["scenario_id"] in repairing
                ]
                quota = allocate(spec, target)
                claimed = bucket_counts(spec, claims)
                need = still_needed(quota, standing.counts, claimed)
                new_count = max(0, min(slots - len(wave_repairs), remaining - len(claims)))
                wave = int(state.get("wave", 0)) + 1
                rng = random.Random(f"{context.seed}|{run_id}|plan|{lane}|{wave}")
                asked = [*state.get("replan_cells", []), *state.get("focus_cells", [])]
                preferred = [Cell.model_validate(c) for c in asked]
                for claim in claims:  # cells in flight count as covered, so none is doubled
                    key = (
                        claim["capacity_level"],
                        claim["authenticity_target"],
                        claim["complexity_type"],
                    )
                    coverage[key] = coverage.get(key, 0) + 1
                chosen = choose_cells(need, coverage, new_count, preferred, rng)
                if holds_any:  # renew this lane's repairs, drop its others (its past self lost)
                    keep_only_in(db, run_id, worker, repairing, context.lease_seconds)
                taken = {
                    axis: Counter(standing.counts[axis]) + Counter(claimed[axis])
                    for axis in AXIS_NAMES
                }
                granted = claim_counted(
                    db,
                    run_id,
                    worker,
                    chosen,
                    quota,
                    target,
                    context.lease_seconds,
                    first,
                    taken,
                    accepted_count + len(claims),
                )
        cells = [cell for cell, _ in granted]
        others = [c for c in claims if c["worker"] != worker]
        if cells or wave_repairs or remaining <= 0 or slots == 0:
            break
        if not others and not chosen:
            break  # nothing in flight anywhere and nothing fits: the quotas cannot be met
        if accepted_count != accepted_before:  # others are getting on: wait for them longer
            accepted_before, deadline = accepted_count, time.monotonic() + patience
        if time.monotonic() > deadline:
            break
        # Everything left is claimed by other workers: wait until they record it, or until the
        # claims of a worker that died expire, then plan again.
        parts.emit({"event": "waiting_for_workers", "claimed_by_others": len(others)})
        shared.wait(lane, min(WAIT_POLL_SECONDS, context.lease_seconds / 5))  # or a lane records

    if not cells and not wave_repairs:  # the lane ends: it holds no calls and no cells
        keep_only(ledger, run_id, worker, [], context.lease_seconds)  # others may take them over
        shared.recorded(lane)  # and lanes waiting on them look again now
        waiting = []

    parts.emit(
        {
            "event": "wave_planned",
            "run_id": run_id,
            "lane": lane,
            "wave": wave,
            "new": len(cells),
            "repairs": len(wave_repairs),
            "accepted": accepted_count,
            "target": target,
            "llm_calls": stats.llm_calls,
            "call_budget": budget,
            "tokens": tokens_used,
            "token_budget": context.max_tokens,
        }
    )
    return {
        "run_id": run_id,
        "target": target,
        "started_at": state.get("started_at") or time.time(),
        "lane": lane,
        "wave": wave,
        "planned_cells": [{**cell.model_dump(), "number": n} for cell, n in granted],
        "wave_repairs": [r.model_dump() for r in wave_repairs],
        "repair_queue": [r.model_dump() for r in waiting],
        "replan_cells": [],
        "focus_cells": [],
        "llm_calls": stats.llm_calls,
        "calls_allowed": calls,
        "call_budget": budget,
        "budget_rule": budget_now.rule,
        "tokens_used": tokens_used,
        "token_budget": context.max_tokens,
        "replies": None,
    }


def still_needed(
    required: Mapping[str, Mapping[str, int]], *taken: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """Quota per bucket minus what is already taken (accepted, and in flight)."""
    return {
        axis: {
            b: count - sum(counts.get(axis, {}).get(b, 0) for counts in taken)
            for b, count in buckets.items()
        }
        for axis, buckets in required.items()
    }


def choose_cells(
    need: dict[str, dict[str, int]],
    coverage: Mapping[CellKey, int],
    count: int,
    preferred: Sequence[Cell],
    rng: random.Random,
) -> list[Cell]:
    """Pick `count` cells under the per-axis needs, least covered first (see module docstring).

    Small grids are ranked whole. A big one (more open cells than `SCAN_CELLS` and than four
    times the cells ever covered, so uncovered ones abound) is searched best first: the open
    buckets of each axis sorted by need, equal needs in seeded random order, and cells visited
    in falling product of needs until enough uncovered ones of the best product are found to
    draw one by chance. So a pick costs about as much in a spec of 100,000 cells as in one of
    100, with the same ranking rules."""
    picked: dict[tuple[str, ...], int] = {}  # this call's picks, beside the coverage (no copy)

    def covered(key: tuple[str, ...]) -> int:
        return coverage.get(key, 0) + picked.get(key, 0)  # type: ignore[arg-type]

    wanted = list(preferred)
    chosen: list[Cell] = []
    for _ in range(count):
        open_buckets = [[b for b, n in need[axis].items() if n > 0] for axis in AXIS_NAMES]
        if not all(open_buckets):
            break
        cell = next((c for c in wanted if _fits(c, need)), None)
        if cell is not None:
            wanted.remove(cell)
        else:
            size = math.prod(len(buckets) for buckets in open_buckets)
            key = None
            if size > max(SCAN_CELLS, 4 * (len(coverage) + len(picked))):
                key = _best_uncovered(need, open_buckets, covered, rng)
            if key is None:
                first, second, third = (need[axis] for axis in AXIS_NAMES)
                counted, taken, chance = coverage.get, picked.get, rng.random
                cells: list[Any] = list(itertools.product(*open_buckets))  # cell keys
                ranks = [  # least covered, then the buckets that need most, then chance
                    (
                        counted(k, 0) + taken(k, 0),
                        -first[k[0]] * second[k[1]] * third[k[2]],
                        chance(),
                    )
                    for k in cells
                ]
                key = cells[min(range(len(cells)), key=ranks.__getitem__)]
            cell = Cell(capacity_level=key[0], authenticity_target=key[1], complexity_type=key[2])
        for axis, bucket in zip(AXIS_NAMES, cell.key(), strict=True):
            need[axis][bucket] -= 1
        picked[cell.key()] = picked.get(cell.key(), 0) + 1
        chosen.append(cell)
    return chosen


# Below this many open cells a pick ranks them all; above it, `_best_uncovered` searches.
SCAN_CELLS = 2_048
# Uncovered cells of the best product gathered before one is drawn among them (the axes'
# equal needs are already in seeded random order, so a few suffice).
TIE_SAMPLE = 8


def _best_uncovered(
    need: Mapping[str, Mapping[str, int]],
    open_buckets: list[list[str]],
    covered: Callable[[tuple[str, ...]], int],
    rng: random.Random,
) -> tuple[str, ...] | None:
    """An uncovered cell whose buckets need the most, drawn by chance among equals (see
    `choose_cells`); None when the search finds none."""
    axes: list[list[str]] = []
    for axis, buckets in zip(AXIS_NAMES, open_buckets, strict=True):
        shuffled = rng.sample(buckets, len(buckets))  # equal needs in seeded random order
        needs = need[axis]
        axes.append(sorted(shuffled, key=lambda bucket: -needs[bucket]))

    values = [
        [need[axis][b] for b in buckets] for axis, buckets in zip(AXIS_NAMES, axes, strict=True)
    ]

    def product(index: tuple[int, ...]) -> int:
        return math.prod(column[i] for column, i in zip(values, index, strict=True))

    start = (0,) * len(axes)
    heap, seen = [(-product(start), start)], {start}
    best, found = None, []
    while heap:
        negative, index = heapq.heappop(heap)
        if best is not None and negative != best:
            break  # past the best product that has uncovered cells
        key = tuple(axes[a][i] for a, i in enumerate(index))
        if covered(key) == 0:
            best = negative
            found.append(key)
            if len(found) >= TIE_SAMPLE:
                break
        for a in range(len(axes)):
            step = tuple(i + 1 if n == a else i for n, i in enumerate(index))
            if step[a] < len(axes[a]) and step not in seen:
                seen.add(step)
                heapq.heappush(heap, (-product(step), step))
    return rng.choice(found) if found else None


def _fits(cell: Cell, need: dict[str, dict[str, int]]) -> bool:
    return all(
        need[axis].get(bucket, 0) > 0 for axis, bucket in zip(AXIS_NAMES, cell.key(), strict=True)
    )
