"""Export accepted examples from the ledger as JSON lines, Parquet or a Hugging Face dataset.

Every export is a folder: the data, and a dataset card (README.md) stating the spec, the models,
the counts per bucket and the quality analysis. `chat=True` writes each example as a
system/user/assistant conversation for fine-tuning, its parameters kept beside the messages.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from spectrumgen.analysis import quality_analysis
from spectrumgen.dataset import claim_folder
from spectrumgen.errors import BadInputError
from spectrumgen.ledger import Ledger
from spectrumgen.schemas.spec import AXIS_NAMES, Spec

FORMATS = ("jsonl", "parquet", "hf")
DATA_FILES = {"jsonl": "data.jsonl", "parquet": "data.parquet", "hf": "hf"}


def collect_examples(ledger: Ledger, spec: Spec, run_ids: list[str] | None) -> list[dict[str, Any]]:
    """The accepted examples of the given runs, or of every run of the spec.

    Raises:
        BadInputError: a run that is not in the ledger, or one made with another spec.
    """
    chosen = run_ids or ledger.run_ids(spec.name)
    records: list[dict[str, Any]] = []
    for run_id in chosen:
        run = ledger.get_run(run_id)
        if run is None:
            raise BadInputError(f"no run {run_id} in the ledger {ledger.url}")
        if run.spec_name != spec.name:
            raise BadInputError(f"run {run_id} was made with spec {run.spec_name}, not {spec.name}")
        records += ledger.examples(run_id)
    return records


REASONING_STYLES = ("none", "think", "field")


def chat_messages(
    spec: Spec, record: dict[str, Any], reasoning: str = "none"
) -> list[dict[str, str]]:
    """One example as a conversation: the character's rules, the situation, the response.

    `reasoning` carries the example's reasoning for models trained to reason before they answer:
    "think" puts it in the assistant message inside <think>...</think> before the response (the
    Qwen3 and DeepSeek-R1 chat format), "field" as the assistant's `reasoning_content`.
    """
    rule = spec.support_rule
    target = spec.authenticity(record["authenticity_target"])
    complexity = spec.complexity(record["complexity_type"])
    system = (
        f"You play {_sentence(spec.character)} At capacity X out of 10 you can give at most "
        f"min({rule.maximum:g}, X + {rule.capacity_offset:g}) support. Stay in character."
    )
    user = (
        f"{record['context'].strip()}\n\n[Your capacity: {record['effective_capacity']:g}/10. "
        f"Support needed: {record['support_needed']:g}/10. Respond as {target.name} "
        f"({target.description}), {complexity.name.replace('_', ' ')} "
        f"({complexity.description.lower()}).]"
    )
    assistant: dict[str, str] = {"role": "assistant", "content": record["response"]}
    if reasoning == "think":
        assistant["content"] = f"<think>\n{record['reasoning']}\n</think>\n\n{record['response']}"
    elif reasoning == "field":
        assistant["reasoning_content"] = record["reasoning"]
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
        assistant,
    ]


def _sentence(text: str) -> str:
    """Text as one sentence: folded white space, a full stop at the end."""
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


def export_dataset(
    spec: Spec,
    records: list[dict[str, Any]],
    fmt: str,
    out: str | Path,
    chat: bool = False,
    models: list[str] | None = None,
    reasoning: str = "none",
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write the examples and a dataset card to the folder `out`; returns what was written.

    Files an earlier export wrote there are replaced; anything else is left alone unless
    `overwrite` (see `spectrumgen.dataset.claim_folder`).

    Raises:
        BadInputError: an unknown format, nothing to export, or a folder holding files
            spectrumgen did not write.
    """
    if fmt not in FORMATS:
        raise BadInputError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if reasoning not in REASONING_STYLES:
        raise BadInputError(
            f"unknown reasoning style {reasoning!r}; choose one of {', '.join(REASONING_STYLES)}"
        )
    if not records:
        raise BadInputError(f"no accepted examples of spec {spec.name} to export")
    folder = Path(out)
    claim_folder(folder, "export", [DATA_FILES[fmt], "README.md"], overwrite)
    rows = [
        {
            "messages": chat_messages(spec, r, reasoning),
            **{k: v for k, v in r.items() if k != "response"},
        }
        if chat
        else r
        for r in records
    ]
    data = folder / DATA_FILES[fmt]
    if fmt == "jsonl":
        data.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), data)
    else:
        from datasets import Dataset

        Dataset.from_list(rows).save_to_disk(str(data))
    analysis = quality_analysis(spec, records)
    used_models = models or sorted({f"{r['backend']}/{r['model']}" for r in records})
    card = dataset_card(spec, records, analysis, used_models, fmt, chat)
    (folder / "README.md").write_text(card)
    return {"data": str(data), "card": str(folder / "README.md"), "rows": len(rows)}


def dataset_card(
    spec: Spec,
    records: list[dict[str, Any]],
    analysis: dict[str, Any],
    models: list[str],
    fmt: str,
    chat: bool,
) -> str:
    """The README.md of an export: spec, models, counts per bucket, quality analysis."""
    lines = [
        "---",
        f"pretty_name: {spec.name}",
        "task_categories: [text-generation]",
        f"size_categories: [{'n<1K' if len(records) < 1000 else '1K<n<10K'}]",
        "---",
        "",
        f"# {spec.name} (spec version {spec.version}, hash {spec.content_hash()})",
        "",
        spec.description.strip() or spec.character.strip(),
        "",
        f"Generated by spectrumgen: {len(records)} examples, format `{fmt}`"
        + (", chat messages (system/user/assistant)" if chat else "")
        + ".",
        "",
        "## Models",
        "",
        *[f"- {model}" for model in models],
        "",
    ]
    if any("embedded" in model for model in models):
        lines += [
            "**Demo data**: written by a small embedded base model to demonstrate the loop; "
            "not production data.",
            "",
        ]
    lines += ["## Examples per bucket", ""]
    for axis in AXIS_NAMES:
        counts = Counter(r[axis] for r in records)
        lines.append(
            f"- **{axis}**: " + ", ".join(f"{b} {counts[b]}" for b in spec.bucket_names(axis))
        )
    spectrum = analysis["spectrum_coverage"]
    validation = analysis["systematic_validation"]
    lines += [
        "",
        "## Quality analysis",
        "",
        f"- authenticity categories covered: {spectrum['categories_covered']}/"
        f"{spectrum['categories_total']}, scores {spectrum['min_score']}-{spectrum['max_score']}",
        f"- complexity types covered: {analysis['complexity_coverage']['types_covered']}/"
        f"{analysis['complexity_coverage']['types_total']}",
        f"- capacity balanced: {analysis['capacity_balance']['balanced']}",
        f"- pattern diversity (1 - mean pairwise response similarity): "
        f"{analysis['pattern_diversity']}",
        f"- rule violations: {analysis['rule_violations'] or 'none'}",
        f"- meets spectrum requirements: {validation['meets_spectrum_requirements']}",
        f"- cells covered: {validation['cells_covered']}/{validation['cells_total']}",
        "",
    ]
    return "\n".join(lines)
