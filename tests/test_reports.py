"""The seed's reports and tools: coverage report and plot, quality analysis, compare, export."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_from_disk

from spectrumgen.analysis import coverage_report, pattern_diversity, quality_analysis
from spectrumgen.export import chat_messages
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.schemas.spec import Spec
from spectrumgen.text_gates import words
from tests.helpers import run_cli


def run_scripted(context: RunContext, target: int) -> str:
    return str(build_graph().compile().invoke({"target": target}, context=context)["run_id"])


def test_coverage_report_counts_every_cell_and_lists_the_gaps(
    scripted_context: RunContext, spec: Spec
) -> None:
    run_scripted(scripted_context, 64)
    ledger = open_ledger(scripted_context.db_url)
    report = coverage_report(ledger, spec)
    assert report["total_examples_generated"] == 64
    assert sum(report["authenticity_coverage"].values()) == 64
    assert sum(report["capacity_coverage"].values()) == 64
    assert report["complexity_coverage"]["baseline"] == 8
    tracked = report["total_combinations_tracked"]
    assert len(report["gaps_to_fill"]) == 128 - tracked
    assert report["avg_per_combination"] == round(64 / tracked, 2)
    twice = coverage_report(ledger, spec, per_cell=2)
    assert sum(g["count"] for g in twice["gaps_to_fill"]) == 2 * 128 - sum(
        min(2, n) for n in ledger.coverage_counts(spec.name).values()
    )


def test_quality_analysis_finds_what_a_lopsided_dataset_lacks(
    scripted_context: RunContext, spec: Spec
) -> None:
    run_id = run_scripted(scripted_context, 32)
    records = open_ledger(scripted_context.db_url).examples(run_id)
    good = quality_analysis(spec, records, target=32)
    assert good["spectrum_coverage"]["categories_covered"] == 4
    assert good["complexity_coverage"]["types_covered"] == 8
    assert good["systematic_validation"]["meets_spectrum_requirements"] is True
    assert good["rule_violations"] == {}
    # Lowest capacity first: its ceiling is below 10 whatever order the lanes recorded in.
    lopsided = sorted(
        (r for r in records if r["authenticity_target"] == "excellent"),
        key=lambda r: r["effective_capacity"],
    )
    assert spec.support_rule.ceiling(lopsided[0]["effective_capacity"]) < 10.0
    lopsided[0] = {**lopsided[0], "support_provided": 10.0}  # past its ceiling
    lopsided[1] = {**lopsided[1], "response": "I " + "sorry, " * 10 + "sorry."}  # a loop
    bad = quality_analysis(spec, lopsided)
    assert bad["spectrum_coverage"]["categories_covered"] == 1
    assert bad["systematic_validation"]["meets_spectrum_requirements"] is False
    assert bad["rule_violations"] == {
        "support_rule": 1,
        "grounding": 1,  # its reasoning still states the gap of the support it had
        "repetition": 1,
        "low_variety": 1,
        "word_salad": 1,
    }
    assert good["text"]["flagged_share"]["repetition"] == 0.0
    assert bad["text"]["flagged_share"]["repetition"] == round(1 / len(lopsided), 3)
    doubled = quality_analysis(spec, records + records)["text"]["distinct_2"]["response"]
    assert doubled == pytest.approx(good["text"]["distinct_2"]["response"] / 2, abs=0.002)
    mean_words = sum(len(words(r["reasoning"])) for r in records) / len(records)
    assert good["text"]["mean_words"]["reasoning"] == round(mean_words, 1)
    assert {"capacity": "crisis", "authenticity": "failed", "complexity": "baseline"} in bad[
        "systematic_validation"
    ]["missing_combinations"]


def test_pattern_diversity_is_zero_for_copies_and_high_for_different_texts() -> None:
    assert pattern_diversity(["same words here"] * 5) == 0.0
    different = ["I cannot come tonight.", "Sure, whatever you need!", "Stop asking me that."]
    assert pattern_diversity(different) > 0.5


def test_coverage_command_prints_json_and_draws_a_plot(tmp_path: Path) -> None:
    assert (
        run_cli(
            "run", "--backend", "scripted", "--target", "16", "--quiet", cwd=tmp_path
        ).returncode
        == 0
    )
    done = run_cli("coverage", "--json", "--plot", "cov.png", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["total_examples_generated"] == 16
    assert (tmp_path / "cov.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_reports_both_approaches_side_by_side(tmp_path: Path) -> None:
    done = run_cli(
        "compare", "--samples", "20", "--backend", "scripted", "--output", "cmp.json", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "📊 AUTHENTICITY SPECTRUM COVERAGE:" in done.stdout
    assert "🔧 COMPLEXITY FACTOR COVERAGE:" in done.stdout
    report = json.loads((tmp_path / "cmp.json").read_text())
    old, new = report["old"], report["new"]
    assert old["llm_calls"] == 20 and new["llm_calls"] == 4  # 1 per example vs 5 per call
    assert old["quality"]["complexity_coverage"]["types_covered"] == 1
    assert new["quality"]["complexity_coverage"]["types_covered"] == 8
    assert new["accepted"] == 20
    staged = run_cli(
        "compare",
        "--samples",
        "10",
        "--backend",
        "scripted",
        "--skip-old",
        "--two-stage",
        "--output",
        "staged.json",
        cwd=tmp_path,
    )
    assert staged.returncode == 0 and "Old approach" not in staged.stdout
    assert "🧩 TWO-STAGE" in staged.stdout
    both = json.loads((tmp_path / "staged.json").read_text())
    assert "old" not in both
    assert both["two_stage"]["llm_calls"] == 2 * both["new"]["llm_calls"] == 4
    assert both["two_stage"]["accepted"] == both["new"]["accepted"] == 10


def test_export_writes_each_format_with_a_dataset_card(tmp_path: Path) -> None:
    assert (
        run_cli(
            "run", "--backend", "scripted", "--target", "12", "--quiet", cwd=tmp_path
        ).returncode
        == 0
    )
    for fmt in ("jsonl", "parquet", "hf"):
        done = run_cli("export", "--format", fmt, "--out", f"x-{fmt}", "--chat", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        card = (tmp_path / f"x-{fmt}" / "README.md").read_text()
        assert "emotional_authenticity" in card and "scripted/scripted-v1" in card
        assert "complexity types covered: " in card
    rows = [json.loads(line) for line in (tmp_path / "x-jsonl" / "data.jsonl").open()]
    assert len(rows) == 12
    assert [m["role"] for m in rows[0]["messages"]] == ["system", "user", "assistant"]
    thinking = run_cli("export", "--out", "think", "--chat", "--reasoning", "think", cwd=tmp_path)
    assert thinking.returncode == 0, thinking.stderr
    first = json.loads((tmp_path / "think" / "data.jsonl").read_text().splitlines()[0])
    assert first["messages"][2]["content"].startswith("<think>\nCapacity ")
    assert pq.read_table(tmp_path / "x-parquet" / "data.parquet").num_rows == 12
    assert len(load_from_disk(str(tmp_path / "x-hf" / "hf"))) == 12
    plain = run_cli("export", "--format", "jsonl", "--out", "plain", cwd=tmp_path)
    assert plain.returncode == 0
    first = json.loads((tmp_path / "plain" / "data.jsonl").read_text().splitlines()[0])
    assert "messages" not in first and first["response"]
    missing = run_cli("export", "--format", "csv", "--out", "bad", cwd=tmp_path)
    assert missing.returncode == 2 and "choose one of jsonl, parquet, hf" in missing.stderr


def test_quality_command_reads_a_run_or_a_dataset_and_the_manifest_carries_it(
    tmp_path: Path,
) -> None:
    made = run_cli("run", "--backend", "scripted", "--target", "24", "--quiet", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((tmp_path / "spectrumgen-out" / "manifest.json").read_text())
    in_manifest = manifest["quality"]
    assert in_manifest["complexity_coverage"]["types_covered"] == 8
    assert in_manifest["systematic_validation"]["missing_combinations_total"] == 128 - len(
        {
            (r["capacity_level"], r["authenticity_target"], r["complexity_type"])
            for r in map(json.loads, (tmp_path / "spectrumgen-out" / "examples.jsonl").open())
        }
    )
    from_ledger = run_cli("quality", "--run", manifest["run_id"], "--json", cwd=tmp_path)
    from_file = run_cli(
        "quality", "--dataset", "spectrumgen-out/examples.jsonl", "--json", cwd=tmp_path
    )
    assert from_ledger.returncode == from_file.returncode == 0, from_file.stderr
    assert json.loads(from_ledger.stdout) == json.loads(from_file.stdout)
    assert json.loads(from_file.stdout)["pattern_diversity"] == in_manifest["pattern_diversity"]
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    broken = run_cli("quality", "--dataset", "broken.jsonl", cwd=tmp_path)
    assert broken.returncode == 2 and "not a JSON-lines dataset" in broken.stderr


def test_chat_messages_read_as_training_data_and_can_carry_the_reasoning(spec: Spec) -> None:
    record = {
        "context": "Mara asks the character to help her move flats on Saturday.",
        "response": "I can carry boxes for two hours, Mara, then I need to rest.",
        "reasoning": "Capacity 3 allows up to 5 support and Mara needs 6, a gap of 1.",
        "effective_capacity": 3.0,
        "support_needed": 6.0,
        "authenticity_target": "struggling",
        "complexity_type": "mixed_emotions",
    }
    system, user, assistant = chat_messages(spec, record)
    assert "someone who asks for help. At capacity X out of 10" in system["content"]
    assert "  " not in system["content"] and "\n" not in system["content"]
    assert (
        user["content"].startswith(record["context"]) and "Your capacity: 3/10" in user["content"]
    )
    assert assistant == {"role": "assistant", "content": record["response"]}
    thinking = chat_messages(spec, record, reasoning="think")[2]["content"]
    assert thinking == f"<think>\n{record['reasoning']}\n</think>\n\n{record['response']}"
    field = chat_messages(spec, record, reasoning="field")[2]
    assert field["content"] == record["response"]
    assert field["reasoning_content"] == record["reasoning"]
