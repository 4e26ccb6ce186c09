"""A judge anyone can turn on (--judge self or MODEL), calibration, and an honest budget."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from spectrumgen.budget import ADAPTIVE, CONFIGURED, HOPELESS, INITIAL, call_budget
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import RunStats
from spectrumgen.llm.routing import resolve_routes
from spectrumgen.nodes.judge import verdict
from spectrumgen.schemas.judge import JudgeScore
from spectrumgen.schemas.spec import Spec
from tests.helpers import make_scenarios, run_cli
from tests.llm_servers import Behaviour, OllamaHandler, serve

NEVER_VALID = ("malformed", "out_of_range", "support_rule", "placeholder")


def test_judge_self_scores_every_batch_with_its_writer_and_reports_calibration(
    scripted_context: RunContext,
) -> None:
    scripted_context.routing = "judge=self"
    scripted_context.fault_rate = 0.25  # the scripted judge scores this share of first tries low
    result = build_graph().compile().invoke({"target": 24}, context=scripted_context)
    assert result["status"] == "complete"
    manifest = result["manifest"]
    assert manifest["routing"]["judge"] == "self"
    roles = {(m["model"], m["role"]) for m in manifest["models"]}
    assert roles == {("scripted-v1", "generate"), ("scripted-v1", "judge")}
    judge = manifest["judge"]
    assert judge["kept"] == 24 and judge["rejected"] >= 1
    # wrong_type: the scripted judge's low scores; off_target: a "duplicate" fault reuses the
    # previous response, whose closing phrase belongs to another target.
    assert "wrong_type" in judge["rejected_by_problem"]
    assert set(judge["rejected_by_problem"]) <= {"wrong_type", "off_target"}
    calibration = judge["calibration"]
    assert calibration["pairs"] == judge["judged"]
    assert calibration["mean_abs_diff"] <= 0.15 and calibration["correlation"] > 0.5
    lines = Path(scripted_context.out_dir or "", "examples.jsonl").read_text().splitlines()
    kept = [json.loads(line) for line in lines]
    assert all(row["judge_authenticity"] is not None for row in kept)
    # The scripted judge reads each target's closing phrase: on the examples kept, within a
    # range width of the writer. (Over all judged pairs it is lower, by how many duplicate
    # faults met which scenarios: a reused response carries another target's phrase, and the
    # judge, rightly, disagrees with the writer there; that varied with the lanes' timing.)
    writer = [row["authenticity_score"] for row in kept]
    judged = [row["judge_authenticity"] for row in kept]
    assert statistics.correlation(writer, judged) > 0.8
    assert statistics.fmean(abs(w - j) for w, j in zip(writer, judged, strict=True)) <= 0.15


def test_judge_self_against_ollama_sends_one_judge_call_per_batch_to_the_writer(
    tmp_path: Path,
) -> None:
    with serve(OllamaHandler) as (url, behaviour):
        done = run_cli(
            "run", "--backend", "ollama", "--base-url", url, "--target", "10",
            "--judge", "self", "--out", "out", "--quiet", cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    judge_calls = [r for r in behaviour.requests if "scores" in r["format"]["properties"]]
    writes = [r for r in behaviour.requests if "examples" in r["format"]["properties"]]
    assert len(judge_calls) == len(writes) >= 2
    assert {r["model"] for r in judge_calls} == {"qwen3:8b"}
    judge_prompt = judge_calls[0]["messages"][0]["content"]
    assert "0.2-0.4 failed: the response misses what the person needs" in judge_prompt
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["llm_calls"] == len(behaviour.requests)
    assert manifest["judge"]["calibration"]["pairs"] == 10


def test_the_judge_is_told_no_target_so_its_estimate_is_its_own(spec: Spec) -> None:
    from spectrumgen.schemas.prompts import judge_prompts

    scenario = make_scenarios(spec, 1)[0]
    _, user = judge_prompts(spec, [(scenario, {"response": "I can help.", "context": "x"})])
    line = json.loads(user.splitlines()[-1])
    assert "target" not in line and "authenticity_score" not in line
    assert line["type"].startswith(scenario.complexity_type)


@pytest.mark.parametrize(
    ("fit", "authenticity", "problem", "code"),
    [
        (0.9, None, "none", None),
        (0.9, "inside", "none", None),
        (0.3, "inside", "none", "wrong_type"),
        (0.9, "far", "none", "off_target"),
        (0.9, "inside", "incoherent", "incoherent"),
    ],
)
def test_the_judges_verdict_names_its_reason(
    spec: Spec, fit: float, authenticity: str | None, problem: str, code: str | None
) -> None:
    scenario = make_scenarios(spec, 1)[0]
    estimate = {
        None: None,
        "inside": scenario.authenticity_low,
        "far": 1.0 if scenario.authenticity_high < 0.75 else 0.0,
    }[authenticity]
    score = JudgeScore(scenario_id="s", fit=fit, authenticity=estimate, problem=problem)
    reason = verdict(spec, resolve_routes(spec, "judge=self", "m"), scenario, score)
    assert (reason is None) == (code is None)
    if code is not None:
        assert reason is not None and reason.startswith(f"judge: {code}: ")


def _stats(calls: int, items: int, accepted: int) -> RunStats:
    return RunStats(
        llm_calls=calls,
        items_requested=items,
        repair_items=0,
        accepted=accepted,
        rejected=items - accepted,
        prompt_tokens=0,
        completion_tokens=0,
        tokens_estimated=False,
        llm_seconds=0.0,
    )


def test_the_budget_starts_fixed_then_follows_the_acceptance_rate() -> None:
    context = RunContext()  # batch 5, concurrency 4: 64 examples start from 3 * 13 + 10 calls
    assert call_budget(context, 64, 1, _stats(2, 10, 9)) == call_budget(
        context, 64, 1, _stats(0, 0, 0)
    )
    assert call_budget(context, 64, 1, _stats(0, 0, 0)).rule == INITIAL
    assert call_budget(context, 64, 1, _stats(0, 0, 0)).calls == 49
    good = call_budget(context, 64, 1, _stats(8, 40, 36))
    assert good.rule == ADAPTIVE and good.calls == 49  # on track: never below the start
    noisy = call_budget(context, 64, 1, _stats(30, 150, 45))  # 30% pass, 19 to go
    assert noisy.rule == ADAPTIVE and 49 < noisy.calls <= 98
    hopeless = call_budget(context, 64, 1, _stats(6, 30, 1))
    assert hopeless == call_budget(context, 64, 1, _stats(6, 30, 1))
    assert hopeless.rule == HOPELESS and hopeless.calls == 6
    fixed = call_budget(RunContext(max_calls=7), 64, 1, _stats(6, 30, 0))
    assert (fixed.rule, fixed.calls) == (CONFIGURED, 7)


def test_a_hopeless_model_stops_early_with_exit_3_naming_its_top_reasons(
    tmp_path: Path,
) -> None:
    noise: dict[str, Any] = {"item_fault_rate": 1.0, "faults": NEVER_VALID}
    with serve(OllamaHandler, Behaviour(**noise)) as (url, behaviour):
        done = run_cli(
            "run", "--backend", "ollama", "--base-url", url, "--target", "64",
            "--out", "out", "--quiet", cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 3, done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["status"] == "budget_spent" and manifest["call_budget_rule"] == HOPELESS
    assert len(behaviour.requests) == manifest["llm_calls"] < 49 / 4
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("not complete: the model passed 0% of ")
    assert "stopped early" in last and "top rejection reasons: " in last
    top = [t["reason"] for t in manifest["rejections"]["top"]]
    # grounding: a broken support no longer matches the support the reasoning states.
    assert len(top) == 3 and set(top) <= {
        "invalid_item",
        "score_range",
        "support_rule",
        "placeholder",
        "grounding",
    }
    assert ": budget_spent" in done.stdout and "top rejection reasons" in done.stdout
