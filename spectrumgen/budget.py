"""The run's LLM call budget: the configured one, or one that follows the observed acceptance rate.

Without `max_calls`, a run starts from three times the calls its target needs, plus 10 (per stage,
and per judge). Once `WARMUP_ITEMS` items were asked for, the budget follows what the model
achieves (examples accepted per item asked for, per stage): the calls used, plus twice the calls
the rest needs at the observed acceptance rate
(with `concurrency` batches more for the tail, where waves are small), never below the starting
budget and never above `MAX_FACTOR` times it. So a usable but noisy model finishes; and a model
whose acceptance rate could not reach the target even within `MAX_FACTOR` times the starting
budget stops at once (exit 3, with its top rejection reasons) instead of spending it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from spectrumgen.graph.context import RunContext
from spectrumgen.ledger.store import RunStats

WARMUP_ITEMS = 20
MAX_FACTOR = 2
CONFIGURED, INITIAL, ADAPTIVE, HOPELESS = "configured", "initial", "adaptive", "hopeless"


@dataclass(frozen=True)
class CallBudget:
    """How many LLM calls the run may make, and by which rule."""

    calls: int
    rule: str
    acceptance_rate: float | None = None


def call_budget(
    context: RunContext, target: int, calls_per_batch: int, stats: RunStats
) -> CallBudget:
    """The run's call budget now (see module docstring)."""
    initial = context.call_budget(target, calls_per_batch)
    if context.max_calls is not None:
        return CallBudget(initial, CONFIGURED)
    tries = stats.items_requested / max(1, context.stages)  # an example is one item per stage
    if tries < WARMUP_ITEMS:
        return CallBudget(initial, INITIAL)
    rate = stats.accepted / tries
    remaining = max(0, target - stats.accepted)
    batches = math.ceil(remaining / context.batch_size) + (context.concurrency if remaining else 0)
    ceiling = MAX_FACTOR * initial
    needed = math.ceil(batches / rate) * calls_per_batch if rate else ceiling + 1
    if stats.llm_calls + needed > ceiling:
        return CallBudget(min(stats.llm_calls, initial), HOPELESS, round(rate, 3))
    calls = min(max(initial, stats.llm_calls + 2 * needed), ceiling)
    return CallBudget(calls, ADAPTIVE, round(rate, 3))
