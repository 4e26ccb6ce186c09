"""The openai backend through the real ChatOpenAI client against a loopback OpenAI-compatible
server (as vLLM, llama.cpp's server or LM Studio serve it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.types import RetryPolicy

from spectrumgen.errors import BackendUnavailableError, TransientBackendError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.llm import choose_backend
from tests.llm_servers import Behaviour, OpenAIHandler, serve

FAST_RETRY = RetryPolicy(
    initial_interval=0.01, max_attempts=3, jitter=False, retry_on=TransientBackendError
)


def openai_context(url: str, tmp_path: Path) -> RunContext:
    return RunContext(
        backend="openai",
        model="Qwen/Qwen3-8B",
        base_url=f"{url}/v1",
        db_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        out_dir=str(tmp_path / "out"),
    )


def test_a_run_against_an_openai_compatible_server_uses_a_json_schema_response_format(
    tmp_path: Path,
) -> None:
    behaviour = Behaviour(models={"Qwen/Qwen3-8B"}, fail_statuses=[503])
    with serve(OpenAIHandler, behaviour) as (url, _):
        context = openai_context(url, tmp_path)
        result = (
            build_graph(retry_policy=FAST_RETRY).compile().invoke({"target": 8}, context=context)
        )
    assert result["status"] == "complete"
    manifest = result["manifest"]
    # Every request the server saw is counted, the one answered 503 and retried included.
    assert len(behaviour.requests) == manifest["llm_calls"]
    assert manifest["models"] == [
        {
            "backend": "openai",
            "model": "Qwen/Qwen3-8B",
            "role": "generate",
            "calls": len(behaviour.requests),
        }
    ]
    for request in behaviour.requests:
        response_format = request["response_format"]
        assert response_format["type"] == "json_schema"
        assert "prefixItems" in response_format["json_schema"]["schema"]["properties"]["examples"]
        assert request["max_completion_tokens"] > 0  # langchain-openai's name for max_tokens
    stats = open_ledger(context.db_url).run_stats(result["run_id"])
    assert stats.prompt_tokens > 0 and stats.tokens_estimated is False


def test_usage_missing_from_the_server_is_estimated_and_marked(tmp_path: Path) -> None:
    behaviour = Behaviour(models={"Qwen/Qwen3-8B"}, report_usage=False)
    with serve(OpenAIHandler, behaviour) as (url, _):
        result = (
            build_graph().compile().invoke({"target": 5}, context=openai_context(url, tmp_path))
        )
    assert result["manifest"]["tokens"]["estimated"] is True
    assert result["manifest"]["tokens"]["total"] > 0


def test_an_unknown_model_or_no_server_is_refused_before_the_run(tmp_path: Path) -> None:
    with serve(OpenAIHandler, Behaviour(models={"other"})) as (url, _):
        context = openai_context(url, tmp_path)
        with pytest.raises(BackendUnavailableError, match="Qwen/Qwen3-8B is not served"):
            choose_backend(context)
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:9/v1"):
        choose_backend(openai_context("http://127.0.0.1:9", tmp_path))
