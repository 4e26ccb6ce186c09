"""compose: turn planned cells into concrete scenarios and group the wave into batches.

With model routing, each batch holds scenarios for one model only; in two-stage mode, for one
stage only (situations to write, or responses to write for given situations).

Numbers are drawn inside each bucket's range with an RNG seeded by the run's seed, its id and
the scenario's sequence number, so a scenario is the same whenever it is composed.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.graph.state import GenerationState
from spectrumgen.ledger.claims import scenario_id
from spectrumgen.nodes.common import node_parts
from spectrumgen.schemas.batch import BatchTask, stage_of
from spectrumgen.schemas.scenario import Cell, Scenario
from spectrumgen.schemas.spec import Spec


def compose(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Make scenarios for the planned cells and split the wave into batches of `batch_size`."""
    parts = node_parts(runtime, state)
    run_id, wave = state["run_id"], int(state["wave"])
    planned = state.get("planned_cells", [])  # claimed cells, each with its sequence number
    seed = parts.context.seed
    fresh = [
        compose_scenario(
            parts.spec,
            Cell.model_validate(cell),
            scenario_id(cell["number"]),
            random.Random(f"{seed}|{run_id}|{cell['number']}"),
        )
        for cell in planned
    ]
    repairs = [Scenario.model_validate(s) for s in state.get("wave_repairs", [])]
    size = max(1, parts.context.batch_size)
    routes = parts.routes
    groups: dict[tuple[str, str], list[Scenario]] = defaultdict(list)
    for scenario in [*repairs, *fresh]:  # one model and one stage per batch
        model = routes.model_for(scenario.complexity_type)
        groups[(model, stage_of(scenario, parts.context.stages))].append(scenario)
    batches = [
        BatchTask(
            batch_id=batch_id(run_id, chunk), wave=wave, scenarios=chunk, model=model, stage=stage
        )
        for (model, stage), scenarios in groups.items()
        for chunk in (scenarios[i : i + size] for i in range(0, len(scenarios), size))
    ]
    # Models and stages split a wave into more batches than plan_gaps counted on: never send
    # more calls than the budget has left. Repairs left out wait for a later wave; new cells
    # left out are released when the next wave is planned.
    calls_each = parts.context.calls_per_batch(judged=routes.judge is not None)
    if "calls_allowed" in state:  # what plan_gaps reserved for this lane
        allowed = max(0, int(state["calls_allowed"]) // calls_each)
    elif "call_budget" in state:
        left = int(state["call_budget"]) - int(state.get("llm_calls", 0))
        allowed = max(0, left // calls_each)
    else:
        allowed = len(batches)
    kept, dropped = batches[:allowed], batches[allowed:]
    held = [s.model_dump() for b in dropped for s in b.scenarios if s.repairs_so_far > 0]
    update: dict[str, Any] = {"batches": [b.model_dump() for b in kept]}
    if held:
        update["repair_queue"] = [*state.get("repair_queue", []), *held]
    return update


def compose_scenario(spec: Spec, cell: Cell, scenario_id: str, rng: random.Random) -> Scenario:
    """Draw a cell's numbers; derive support_needed and the support ceiling by the spec's rules;
    draw one phrase of each of the spec's situation hints."""
    capacity = spec.capacity(cell.capacity_level)
    target = spec.authenticity(cell.authenticity_target)
    rule = spec.support_rule
    effective_capacity = round(rng.uniform(capacity.range.low, capacity.range.high), 1)
    needed = effective_capacity + rng.uniform(target.support_offset.low, target.support_offset.high)
    support_needed = round(min(rule.maximum, max(target.support_floor, needed, 0.0)), 1)
    return Scenario(
        scenario_id=scenario_id,
        capacity_level=cell.capacity_level,
        authenticity_target=cell.authenticity_target,
        complexity_type=cell.complexity_type,
        effective_capacity=effective_capacity,
        authenticity_score=round(rng.uniform(target.range.low, target.range.high), 2),
        authenticity_low=target.range.low,
        authenticity_high=target.range.high,
        support_needed=support_needed,
        support_ceiling=rule.ceiling(effective_capacity),
        hints={name: rng.choice(phrases) for name, phrases in spec.situation_hints.items()},
    )


def batch_id(run_id: str, scenarios: list[Scenario]) -> str:
    """A stable id from the run and its scenarios' ids and attempts, so replays are recognised."""
    key = run_id + "|" + ",".join(f"{s.scenario_id}#{s.attempt}" for s in scenarios)
    return "b" + hashlib.sha256(key.encode()).hexdigest()[:15]
