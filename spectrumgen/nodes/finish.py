"""finish: settle the run's status, write its manifest, and rewrite its files from the ledger."""

from __future__ import annotations

import time
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.dataset import EXAMPLES_FILE, MANIFEST_FILE, REJECTED_FILE, write_run_files
from spectrumgen.graph.context import RunContext
from spectrumgen.graph.lanes import forget_run
from spectrumgen.graph.routing import budget_spent
from spectrumgen.graph.state import RunState
from spectrumgen.ledger import Ledger
from spectrumgen.llm.embedded import DEMO_NOTICE, EMBEDDED_MODEL_NAME
from spectrumgen.llm.routing import resolve_routes
from spectrumgen.nodes.common import node_parts
from spectrumgen.quotas import QuotaReport, evaluate
from spectrumgen.redact import redact
from spectrumgen.run_report import acceptance_by_attempt, judge_summary, rejection_summary
from spectrumgen.schemas.spec import Spec

COMPLETE, BUDGET_SPENT, QUOTAS_UNMET = "complete", "budget_spent", "quotas_unmet"


def finish(state: RunState, runtime: Runtime[Any]) -> dict[str, Any]:
    """End the run: complete, budget spent, or quotas that can no longer be met."""
    parts = node_parts(runtime, state)
    run_id, target = state["run_id"], int(state["target"])
    forget_run(parts.context.db_url, run_id)
    report = evaluate(parts.spec, target, parts.ledger.standing(parts.spec, run_id))
    stats = parts.ledger.run_stats(run_id)
    # The budget as the lane that saw the most calls last computed it.
    last = max(state.get("ended") or [{}], key=lambda lane: int(lane.get("llm_calls") or 0))
    budget = int(last.get("call_budget") or parts.context.call_budget(target))
    spent = {
        "llm_calls": stats.llm_calls,
        "call_budget": budget,
        "tokens_used": stats.prompt_tokens + stats.completion_tokens,
        "token_budget": parts.context.max_tokens,
    }
    if report.met:
        status = COMPLETE
    elif budget_spent(spent):
        status = BUDGET_SPENT
    else:
        status = QUOTAS_UNMET
    parts.ledger.set_status(run_id, status)
    manifest = build_manifest(
        parts.ledger,
        parts.spec,
        parts.context,
        run_id,
        report,
        status,
        budget,
        seconds=time.time() - float(state.get("started_at") or time.time()),
        budget_rule=str(last.get("budget_rule") or ""),
    )
    files: dict[str, str] = {}
    folder = parts.context.out_folder(run_id)
    if folder is not None:
        write_run_files(parts.ledger, run_id, folder, manifest)
        out = folder.resolve()
        files = {name: str(out / file) for name, file in manifest["files"].items()}
    parts.emit({"event": "finished", "run_id": run_id, "status": status})
    return {
        "status": status,
        "accepted": report.accepted,
        "quota": report.model_dump(),
        "files": files,
        "manifest": manifest,
    }


def build_manifest(
    ledger: Ledger,
    spec: Spec,
    context: RunContext,
    run_id: str,
    report: QuotaReport,
    status: str,
    call_budget: int,
    seconds: float,
    budget_rule: str = "",
) -> dict[str, Any]:
    """Everything needed to know how a run's data came to be."""
    stats = ledger.run_stats(run_id)
    models = ledger.run_models(run_id)
    examples, rejections = ledger.examples(run_id), ledger.rejections(run_id)
    tokens = stats.prompt_tokens + stats.completion_tokens

    def per_example(amount: float) -> float | None:
        return round(amount / stats.accepted, 1) if stats.accepted else None

    notes = [DEMO_NOTICE] if any(m["model"] == EMBEDDED_MODEL_NAME for m in models) else []
    return {
        "run_id": run_id,
        "status": status,
        "spectrumgen_version": _version(),
        "spec": {
            "name": spec.name,
            "version": spec.version,
            "hash": spec.content_hash(),
            "source": context.spec,
        },
        "backend": ",".join(sorted({m["backend"] for m in models})) or context.backend,
        "models": models,
        "routing": resolve_routes(spec, context.routing, context.model).describe(),
        "notes": notes,
        "target": report.target,
        "counts": {
            "accepted": stats.accepted,
            "rejected_attempts": stats.rejected,
            "items_requested": stats.items_requested,
            "repairs": stats.repair_items,
        },
        "llm_calls": stats.llm_calls,
        "call_budget": call_budget,
        "call_budget_rule": budget_rule or None,
        "acceptance_rate": (  # examples per item asked for, per stage (as the budget counts)
            round(stats.accepted * context.stages / stats.items_requested, 3)
            if stats.items_requested
            else None
        ),
        "tokens": {
            "prompt": stats.prompt_tokens,
            "completion": stats.completion_tokens,
            "total": tokens,
            "estimated": stats.tokens_estimated,
            "budget": context.max_tokens,
            "per_accepted_example": {
                "prompt": per_example(stats.prompt_tokens),
                "completion": per_example(stats.completion_tokens),
                "total": per_example(tokens),
            },
        },
        "seconds": {
            "wall": round(seconds, 3),
            "llm": round(stats.llm_seconds, 3),
            "llm_per_accepted_example": per_example(stats.llm_seconds),
        },
        "acceptance_by_attempt": acceptance_by_attempt(examples, rejections),
        "rejections": rejection_summary(rejections),
        "judge": judge_summary(examples, rejections),
        "quality": _quality(spec, examples, report.target),
        "quota": {
            "met": report.met,
            "shortfalls": report.shortfalls,
            "required": report.required,
            "actual": report.actual,
        },
        "settings": {
            "batch_size": context.batch_size,
            "concurrency": context.concurrency,
            "stages": context.stages,
            "max_repairs": context.max_repairs,
            "exemplars": context.exemplars,
            "seed": context.seed,
            "db_url": redact(context.db_url),
        },
        "files": {"examples": EXAMPLES_FILE, "rejected": REJECTED_FILE, "manifest": MANIFEST_FILE},
    }


def _quality(spec: Spec, examples: list[dict[str, Any]], target: int) -> dict[str, Any]:
    """The seed's quality analysis of the run (the first 20 missing cells, and how many)."""
    from spectrumgen.analysis import quality_analysis

    analysis = quality_analysis(spec, examples, target)
    validation = analysis["systematic_validation"]
    missing = validation["missing_combinations"]
    validation["missing_combinations"] = missing[:20]
    validation["missing_combinations_total"] = len(missing)
    return analysis


def _version() -> str:
    try:
        return version("spectrumgen")
    except PackageNotFoundError:
        return "unknown"
