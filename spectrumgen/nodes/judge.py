"""judge: a model scores each accepted example; one that fails the spec's rubric goes to repair.

Runs when the run has a judge: `--judge self` (each batch's own model judges it), `--judge MODEL`,
or the routing's judge (the seed's Phase 3 'validation' model). One call per batch with accepted
items, the batches of a wave in parallel. The judge rates how clearly the response shows its
complexity type, estimates its authenticity without being told the target, and names a problem
(incoherent, off-topic, copied...). An example is rejected for a hard problem, a fit under
`min_judge_score`, or an estimate further than `judge_score_tolerance` outside its target's
range. A judge call that fails leaves its items accepted and unjudged (the failure is recorded);
a transport failure is retried.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from langgraph.runtime import Runtime
from pydantic import ValidationError

from spectrumgen.errors import BackendUnavailableError
from spectrumgen.graph.lanes import run_lanes
from spectrumgen.graph.state import GenerationState
from spectrumgen.llm import Backend, backend_for, call_batch
from spectrumgen.llm.counting import counting, set_aside, take_back
from spectrumgen.llm.routing import Routes
from spectrumgen.nodes.common import node_parts
from spectrumgen.nodes.parse import objects_with_ids
from spectrumgen.redact import redact
from spectrumgen.schemas.batch import JudgeCall, Outcome
from spectrumgen.schemas.judge import HARD_PROBLEMS, JudgeScore, judge_json_schema
from spectrumgen.schemas.prompts import judge_prompts
from spectrumgen.schemas.scenario import Scenario
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
    judges = {
        batch_id: backend_for(parts.context, routes.judge_for(group[0].model))
        for batch_id, group in groups.items()
    }
    slots = run_lanes(parts.context.db_url, state["run_id"], parts.context.concurrency)
    lane = int(state.get("lane", 0))

    def judged(batch_id: str, group: list[Outcome]) -> tuple[JudgeCall, dict[str, JudgeScore]]:
        with slots.call_slot(lane):  # a judge's call is a call in flight like any other
            return score_batch(parts.spec, judges[batch_id], batch_id, group)

    workers = max(1, min(parts.context.concurrency, len(groups)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda item: judged(*item), groups.items()))
    calls = [call for call, _ in results]
    scores = {sid: score for _, batch_scores in results for sid, score in batch_scores.items()}

    rejected = []
    for outcome in outcomes:
        score = scores.get(outcome.scenario.scenario_id)
        if score is None or not outcome.accepted:
            continue
        outcome.judge_score, outcome.judge_authenticity = score.fit, score.authenticity
        reason = verdict(parts.spec, routes, outcome.scenario, score)
        if reason is not None:
            model = judges[outcome.batch_id].model_name
            outcome.accepted = False
            outcome.reasons = [f"{reason} (judge {model}: {score.why})"]
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
    key = f"{batch_id}-judge"
    with counting() as counted:
        try:
            reply = call_batch(backend, system, user, judge_json_schema(ids), len(ids))
        except BackendUnavailableError:  # retried (transport) or the run stops
            set_aside(key, counted.requests)
            raise
        except Exception as error:  # the items stay accepted, unjudged
            call.requests = counted.requests + take_back(key)
            call.error = redact(f"{type(error).__name__}: {error}")
            return call, {}
    call.requests = counted.requests + take_back(key)
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


def verdict(spec: Spec, routes: Routes, scenario: Scenario, score: JudgeScore) -> str | None:
    """Why the judge's score rejects the example, as `judge: <problem>: ...`; None to keep it."""
    if score.problem in HARD_PROBLEMS:
        return f"judge: {score.problem}: the judge found the example {score.problem}"
    if score.fit < routes.min_judge_score:
        problem = score.problem if score.problem != "none" else "wrong_type"
        return (
            f"judge: {problem}: fit to {scenario.complexity_type} {score.fit:g} is below "
            f"{routes.min_judge_score:g}"
        )
    tolerance = spec.model_routing.judge_score_tolerance
    estimate = score.authenticity
    if estimate is not None and not (
        scenario.authenticity_low - tolerance <= estimate <= scenario.authenticity_high + tolerance
    ):
        return (
            f"judge: off_target: the judge puts authenticity at {estimate:g}, the target "
            f"{scenario.authenticity_target} is {scenario.authenticity_low:g}-"
            f"{scenario.authenticity_high:g}"
        )
    return None
