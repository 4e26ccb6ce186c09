"""The embedded backend for real: llama-cpp-python running Gemma 3 270M in-process.

Slow (tens of seconds) but part of CI: it is the only backend a fresh machine can run for real.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from spectrumgen.coherence import check_coherence, coherence_margin
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.llm import backend_for, call_batch
from spectrumgen.llm.embedded import DEMO_NOTICE, EMBEDDED_MODEL_NAME, model_path
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.nodes.parse import parse_reply
from spectrumgen.nodes.validate import check_example
from spectrumgen.reasons import reason_code
from spectrumgen.schemas.batch import batch_json_schema
from spectrumgen.schemas.prompts import completion_document, system_prompt, user_prompt
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import Spec
from tests.helpers import run_cli

pytestmark = pytest.mark.embedded


def test_one_real_batch_is_valid_json_and_keeps_every_numeric_rule(
    spec: Spec, tmp_path: Path
) -> None:
    cells = [
        Cell(capacity_level="crisis", authenticity_target="failed", complexity_type="baseline"),
        Cell(
            capacity_level="high",
            authenticity_target="excellent",
            complexity_type="people_pleasing",
        ),
    ]
    scenarios = [
        compose_scenario(spec, cell, f"s{i}", random.Random(i)) for i, cell in enumerate(cells)
    ]
    backend = backend_for(RunContext(backend="embedded", batch_size=2))
    assert backend.model_name == EMBEDDED_MODEL_NAME and backend.notice == DEMO_NOTICE
    schema = batch_json_schema(spec, scenarios, backend.text_schemas)
    reply = call_batch(
        backend, system_prompt(spec, scenarios), user_prompt(scenarios), schema, len(scenarios)
    )
    assert not reply.tokens_estimated and reply.prompt_tokens > 100 and reply.completion_tokens > 20
    parsed = parse_reply(reply.text, [s.scenario_id for s in scenarios])
    assert set(parsed.items) == {"s0", "s1"}, reply.text
    for scenario in scenarios:
        reasons = check_example(spec, scenario, parsed.items[scenario.scenario_id])
        numeric = [r for r in reasons if r.startswith(("support_provided", "authenticity_score"))]
        assert numeric == [], reply.text


def test_a_real_embedded_run_records_gemma_and_real_tokens(tmp_path: Path) -> None:
    context = RunContext(
        backend="embedded",
        batch_size=2,
        max_calls=1,
        db_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        out_dir=str(tmp_path / "out"),
    )
    result = build_graph().compile().invoke({"target": 2}, context=context)
    manifest = result["manifest"]
    assert result["status"] in ("complete", "budget_spent", "quotas_unmet")
    assert manifest["models"] == [
        {"backend": "embedded", "model": EMBEDDED_MODEL_NAME, "role": "generate", "calls": 1}
    ]
    assert manifest["tokens"]["estimated"] is False and manifest["tokens"]["total"] > 0
    assert DEMO_NOTICE in manifest["notes"]
    assert manifest["llm_calls"] == 1
    written = (tmp_path / "out" / "examples.jsonl").read_text().splitlines()
    assert len(written) == manifest["counts"]["accepted"]


def test_the_model_file_is_assembled_once_into_the_cache(tmp_path: Path) -> None:
    first = model_path(tmp_path)
    assert first.stat().st_size > 100_000_000
    modified = first.stat().st_mtime_ns
    assert model_path(tmp_path) == first and first.stat().st_mtime_ns == modified
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no scratch left behind


def test_auto_with_no_ollama_says_so_once_in_one_line_and_runs_embedded(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "--base-url",
        "http://127.0.0.1:9",
        "--target",
        "1",
        "--batch-size",
        "1",
        "--max-calls",
        "1",
        "--out",
        "out",
        "--quiet",
        cwd=tmp_path,
    )
    assert done.returncode in (0, 3), done.stderr
    notices = [line for line in done.stderr.splitlines() if "embedded demo model" in line]
    assert len(notices) == 1 and "ollama pull qwen3:8b" in notices[0], done.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["backend"] == "embedded" and DEMO_NOTICE in manifest["notes"]


def test_the_grammar_keeps_key_order_and_opens_contexts_with_hints_holding_regex_signs(
    spec: Spec,
) -> None:
    # A hint with regex signs once made a grammar llama.cpp could not parse (the process crashed),
    # and sorted keys once made the model write scores before naming its scenario.
    cell = Cell(capacity_level="low", authenticity_target="failed", complexity_type="baseline")
    scenario = compose_scenario(spec, cell, "s0", random.Random(1)).model_copy(
        update={"hints": {"who": "Mr. Adeyemi (retired) from flat 3.2", "asks": "a lift (at 9?)"}}
    )
    backend = backend_for(RunContext(backend="embedded", batch_size=1))
    schema = batch_json_schema(spec, [scenario], backend.text_schemas)
    reply = backend.chat_model.invoke(
        [HumanMessage(completion_document(spec, [scenario], spec.exemplars[:1]))],
        json_schema=schema,
        max_tokens=60,
    )
    text = "".join(str(reply.content).split())  # the grammar allows optional spaces
    # The context states the scenario's request word for word (the coherence gate swaps it).
    assert text.startswith(
        '{"examples":[{"scenario_id":"s0","context":"Mr.Adeyemi(retired)fromflat3.2asksthe'
        "characterforalift(at9?)"
    ), text


def test_the_coherence_gate_keeps_a_reply_to_its_own_context_and_rejects_it_moved(
    spec: Spec,
) -> None:
    backend = backend_for(RunContext(backend="embedded", batch_size=1))
    assert backend.scorer is not None
    context = (
        "Dana, a coworker, asks the character to review her grant proposal before the Friday "
        "deadline, because her usual reviewer is out sick."
    )
    response = (
        "I can read the budget section and the summary tonight, Dana, but not the whole thing. "
        "Send me those two parts and I'll mark them up by nine."
    )
    moved = (
        "Late at night, Ruth, an old friend, calls asking the character to talk her through "
        "another fight with her landlord for the third time this week."
    )
    own = coherence_margin(spec, backend.scorer, context, response)
    elsewhere = coherence_margin(spec, backend.scorer, moved, response)
    assert own is not None and elsewhere is not None
    assert own > elsewhere + 0.2, (own, elsewhere)
    assert check_coherence(spec, backend.scorer, context, response) == []
    [reason] = check_coherence(spec, backend.scorer, moved, response)
    assert reason_code(reason) == "incoherent" and "nats per token" in reason
    # Scoring leaves the model as it was: the same call gives the same number.
    assert coherence_margin(spec, backend.scorer, context, response) == pytest.approx(own)
