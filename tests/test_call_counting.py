"""Every HTTP call counted, per model and retries included, and a call budget never passed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.helpers import run_cli
from tests.llm_servers import Behaviour, OllamaHandler, serve
from tests.test_ollama_backend import ollama_context, run_graph

MODELS = {"qwen3:8b", "qwen3:30b-a3b", "qwen3:32b"}


def test_a_noisy_server_sees_exactly_the_calls_the_manifest_counts(tmp_path: Path) -> None:
    behaviour = Behaviour(models=MODELS, fail_statuses=[500, 503, 500, 500], item_fault_rate=0.2)
    with serve(OllamaHandler, behaviour) as (url, _):
        result = run_graph(ollama_context(url, tmp_path, routing="spec"), target=24)
    manifest = result["manifest"]
    seen = Counter(request["model"] for request in behaviour.requests)
    assert result["status"] == "complete"
    assert manifest["llm_calls"] == len(behaviour.requests)  # the four failed ones included
    per_model: Counter[str] = Counter()
    for entry in manifest["models"]:
        per_model[entry["model"]] += entry["calls"]
    assert per_model == seen


def test_a_wave_split_by_models_never_passes_the_call_budget(tmp_path: Path) -> None:
    # Routing splits each wave into a batch per model, more than the planner's count of items
    # per batch: the budget must still hold, exactly.
    for budget in (3, 5, 7):
        behaviour = Behaviour(models=MODELS)
        (tmp_path / str(budget)).mkdir()
        with serve(OllamaHandler, behaviour) as (url, _):
            context = ollama_context(
                url, tmp_path / str(budget), routing="spec", max_calls=budget, concurrency=8
            )
            result = run_graph(context, target=64)
        assert result["status"] != "complete"
        assert len(behaviour.requests) == result["manifest"]["llm_calls"] <= budget


def test_a_wave_of_eight_calls_is_in_flight_at_once(tmp_path: Path) -> None:
    # LangGraph's default pool on a 2-core machine is min(32, cores + 4) = 6 threads; the run's
    # concurrency must set it, or a wave of 8 goes out as 6 then 2 and never gathers.
    behaviour = Behaviour(gather=8)
    with serve(OllamaHandler, behaviour) as (url, _):
        done = run_cli(
            "run", "--backend", "ollama", "--base-url", url, "--concurrency", "8",
            "--batch-size", "1", "--target", "8", "--out", "out", "--quiet", cwd=tmp_path,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert behaviour.gathered is True
