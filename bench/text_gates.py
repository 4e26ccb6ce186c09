"""Precision and recall of each text-quality gate on the labelled set.

    python bench/text_gates.py

Reads tests/data/text_quality_labelled.jsonl (hand-written examples, each "good" or labelled with
the gate it should trip; a bad row names a good `base` row and replaces one field), applies the
built-in spec's gates, prints a table and writes bench/results/text_gates.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spectrumgen.schemas.example import TEXT_FIELDS as FIELDS  # noqa: E402
from spectrumgen.specs import load_spec  # noqa: E402
from spectrumgen.text_gates import labelled_rows, precision_recall  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "text_quality_labelled.jsonl"


def table_lines(title: str, rows: list[dict[str, str]]) -> list[str]:
    rules = load_spec("emotional_authenticity").example_rules.text_quality
    table = precision_recall(rules, rows, FIELDS)
    good = sum(row["label"] == "good" for row in rows)
    lines = [
        f"{title}: {len(rows)} examples, {good} good, {len(rows) - good} bad.",
        "",
        "| gate | labelled | flagged | precision | recall |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for gate, row in table.items():
        lines.append(
            f"| {gate} | {row['labelled']} | {row['flagged']} | {row['precision']:.2f} | "
            f"{row['recall']:.2f} |"
        )
    return [*lines, ""]


def main() -> None:
    rows = labelled_rows(LABELLED)
    tuning = [row for row in rows if row.get("split") != "held_out"]
    held_out = [row for row in rows if row.get("split") == "held_out"]
    lines = [
        f"Text-quality gates (built-in spec's thresholds) on {LABELLED.relative_to(ROOT)}. "
        "Precision: of the examples a gate flags, the share that are bad (any kind); recall: of "
        "the examples labelled with the gate, the share it flags; gates overlap (a loop is "
        "often repetition and low variety both).",
        "",
        *table_lines("Tuning set (the thresholds were set on it)", tuning),
        *table_lines("Held out (written after the thresholds were fixed)", held_out),
    ]
    text = "\n".join(lines).rstrip() + "\n"
    print(text)
    (ROOT / "bench" / "results" / "text_gates.md").write_text(text)


if __name__ == "__main__":
    main()
