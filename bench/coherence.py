"""Does the coherence gate tell a response under its own context from the same one moved?

    python bench/coherence.py [--rows N]

Takes the labelled set's good rows (hand-written context/response pairs that answer each other),
and for each also the same response under the context of another row (row i+7: a well-formed,
on-topic non sequitur, the embedded model's commonest failure once the text gates pass). The
embedded model scores both (`spectrumgen.coherence`); the table gives, per threshold, the share of
matched pairs kept and of moved pairs rejected, and the seconds per check. Prints the table and
writes bench/results/coherence.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from spectrumgen.coherence import coherence_margin  # noqa: E402
from spectrumgen.llm.embedded import embedded_chat_model  # noqa: E402
from spectrumgen.specs import load_spec  # noqa: E402
from spectrumgen.text_gates import labelled_rows  # noqa: E402

LABELLED = ROOT / "tests" / "data" / "text_quality_labelled.jsonl"
THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2)
SHIFT = 7


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=0, help="only the first N good rows")
    args = parser.parse_args()
    spec = load_spec("emotional_authenticity")
    chosen = spec.example_rules.text_quality.min_coherence_margin
    model = embedded_chat_model(seed=0, batch_size=1)
    good = [row for row in labelled_rows(LABELLED) if row["label"] == "good"]
    good = good[: args.rows] if args.rows else good
    matched, moved = [], []
    started = time.perf_counter()
    for i, row in enumerate(good):
        other = good[(i + SHIFT) % len(good)]
        for margins, context in ((matched, row["context"]), (moved, other["context"])):
            margin = coherence_margin(spec, model.reply_logprob, context, row["response"])
            assert margin is not None
            margins.append(margin)
        print(f"{row['id']}: own {matched[-1]:+.3f}, moved {moved[-1]:+.3f}", file=sys.stderr)
    seconds = (time.perf_counter() - started) / (2 * len(good))
    lines = [
        f"Coherence gate (`spectrumgen.coherence`, embedded Gemma 3 270M) on the {len(good)} good "
        f"rows of {LABELLED.relative_to(ROOT)}: each response under its own context (matched) and "
        f"under the context {SHIFT} rows on (moved: on-topic, well-formed, no answer). Margin: "
        "mean log-probability per response token after its own context minus after the likeliest "
        f"of {spec.example_rules.text_quality.coherence_distractors} exemplar contexts, nats.",
        "",
        "| min margin | matched kept | moved rejected | precision of kept |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for threshold in sorted({*THRESHOLDS, chosen or 0.0}):
        kept = sum(m >= threshold for m in matched)
        let_through = sum(m >= threshold for m in moved)
        rejected = len(moved) - let_through
        precision = kept / (kept + let_through) if kept + let_through else 1.0
        mark = " (spec)" if threshold == chosen else ""
        lines.append(
            f"| {threshold:+.2f}{mark} | {kept}/{len(matched)} | {rejected}/{len(moved)} | "
            f"{precision:.2f} |"
        )
    lines += [
        "",
        f"Margins, matched: median {sorted(matched)[len(matched) // 2]:+.3f}, lowest "
        f"{min(matched):+.3f}; moved: median {sorted(moved)[len(moved) // 2]:+.3f}, highest "
        f"{max(moved):+.3f}. {seconds:.2f} s per check (own context and "
        f"{spec.example_rules.text_quality.coherence_distractors} distractors, 2 cores).",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.rows:
        (ROOT / "bench" / "results" / "coherence.md").write_text(text)


if __name__ == "__main__":
    main()
