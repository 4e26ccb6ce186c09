"""The ollama backend through the real ChatOllama client against a loopback Ollama server."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import RetryPolicy

from spectrumgen.errors import BackendUnavailableError, TransientBackendError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.llm.ollama import TOKENS_PER_ITEM, context_window
from spectrumgen.schemas.prompts import read_scenario_lines
from tests.helpers import run_cli
from tests.llm_servers import Behaviour, OllamaHandler, serve

FAST_RETRY = RetryPolicy(
    initial_interval=0.01,
    backoff_factor=1.0,
    max_attempts=3,
    jitter=False,
    retry_on=TransientBackendError,
)


def run_graph(context: RunContext, target: int, run_id: str | None = None) -> dict[str, Any]:
    graph = build_graph(retry_policy=FAST_RETRY).compile()
    payload: dict[str, Any] = {"target": target}
    if run_id:
        payload["run_id"] = run_id
    return graph.invoke(payload, context.graph_config(), context=context)


def ollama_context(url: str, tmp_path: Path, **overrides: Any) -> RunContext:
    return RunContext(
        backend="ollama",
        base_url=url,
        db_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        out_dir=str(tmp_path / "out"),
        **overrides,
    )


def test_a_run_against_ollama_sends_the_schema_thinking_off_and_counts_real_tokens(
    tmp_path: Path,
) -> None:
    with serve(OllamaHandler) as (url, behaviour):
        result = run_graph(ollama_context(url, tmp_path), target=12)
    assert result["status"] == "complete"
    manifest = result["manifest"]
    assert manifest["models"] == [
        {
            "backend": "ollama",
            "model": "qwen3:8b",
            "role": "generate",
            "calls": manifest["llm_calls"],
        }
    ]
    assert manifest["tokens"]["estimated"] is False
    sent = behaviour.requests
    assert len(sent) == manifest["llm_calls"]
    for request in sent:
        assert request["think"] is False
        examples = request["format"]["properties"]["examples"]
        ids = [item["properties"]["scenario_id"]["const"] for item in examples["prefixItems"]]
        assert ids and examples["minItems"] == examples["maxItems"] == len(ids)
        assert request["options"]["num_ctx"] == context_window(5)
        assert request["options"]["num_predict"] == TOKENS_PER_ITEM * len(ids)
    # the server's own counts (prompt_eval_count, eval_count), not an estimate
    ledger = open_ledger(ollama_context(url, tmp_path).db_url)
    stats = ledger.run_stats(result["run_id"])
    assert stats.prompt_tokens == sum(
        len("".join(m["content"] for m in r["messages"])) // 4 for r in sent
    )
    assert stats.completion_tokens > 0
    lines = (tmp_path / "out" / "examples.jsonl").read_text().splitlines()
    assert len(lines) == 12


def test_think_tags_and_code_fences_in_the_content_are_read_through(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(wrap=True)) as (url, behaviour):
        result = run_graph(ollama_context(url, tmp_path), target=6)
    assert result["status"] == "complete"
    assert result["manifest"]["counts"]["rejected_attempts"] == 0
    assert result["manifest"]["llm_calls"] == len(behaviour.requests) == 2


def test_one_http_500_is_retried_and_the_run_completes(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(fail_statuses=[500])) as (url, behaviour):
        result = run_graph(ollama_context(url, tmp_path), target=6)
    assert result["status"] == "complete"
    # Every request the server saw is counted: the one answered 500 and retried too.
    assert len(behaviour.requests) == result["manifest"]["llm_calls"] == 3
    assert result["manifest"]["counts"]["rejected_attempts"] == 0


def test_a_server_that_keeps_failing_stops_the_run_naming_the_url(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(fail_statuses=[500] * 50)) as (url, behaviour):
        context = ollama_context(url, tmp_path)
        with pytest.raises(TransientBackendError, match=re.escape(url)):
            run_graph(context, target=6)
    assert len(behaviour.requests) >= FAST_RETRY.max_attempts


def test_a_reply_cut_off_by_num_predict_is_salvaged_and_the_rest_repaired(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(truncate_first=1)) as (url, _):
        context = ollama_context(url, tmp_path, concurrency=1)
        result = run_graph(context, target=5)
    assert result["status"] == "complete"
    ledger = open_ledger(context.db_url)
    reasons = [r["reasons"] for r in ledger.rejections(result["run_id"])]
    assert reasons and all("cut off at its token limit" in r[0] for r in reasons)
    first_batch = ledger.examples(result["run_id"])
    assert sum(1 for e in first_batch if e["attempt"] == 1) >= 1  # items before the cut kept
    assert result["manifest"]["counts"]["repairs"] == len(reasons)


def test_a_timeout_is_retried_then_stops_the_run(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(delay_seconds=1.0)) as (url, behaviour):
        context = ollama_context(url, tmp_path, request_timeout=0.2, concurrency=1)
        with pytest.raises(TransientBackendError, match=r"ReadTimeout"):
            run_graph(context, target=5)
    assert len(behaviour.requests) == FAST_RETRY.max_attempts


def test_a_model_removed_mid_run_stops_it_and_the_run_resumes(tmp_path: Path) -> None:
    behaviour = Behaviour(models={"qwen3:8b"})
    with serve(OllamaHandler, behaviour) as (url, _):
        context = ollama_context(url, tmp_path, concurrency=1)
        context.out_dir = str(tmp_path / "{run_id}")  # two runs: a folder each
        first = run_graph(context, target=5)
        assert first["status"] == "complete"
        behaviour.models.clear()  # `ollama rm` while a second run goes
        with pytest.raises(BackendUnavailableError, match="ollama pull qwen3:8b") as stopped:
            run_graph(context, target=10, run_id="second")
        assert not isinstance(stopped.value, TransientBackendError)  # a 404 is not retried
        behaviour.models.add("qwen3:8b")
        resumed = run_graph(context, target=10, run_id="second")
    assert resumed["status"] == "complete"
    ledger = open_ledger(context.db_url)
    assert ledger.run_stats("second").accepted == 10


def test_routing_sends_each_type_to_its_model_and_the_judge_scores_every_batch(
    tmp_path: Path,
) -> None:
    models = {"qwen3:8b", "qwen3:30b-a3b", "qwen3:32b"}
    with serve(OllamaHandler, Behaviour(models=models)) as (url, behaviour):
        context = ollama_context(url, tmp_path, routing="spec")
        result = run_graph(context, target=16)
    assert result["status"] == "complete"
    by_model: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    for request in behaviour.requests:
        by_model[request["model"]].append(request)

    def types(request: dict[str, Any]) -> set[object]:
        return {line["type"] for line in read_scenario_lines(request["messages"][-1]["content"])}

    assert all(types(r) == {"baseline"} for r in by_model["qwen3:8b"])
    assert all("baseline" not in types(r) for r in by_model["qwen3:30b-a3b"])
    assert by_model["qwen3:8b"] and by_model["qwen3:30b-a3b"]
    judged = by_model["qwen3:32b"]
    generated = len(by_model["qwen3:8b"]) + len(by_model["qwen3:30b-a3b"])
    assert len(judged) == generated  # one judge call per batch (every batch had accepted items)
    assert all("scores" in r["format"]["properties"] for r in judged)
    manifest = result["manifest"]
    assert {(m["model"], m["role"]) for m in manifest["models"]} == {
        ("qwen3:8b", "generate"),
        ("qwen3:30b-a3b", "generate"),
        ("qwen3:32b", "judge"),
    }
    assert manifest["routing"]["judge"] == "qwen3:32b"
    assert manifest["llm_calls"] == len(behaviour.requests)


def test_cli_with_a_missing_model_exits_4_saying_what_to_pull(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(models={"llama3:8b"})) as (url, _):
        done = run_cli(
            "run", "--backend", "ollama", "--base-url", url, "--target", "5", cwd=tmp_path
        )
    assert done.returncode == 4
    assert "ollama pull qwen3:8b" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_cli_run_against_ollama_then_resume_refuses_another_model(tmp_path: Path) -> None:
    with serve(OllamaHandler, Behaviour(models={"qwen3:8b", "qwen3:4b"})) as (url, _):
        done = run_cli(
            "run",
            "--backend",
            "ollama",
            "--base-url",
            url,
            "--target",
            "6",
            "--out",
            "O",
            "--quiet",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        manifest = json.loads((tmp_path / "O" / "manifest.json").read_text())
        assert manifest["backend"] == "ollama" and manifest["tokens"]["estimated"] is False
        again = run_cli(
            "run",
            "--resume",
            manifest["run_id"],
            "--model",
            "qwen3:4b",
            "--base-url",
            url,
            cwd=tmp_path,
        )
    assert again.returncode == 2
    assert "keeps its model" in again.stderr
