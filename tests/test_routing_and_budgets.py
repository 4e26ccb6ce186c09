"""Model routing, the judge, the token budget, the per-batch schema and `auto`'s choice."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from spectrumgen.errors import BadInputError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.llm import choose_backend
from spectrumgen.llm.embedded import embedded_available
from spectrumgen.llm.routing import resolve_routes
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.schemas.batch import batch_json_schema, steps
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import Spec
from tests.llm_servers import OllamaHandler, serve


def test_routing_follows_the_spec_table_and_command_line_entries_override_it(spec: Spec) -> None:
    plain = resolve_routes(spec, "", "qwen3:8b")
    assert plain.models() == ["qwen3:8b"] and plain.judge is None
    seeded = resolve_routes(spec, "spec", "qwen3:8b")
    assert seeded.model_for("baseline") == "qwen3:8b"
    assert seeded.model_for("mixed_emotions") == "qwen3:30b-a3b"
    assert seeded.judge == "qwen3:32b"
    custom = resolve_routes(spec, "spec,judge=qwen3:14b,defensive_lashing=qwen3:4b", "m")
    assert custom.judge == "qwen3:14b" and custom.model_for("defensive_lashing") == "qwen3:4b"
    assert custom.model_for("people_pleasing") == "qwen3:30b-a3b"
    with pytest.raises(BadInputError, match="not one of"):
        resolve_routes(spec, "sarcasm=qwen3:8b", "m")
    with pytest.raises(BadInputError, match="TYPE=MODEL"):
        resolve_routes(spec, "qwen3:8b", "m")


def test_a_low_judge_score_sends_the_example_to_repair(scripted_context: RunContext) -> None:
    scripted_context.routing = "judge=scripted-judge"
    scripted_context.fault_rate = 0.4  # the scripted judge also scores this share of items low
    result = build_graph().compile().invoke({"target": 16}, context=scripted_context)
    assert result["status"] == "complete"
    ledger = open_ledger(scripted_context.db_url)
    reasons = [r["reasons"][0] for r in ledger.rejections(result["run_id"])]
    judged_out = [r for r in reasons if r.startswith("judge: wrong_type")]
    assert judged_out, reasons
    assert all("below 0.6" in r for r in judged_out)
    roles = {m["role"] for m in result["manifest"]["models"]}
    assert roles == {"generate", "judge"}
    # judge calls are LLM calls too: the default budget doubles
    initial = 2 * (3 * 4 + 10)  # judge calls count: two calls per batch
    assert result["manifest"]["call_budget_rule"] == "adaptive"
    assert initial <= result["manifest"]["call_budget"] <= 2 * initial


def test_the_token_budget_stops_the_run_with_what_it_has(scripted_context: RunContext) -> None:
    scripted_context.max_tokens = 2_000
    scripted_context.concurrency = 1
    result = build_graph().compile().invoke({"target": 40}, context=scripted_context)
    assert result["status"] == "budget_spent"
    manifest = result["manifest"]
    assert manifest["tokens"]["total"] >= 2_000
    per_call = manifest["tokens"]["total"] / manifest["llm_calls"]
    assert manifest["tokens"]["total"] < 2_000 + 2 * per_call  # at most the wave in flight over
    assert 0 < manifest["counts"]["accepted"] < 40
    assert manifest["tokens"]["budget"] == 2_000


def test_the_batch_schema_pins_ids_and_allows_only_values_the_rules_allow(spec: Spec) -> None:
    cell = Cell(capacity_level="crisis", authenticity_target="failed", complexity_type="baseline")
    scenario = compose_scenario(spec, cell, "s7", random.Random(3))
    schema = batch_json_schema(spec, [scenario])
    item = schema["properties"]["examples"]["prefixItems"][0]["properties"]
    assert item["scenario_id"]["const"] == "s7"
    assert max(item["support_provided"]["enum"]) <= scenario.support_ceiling
    scores = item["authenticity_score"]["enum"]
    assert min(scores) >= scenario.authenticity_low and max(scores) <= scenario.authenticity_high
    assert item["context"]["minLength"] == spec.example_rules.min_text_chars
    assert steps(0.2, 0.4, 0.05) == [0.2, 0.25, 0.3, 0.35, 0.4]
    assert steps(0.0, 2.6, 0.5) == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def test_auto_uses_ollama_when_it_has_the_model(tmp_path: Path) -> None:
    with serve(OllamaHandler) as (url, _):
        assert choose_backend(RunContext(base_url=url)).name == "ollama"


@pytest.mark.skipif(not embedded_available(), reason="needs the embedded extra")
def test_auto_falls_back_to_embedded_with_a_notice_saying_how_to_use_ollama() -> None:
    choice = choose_backend(RunContext(base_url="http://127.0.0.1:9"))
    assert choice.name == "embedded"
    assert choice.notice is not None
    assert "http://127.0.0.1:9" in choice.notice and "ollama pull qwen3:8b" in choice.notice
