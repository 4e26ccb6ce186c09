"""record: write each batch's accepted examples and rejected attempts, one transaction per batch.

Then the lane's calls count in the ledger, and lanes waiting on its cells are woken.

The ledger is written first; the dataset files get the batch appended only once its transaction
committed (a worker joining a shared run writes its files at the end only). Claims on scenarios
that are done, or given up, are released in the same transaction, which also gives back the
run's standing against its quotas and its totals after the write.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.dataset import EXAMPLES_FILE, REJECTED_FILE, append_lines
from spectrumgen.graph.lanes import run_lanes
from spectrumgen.graph.state import GenerationState
from spectrumgen.ledger.store import RunStats
from spectrumgen.nodes.common import NodeParts, node_parts
from spectrumgen.quotas import Standing, allocate, evaluate
from spectrumgen.schemas.batch import JudgeCall, Outcome, RawReply, RejectedRecord
from spectrumgen.schemas.example import ExampleRecord


def record(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Commit every batch of the wave, append the files, and report the quota status."""
    parts = node_parts(runtime, state)
    spec, ledger, run_id = parts.spec, parts.ledger, state["run_id"]
    by_batch: dict[str, list[Outcome]] = defaultdict(list)
    for raw in state.get("outcomes", []):
        outcome = Outcome.model_validate(raw)
        by_batch[outcome.batch_id].append(outcome)

    judge_calls = {
        call.batch_id: call
        for call in (JudgeCall.model_validate(c) for c in state.get("judge_calls") or [])
    }
    out_dir = parts.context.out_folder(run_id)
    quota = allocate(spec, int(state["target"]))
    shared = run_lanes(parts.context.db_url, run_id, parts.context.concurrency)
    standing: Standing | None = None  # the run after the last batch's write
    stats: RunStats | None = None
    for raw in state.get("replies", []):
        reply = RawReply.model_validate(raw)
        outcomes = by_batch[reply.batch_id]
        records = [
            ExampleRecord.build(
                run_id=run_id,
                spec=spec.name,
                scenario=o.scenario,
                item=o.item,
                model=o.model,
                backend=o.backend,
                judge_fit=o.judge_score,
                judge_authenticity=o.judge_authenticity,
            )
            for o in outcomes
            if o.accepted and o.item is not None
        ]
        recorded = ledger.record(
            run_id,
            spec,
            reply,
            outcomes,
            records,
            judge_calls.get(reply.batch_id),
            release=[o.scenario.scenario_id for o in outcomes if not _still_claimed(o, parts)],
            quota=quota,
            target=int(state["target"]),
            worker=parts.worker(run_id, int(state.get("lane", 0))),
            budgets=(state.get("call_budget"), state.get("token_budget")),
        )
        written, standing, stats = recorded.written, recorded.standing, recorded.stats
        shared.note_covered(recorded.covered)
        if written is not None:
            kept = {r.scenario_id for r in written}
            shared.drop_responses({o.scenario.scenario_id for o in outcomes} - kept)
        if written is not None and out_dir is not None and not parts.context.worker:
            append_lines(out_dir / EXAMPLES_FILE, (r.model_dump() for r in written))
            rejected = [RejectedRecord.from_outcome(run_id, o) for o in outcomes if not o.accepted]
            append_lines(out_dir / REJECTED_FILE, (r.model_dump() for r in rejected))

    shared.recorded(int(state.get("lane", 0)))  # its calls are in the ledger now
    if standing is None or stats is None:  # no batch this time: the run's standing, in one read
        with ledger.sessions.snapshot() as view:
            standing, stats = ledger.standing(spec, run_id, view), ledger.run_stats(run_id, view)
    calls, tokens = stats.llm_calls, stats.prompt_tokens + stats.completion_tokens
    with shared.reporting(standing) as newest:  # reports in order, never going back
        report = evaluate(spec, int(state["target"]), newest)
        parts.emit(
            {
                "event": "recorded",
                "lane": state.get("lane", 0),
                "wave": state.get("wave"),
                "accepted": report.accepted,
                "target": report.target,
                "llm_calls": calls,
                "call_budget": state.get("call_budget"),
                "tokens": tokens,
                "tokens_estimated": stats.tokens_estimated,
                "token_budget": state.get("token_budget"),
                "quota_met": report.met,
                "shortfalls": report.shortfalls,
            }
        )
    return {"quota": report.model_dump(), "llm_calls": calls, "tokens_used": tokens}


def _still_claimed(outcome: Outcome, parts: NodeParts) -> bool:
    """True while the scenario goes on: to stage 2, or to another repair."""
    if outcome.accepted:
        return outcome.situation is not None
    return outcome.retryable and outcome.scenario.repairs_so_far < parts.context.max_repairs
