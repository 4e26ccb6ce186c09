"""plan_gaps: decide which cells the next wave of batches must fill.

Every bucket of every axis has a quota for the run (see `spectrumgen.quotas`); what the run has
accepted, plus every live claim (this worker's scenarios waiting for repair, and the cells other
workers are generating), is subtracted to give what is still needed. The chosen cells are then
claimed under a lock on the run (`spectrumgen.ledger.claims`); only those granted are planned.
Cells are picked one at a time among those whose three buckets are all still needed: the cell
with the fewest examples in the ledger across all runs first (so gaps fill before anything
repeats), then the cell whose buckets need the most, then a seeded coin. Scenarios waiting for
repair go first.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.budget import call_budget
from spectrumgen.dataset import RUN_FILES, claim_folder
from spectrumgen.graph.context import check_target
from spectrumgen.graph.state import GenerationState
from spectrumgen.ledger.claims import claim_cells, keep_only, live_claims
from spectrumgen.nodes.common import node_parts
from spectrumgen.quotas import allocate, bucket_counts
from spectrumgen.schemas.scenario import Cell, Scenario
from spectrumgen.schemas.spec import AXIS_NAMES

CellKey = tuple[str, str, str]


# How often a worker whose cells are all claimed by others looks again: short, so a worker is
# not left idle for long when the others record (a fixed 2 s once cost 3 of 4 workers up to 2 s
# each near a run's end); a poll is a few small reads.
WAIT_POLL_SECONDS = 0.2


def plan_gaps(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Plan the next wave: repairs first, then the least-covered cells that quotas still need."""
    parts = node_parts(runtime, state)
    context, spec, ledger = parts.context, parts.spec, parts.ledger
    target = state.get("target")
    check_target(target)
    assert isinstance(target, int)
    run_id = state.get("run_id") or new_run_id()
    folder = context.out_folder(run_id)
    if "wave" not in state:  # the run's first step: numbers in range, a folder of its own
        context.check_limits()
        if folder is not None and not context.worker:
            claim_folder(folder, run_id, RUN_FILES, context.overwrite)
    ledger.start_run(
        run_id, spec, target, context.seed, context.backend, context.model, context.routing
    )

    worker = context.worker or run_id
    # A worker waits while others hold the cells left, but not forever without progress.
    patience = context.lease_seconds + 5
    deadline, accepted_before = time.monotonic() + patience, -1
    while True:
        accepted = ledger.accepted_rows(run_id)
        stats = ledger.run_stats(run_id)
        calls_used, tokens_used = stats.llm_calls, stats.prompt_tokens + stats.completion_tokens
        calls_per_batch = context.calls_per_batch(judged=parts.routes.judge is not None)
        budget_now = call_budget(context, target, calls_per_batch, stats)
        budget = budget_now.calls
        repair_queue = [Scenario.model_validate(s) for s in state.get("repair_queue", [])]
        remaining = target - len(accepted)
        slots = max(
            0,
            min(
                remaining,
                (budget - calls_used) // calls_per_batch * context.batch_size,
                context.concurrency * context.batch_size,
            ),
        )
        if context.max_tokens is not None and tokens_used >= context.max_tokens:
            slots = 0  # checked before each wave: a wave already asked for finishes

        wave_repairs, waiting = repair_queue[:slots], repair_queue[slots:]
        keep_only(
            ledger, run_id, worker, [s.scenario_id for s in repair_queue], context.lease_seconds
        )
        claims = live_claims(ledger, run_id)  # this worker's repairs and every other worker's cells
        quota = allocate(spec, target)
        need = still_needed(quota, bucket_counts(spec, [*accepted, *claims]))
        new_count = max(0, min(slots - len(wave_repairs), remaining - len(claims)))
        wave = int(state.get("wave", 0)) + 1
        rng = random.Random(f"{context.seed}|{run_id}|plan|{wave}")
        asked = [*state.get("replan_cells", []), *state.get("focus_cells", [])]
        preferred = [Cell.model_validate(c) for c in asked]
        coverage = ledger.coverage_counts(spec.name)
        for claim in claims:  # cells in flight count as covered, so none is doubled
            key = (claim["capacity_level"], claim["authenticity_target"], claim["complexity_type"])
            coverage[key] = coverage.get(key, 0) + 1
        chosen = choose_cells(need, coverage, new_count, preferred, rng)
        granted = claim_cells(ledger, run_id, worker, chosen, quota, target, context.lease_seconds)
        cells = [cell for cell, _ in granted]
        others = [c for c in claims if c["worker"] != worker]
        if cells or wave_repairs or remaining <= 0 or slots == 0:
            break
        if not others and not chosen:
            break  # nothing in flight anywhere and nothing fits: the quotas cannot be met
        if len(accepted) != accepted_before:  # others are getting on: wait for them longer
            accepted_before, deadline = len(accepted), time.monotonic() + patience
        if time.monotonic() > deadline:
            break
        # Everything left is claimed by other workers (or was, a moment ago: the cells chosen
        # from an unlocked read were taken under the lock): wait until they record it, or until
        # the claims of a worker that died expire, then plan again.
        parts.emit({"event": "waiting_for_workers", "claimed_by_others": len(others)})
        time.sleep(min(WAIT_POLL_SECONDS, context.lease_seconds / 5))

    parts.emit(
        {
            "event": "wave_planned",
            "run_id": run_id,
            "wave": wave,
            "new": len(cells),
            "repairs": len(wave_repairs),
            "accepted": len(accepted),
            "target": target,
            "llm_calls": calls_used,
            "call_budget": budget,
            "tokens": tokens_used,
            "token_budget": context.max_tokens,
        }
    )
    return {
        "run_id": run_id,
        "target": target,
        "started_at": state.get("started_at") or time.time(),
        "wave": wave,
        "planned_cells": [{**cell.model_dump(), "number": n} for cell, n in granted],
        "wave_repairs": [r.model_dump() for r in wave_repairs],
        "repair_queue": [r.model_dump() for r in waiting],
        "replan_cells": [],
        "focus_cells": [],
        "llm_calls": calls_used,
        "call_budget": budget,
        "budget_rule": budget_now.rule,
        "tokens_used": tokens_used,
        "token_budget": context.max_tokens,
        "replies": None,
    }


def new_run_id() -> str:
    """A sortable, unique run id."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def still_needed(
    required: Mapping[str, Mapping[str, int]], taken: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, int]]:
    """Quota per bucket minus what is already taken (accepted or in flight)."""
    return {
        axis: {b: count - taken.get(axis, {}).get(b, 0) for b, count in buckets.items()}
        for axis, buckets in required.items()
    }


def choose_cells(
    need: dict[str, dict[str, int]],
    coverage: Mapping[CellKey, int],
    count: int,
    preferred: Sequence[Cell],
    rng: random.Random,
) -> list[Cell]:
    """Pick `count` cells under the per-axis needs, least covered first (see module docstring)."""
    counts: dict[tuple[str, ...], int] = dict(coverage.items())
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
            key = min(
                itertools.product(*open_buckets),
                key=lambda k: (  # least covered, then the buckets that need the most, then chance
                    counts.get(k, 0),
                    -need["capacity_level"][k[0]]
                    * need["authenticity_target"][k[1]]
                    * need["complexity_type"][k[2]],
                    rng.random(),
                ),
            )
            cell = Cell(capacity_level=key[0], authenticity_target=key[1], complexity_type=key[2])
        for axis, bucket in zip(AXIS_NAMES, cell.key(), strict=True):
            need[axis][bucket] -= 1
        counts[cell.key()] = counts.get(cell.key(), 0) + 1
        chosen.append(cell)
    return chosen


def _fits(cell: Cell, need: dict[str, dict[str, int]]) -> bool:
    return all(
        need[axis].get(bucket, 0) > 0 for axis, bucket in zip(AXIS_NAMES, cell.key(), strict=True)
    )
