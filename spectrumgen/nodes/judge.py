"""judge: a second model scores each accepted example's fit; a low score sends it to repair.

Runs only when the run's routing names a judge (the seed's Phase 3 'validation' model). One call
per batch with accepted items, the batches of a wave in parallel. A judge call that fails leaves
its items accepted and unjudged (the failure is recorded); a transport failure is retried.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

from spectrumgen.errors import BackendUnavailableError
from spectrumgen.graph.state import GenerationState
from spectrumgen.llm import Backend, backend_for, call_batch
from spectrumgen.nodes.common import node_parts
from spectrumgen.nodes.parse import objects_with_ids
from spectrumgen.schemas.batch import JudgeCall, Outcome
from spectrumgen.schemas.judge import JudgeScore, judge_json_schema
from spectrumgen.schemas.prompts import judge_prompts
from spectrumgen.schemas.spec import Spec


def judge(state: GenerationState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Score the wave's accepted items with the judge model; reject those scored too low."""
    parts = node_parts(runtime, state)
    routes = parts.routes
    if not routes.judge:
        return {"judge_calls": []}
    outcomes = [Outcome.model_validate(o) for o in state.get("outcomes", [])]
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        if outcome.accepted and outcome.item is not None:
            groups.setdefault(outcome.batch_id, []).append(outcome)
    backend = backend_for(parts.context, routes.judge)
    workers = max(1, min(parts.context.concurrency, len(groups)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(
            pool.map(lambda item: score_batch(parts.spec, backend, *item), groups.items())
        )
    calls = [call for call, _ in results]
    scores = {sid: score for _, batch_scores in results for sid, score in batch_scores.items()}

    rejected = []
    for outcome in outcomes:
        score = scores.get(outcome.scenario.scenario_id)
        if score is None or not outcome.accepted:
            continue
        outcome.judge_score = score.fit
        if score.fit < routes.min_judge_score:
            outcome.accepted = False
            outcome.reasons = [
                f"judge {backend.model_name} scored fit {score.fit:g} (below "
                f"{routes.min_judge_score:g}): {score.why}"
            ]
            rejected.append(outcome.scenario.scenario_id)
    parts.emit(
        {
            "event": "judged",
            "wave": state.get("wave"),
            "model": routes.judge,
            "judged": sum(o.judge_score is not None for o in outcomes),
            "rejected": rejected,
            "errors": [c.error for c in calls if c.error],
        }
    )
    return {
        "outcomes": [o.model_dump() for o in outcomes],
        "judge_calls": [c.model_dump() for c in calls],
    }


def score_batch(
    spec: Spec, backend: Backend, batch_id: str, outcomes: list[Outcome]
) -> tuple[JudgeCall, dict[str, JudgeScore]]:
    """One judge call for one batch's accepted outcomes: what it cost, and a score per id."""
    pairs = [(o.scenario, o.item.model_dump()) for o in outcomes if o.item is not None]
    system, user = judge_prompts(spec, pairs)
    ids = [o.scenario.scenario_id for o in outcomes]
    call = JudgeCall(batch_id=batch_id, model=backend.model_name, backend=backend.name)
    try:
        reply = call_batch(backend, system, user, judge_json_schema(ids), len(ids))
    except BackendUnavailableError:
        raise
    except Exception as error:  # the items stay accepted, unjudged
        call.error = f"{type(error).__name__}: {error}"
        return call, {}
    call.prompt_tokens, call.completion_tokens = reply.prompt_tokens, reply.completion_tokens
    call.tokens_estimated, call.seconds = reply.tokens_estimated, reply.seconds
    scores: dict[str, JudgeScore] = {}
    for obj in objects_with_ids(reply.text, set(ids)):
        try:
            score = JudgeScore.model_validate(obj)
        except ValidationError:
            continue
        scores.setdefault(score.scenario_id, score)
    if len(scores) < len(ids):  # the unscored stay accepted
        call.error = f"judge scored {len(scores)} of {len(ids)} examples"
    return call, scores
