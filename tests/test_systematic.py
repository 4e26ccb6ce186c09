"""The seed's Python API: every snippet of the seed runs with only its import lines changed."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from spectrumgen.ledger import open_ledger
from tests.seed_snippets import SNIPPETS

OLD_MODULES = re.compile(
    r"^from unwritten\.training\.(systematic_generator|config_enhanced|multi_step_systematic) "
    r"import ",
    re.MULTILINE,
)


def ported(snippet: str) -> str:
    """The snippet with its imports pointed at spectrumgen, and nothing else changed."""
    changed = OLD_MODULES.sub("from spectrumgen.systematic import ", snippet)
    assert [a for a in snippet.splitlines() if a not in changed.splitlines()] == [
        line for line in snippet.splitlines() if line.startswith("from unwritten.")
    ]
    return changed


def run(name: str, namespace: dict[str, Any]) -> str:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(ported(SNIPPETS[name]), f"<seed:{name}>", "exec"), namespace)
    return printed.getvalue()


@pytest.fixture
def seed_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    db_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("SPECTRUMGEN_BACKEND", "scripted")
    monkeypatch.setenv("SPECTRUMGEN_DB", db_url)
    monkeypatch.setenv("SPECTRUMGEN_OUT", str(tmp_path / "out"))
    return db_url


def test_usage_examples_basic_then_multi_step(seed_environment: str, tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    printed = run("basic", namespace)
    assert "Total combinations tracked: " in printed
    results = namespace["results"]
    assert results["status"] == "complete" and len(results["examples"]) == 100
    assert results["manifest"]["settings"]["batch_size"] == 8
    report = namespace["coverage_report"]
    assert report["total_examples_generated"] == 100
    assert sum(report["authenticity_coverage"].values()) == 100

    printed = run("multi_step", namespace)
    assert "✅ Full spectrum coverage achieved!" in printed or "⚠️ Gaps remaining" in printed
    samples = namespace["samples"]
    assert len(samples) == 5
    analysis = namespace["quality_analysis"]
    assert set(analysis["systematic_validation"]) >= {
        "meets_spectrum_requirements",
        "missing_combinations",
    }
    saved = json.loads((tmp_path / "out" / "systematic_multi_step_batch_000.json").read_text())
    assert len(saved["samples"]) == 5
    # two stages: situations in one call, responses in another
    ledger = open_ledger(seed_environment)
    run_id = samples[0]["run_id"]
    assert ledger.run_stats(run_id).llm_calls == 2


def test_migration_guide_and_batch_processing(seed_environment: str) -> None:
    namespace: dict[str, Any] = {}
    run("migration_new", namespace)
    assert len(namespace["batch"]) == 8
    run("batch_processing_new", namespace)
    scenarios, batch = namespace["scenarios"], namespace["batch"]
    assert len(scenarios) == 5 and {s["scenario_id"] for s in scenarios} == {
        e["scenario_id"] for e in batch
    }
    stats = open_ledger(seed_environment).run_stats(batch[0]["run_id"])
    assert stats.llm_calls == 1 and stats.accepted == 5  # ONE call for all 5

    namespace["examples"] = batch
    printed = run("quality_monitoring", namespace)
    assert "Coverage gaps detected" in printed  # 13 examples cannot fill 128 cells
    assert namespace["quality_analysis"]["gaps"]


def test_future_enhancement_configs_take_effect(seed_environment: str) -> None:
    namespace: dict[str, Any] = {}
    # these two snippets lean on the Usage Examples' import, so that import comes first
    exec(
        ported("from unwritten.training.config_enhanced import initialize_enhanced_config\n"),
        namespace,
    )
    run("numerical_grounding", namespace)
    spec = namespace["config"].to_spec()
    assert spec.numerical_grounding.require_calculation_steps is True
    assert spec.numerical_grounding.require_qualitative_anchors is True
    run("model_routing", namespace)
    config = namespace["config"]
    routing = config.to_spec().model_routing
    assert routing.by_complexity == {"baseline": "qwen3:8b"}
    assert routing.default == "qwen3:30b-a3b" and routing.judge == "qwen3:32b"
    assert config.context().routing == "spec"


def test_a_grounded_config_runs_and_every_example_shows_its_numbers(seed_environment: str) -> None:
    from spectrumgen.systematic import SystematicParameterGenerator, initialize_enhanced_config

    config = initialize_enhanced_config(
        {
            "numerical_grounding": {
                "require_calculation_steps": True,
                "require_qualitative_anchors": True,
            }
        }
    )
    results = SystematicParameterGenerator(config).run_systematic_production_cycle(16)
    assert results["status"] == "complete"
    assert results["quality_analysis"]["rule_violations"] == {}
    for example in results["examples"]:
        assert f"Capacity {example['effective_capacity']:g}/10" in example["reasoning"]


def test_the_seeds_quick_start_runs_and_prints_what_it_promises(seed_environment: str) -> None:
    namespace: dict[str, Any] = {}
    printed = run("quick_start_generate", namespace)
    assert printed == "✅ Generated 100 examples\n"
    results = namespace["results"]
    assert results["emotional_authenticity"] == results["examples"]  # keyed by data type
    printed = run("quick_start_coverage", namespace)
    assert printed.startswith("Coverage: {") and "'total_examples_generated': 100" in printed
