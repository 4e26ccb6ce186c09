"""The seed's comparison tool: the old approach against spectrumgen, same backend and model.

The old approach, as the seed describes its earlier generator: one example per LLM call,
parameters drawn at random by the spec's frequencies with no coverage plan and no quotas, no
complexity types (every example `baseline`), and no repair (a failed example is lost). The new
approach is a spectrumgen run of the same size. Both start from an empty ledger of their own.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from spectrumgen.analysis import quality_analysis
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.llm import backend_for, call_batch
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.nodes.parse import parse_reply
from spectrumgen.nodes.validate import check_example, near_duplicate
from spectrumgen.schemas.example import ExampleRecord
from spectrumgen.schemas.prompts import system_prompt, user_prompt
from spectrumgen.schemas.scenario import Cell
from spectrumgen.specs import load_spec

OLD_COMPLEXITY = "baseline"


def run_old_approach(context: RunContext, samples: int) -> dict[str, Any]:
    """One call per example, random parameters, no plan, no quotas, no repair."""
    spec = load_spec(context.spec)
    backend = backend_for(context)
    rng = random.Random(f"{context.seed}|old")
    records: list[dict[str, Any]] = []
    accepted: dict[str, str] = {}
    calls = prompt_tokens = completion_tokens = 0
    estimated = False
    started = time.perf_counter()
    for number in range(samples):
        cell = Cell(
            capacity_level=_draw(rng, spec.frequencies("capacity_level")),
            authenticity_target=_draw(rng, spec.frequencies("authenticity_target")),
            complexity_type=OLD_COMPLEXITY,
        )
        scenario = compose_scenario(spec, cell, f"old{number:05d}", rng)
        calls += 1
        try:
            reply = call_batch(backend, system_prompt(spec, [scenario]), user_prompt([scenario]))
        except Exception:  # the old generator lost a failed call's example
            continue
        prompt_tokens += reply.prompt_tokens
        completion_tokens += reply.completion_tokens
        estimated = estimated or reply.tokens_estimated
        item = parse_reply(reply.text, [scenario.scenario_id]).items.get(scenario.scenario_id)
        if item is None or check_example(spec, scenario, item):
            continue
        if near_duplicate(item.response, accepted, spec):
            continue
        accepted[scenario.scenario_id] = item.response
        records.append(
            ExampleRecord.build(
                run_id="old",
                spec=spec.name,
                scenario=scenario,
                item=item,
                model=backend.model_name,
                backend=backend.name,
            ).model_dump()
        )
    seconds = time.perf_counter() - started
    return _summary(spec, records, calls, prompt_tokens + completion_tokens, estimated, seconds)


def run_new_approach(context: RunContext, samples: int) -> dict[str, Any]:
    """A spectrumgen run of `samples` examples on a ledger of its own."""
    spec = load_spec(context.spec)
    with tempfile.TemporaryDirectory(prefix="spectrumgen-compare-") as folder:
        run_context = replace(
            context, db_url=f"sqlite:///{Path(folder) / 'ledger.db'}", out_dir=None
        )
        started = time.perf_counter()
        result = (
            build_graph()
            .compile()
            .invoke({"target": samples}, run_context.graph_config(), context=run_context)
        )
        seconds = time.perf_counter() - started
        records = open_ledger(run_context.db_url).examples(result["run_id"])
    manifest = result["manifest"]
    summary = _summary(
        spec,
        records,
        manifest["llm_calls"],
        manifest["tokens"]["total"],
        manifest["tokens"]["estimated"],
        seconds,
    )
    summary["status"] = result["status"]
    return summary


def compare_approaches(
    context: RunContext, samples: int, skip_old: bool = False, two_stage: bool = False
) -> dict[str, Any]:
    """Both approaches side by side (the old one left out with `skip_old`); with `two_stage`,
    spectrumgen's two-stage mode as a third column."""
    backend = backend_for(context)
    report: dict[str, Any] = {
        "samples": samples,
        "backend": backend.name,
        "model": backend.model_name,
        "new": run_new_approach(context, samples),
    }
    if not skip_old:
        report["old"] = run_old_approach(context, samples)
    if two_stage:
        report["two_stage"] = run_new_approach(replace(context, stages=2), samples)
    return report


def _summary(
    spec: Any,
    records: list[dict[str, Any]],
    calls: int,
    tokens: int,
    estimated: bool,
    seconds: float,
) -> dict[str, Any]:
    analysis = quality_analysis(spec, records)
    return {
        "accepted": len(records),
        "llm_calls": calls,
        "tokens": tokens,
        "tokens_estimated": estimated,
        "seconds": round(seconds, 2),
        "accepted_per_call": round(len(records) / calls, 2) if calls else 0.0,
        "tokens_per_accepted": round(tokens / len(records), 1) if records else None,
        "quality": analysis,
    }


def _draw(rng: random.Random, weights: dict[str, float]) -> str:
    names = list(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The printed summary, in the shape of the seed's 'Expected Test Results'."""
    new = report["new"]
    old = report.get("old")
    lines: list[str] = []

    def spectrum(side: dict[str, Any]) -> dict[str, Any]:
        return dict(side["quality"]["spectrum_coverage"])

    def verdict(better: bool, text: str, same: str | None = None) -> str:
        if better:
            return f"  ✅ IMPROVEMENT: {text}"
        return f"  = SAME: {same}" if same else f"  ⚠️ NO IMPROVEMENT: {text}"

    lines.append("📊 AUTHENTICITY SPECTRUM COVERAGE:")
    if old:
        lines.append(
            f"  Old approach: {spectrum(old)['categories_covered']}/"
            f"{spectrum(old)['categories_total']} categories covered"
        )
    lines.append(
        f"  New approach: {spectrum(new)['categories_covered']}/"
        f"{spectrum(new)['categories_total']} categories covered"
    )
    if old:
        lines.append(f"  Old min-max: {_range(spectrum(old))}")
    lines.append(f"  New min-max: {_range(spectrum(new))}")
    if old:
        full = spectrum(new)["categories_covered"] == spectrum(new)["categories_total"]
        both = spectrum(old)["categories_covered"] == spectrum(new)["categories_covered"]
        lines.append(
            verdict(
                spectrum(new)["categories_covered"] > spectrum(old)["categories_covered"],
                "Full spectrum coverage achieved" if full else "more categories covered",
                "both cover the same categories (random draws reach them too)" if both else None,
            )
        )
    lines += ["", "🔧 COMPLEXITY FACTOR COVERAGE:"]
    new_types = new["quality"]["complexity_coverage"]["types_covered"]
    if old:
        old_types = old["quality"]["complexity_coverage"]["types_covered"]
        lines.append(f"  Old approach: {old_types} types")
    lines.append(f"  New approach: {new_types} types")
    if old:
        lines.append(verdict(new_types > old_types, f"+{new_types - old_types} complexity types"))
    lines += ["", "🎨 PATTERN DIVERSITY:"]
    if old:
        lines.append(f"  Old diversity score: {old['quality']['pattern_diversity']:.2f}")
    lines.append(f"  New diversity score: {new['quality']['pattern_diversity']:.2f}")
    if old and old["quality"]["pattern_diversity"]:
        change = new["quality"]["pattern_diversity"] / old["quality"]["pattern_diversity"] - 1
        lines.append(verdict(change > 0, f"{change:+.1%} diversity"))
    lines += ["", "⚡ CAPACITY DISTRIBUTION:"]
    if old:
        lines.append(f"  Old balanced: {old['quality']['capacity_balance']['balanced']}")
    lines.append(f"  New balanced: {new['quality']['capacity_balance']['balanced']}")
    if old:
        new_balanced = new["quality"]["capacity_balance"]["balanced"]
        old_balanced = old["quality"]["capacity_balance"]["balanced"]
        lines.append(
            verdict(
                new_balanced and not old_balanced,
                "Balanced capacity coverage",
                f"both {'balanced' if new_balanced else 'unbalanced'}"
                if new_balanced == old_balanced
                else None,
            )
        )
    staged = report.get("two_stage")
    if staged:
        lines += ["", "🧩 TWO-STAGE (situations, then responses) vs ONE-STAGE:"]
        for name, side in (("One-stage", new), ("Two-stage", staged)):
            quality = side["quality"]
            lines.append(
                f"  {name}: {quality['spectrum_coverage']['categories_covered']}/"
                f"{quality['spectrum_coverage']['categories_total']} categories, "
                f"{quality['complexity_coverage']['types_covered']} types, diversity "
                f"{quality['pattern_diversity']:.2f}, violations "
                f"{sum(quality['rule_violations'].values())}"
            )
    lines += ["", "💸 EFFICIENCY:"]
    for name, side in (("Old", old), ("New", new), ("Two-stage", staged)):
        if side:
            marker = " (estimated)" if side["tokens_estimated"] else ""
            lines.append(
                f"  {name}: {side['accepted']} accepted, {side['llm_calls']} LLM calls "
                f"({side['accepted_per_call']} accepted per call), {side['tokens']} tokens"
                f"{marker}, {side['seconds']} s"
            )
    return lines


def _range(spectrum: dict[str, Any]) -> str:
    if spectrum["min_score"] is None:
        return "none"
    return f"{spectrum['min_score']:.2f}-{spectrum['max_score']:.2f}"
