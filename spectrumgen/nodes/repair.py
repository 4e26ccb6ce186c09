"""repair: send only the failing scenarios back, with what was wrong, a bounded number of times.

A scenario that failed `max_repairs` times is given up and its cell is planned again with
fresh numbers; one rejected because its bucket is already full is simply dropped. In two-stage
mode a scenario whose situation was accepted goes on to stage 2 (its attempt counts on, so every
attempt has its own id; the stage change is not a repair).
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.graph.state import GenerationState
from spectrumgen.nodes.common import node_parts
from spectrumgen.schemas.batch import Outcome
from spectrumgen.schemas.scenario import Cell


def repair(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Queue failed scenarios for another attempt, or give them up and re-plan their cells."""
    parts = node_parts(runtime, state)
    queue = list(state.get("repair_queue", []))
    replan = list(state.get("replan_cells", []))
    given_up = 0
    advanced = 0
    for outcome in (Outcome.model_validate(o) for o in state.get("outcomes", [])):
        scenario = outcome.scenario
        if outcome.accepted and outcome.situation is not None:  # stage 1 done: on to stage 2
            next_stage = scenario.model_copy(
                update={
                    "attempt": scenario.attempt + 1,
                    "feedback": [],
                    "situation": outcome.situation,
                }
            )
            queue.append(next_stage.model_dump())
            advanced += 1
            continue
        if outcome.accepted or not outcome.retryable:
            continue
        if scenario.repairs_so_far < parts.context.max_repairs:
            retry = scenario.model_copy(
                update={"attempt": scenario.attempt + 1, "feedback": outcome.reasons}
            )
            queue.append(retry.model_dump())
        else:
            given_up += 1
            replan.append(Cell.model_validate(scenario.model_dump()).model_dump())
    parts.emit(
        {
            "event": "repairs_planned",
            "queued": len(queue),
            "given_up": given_up,
            "to_stage_two": advanced,
        }
    )
    return {"repair_queue": queue, "replan_cells": replan}
