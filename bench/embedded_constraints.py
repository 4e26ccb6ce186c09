"""How often the embedded model's items pass the rules, with the loose and the tightened schema.

Same scenarios, same model, same seed; only the JSON schema that becomes the llama.cpp grammar
differs:
  loose  - the plain reply schema (`BatchReply`): any ids, any numbers, any text;
  tight  - `batch_json_schema`: one item per scenario with its id fixed, support and score as
           the values the scenario's rules allow, texts as words (the embedded backend's).

Usage: python bench/embedded_constraints.py [--batches 4] [--batch-size 3] [--out FILE]
Prints a table (and writes it to --out, default bench/results/embedded_constraints.md).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from spectrumgen.graph.context import RunContext
from spectrumgen.llm import backend_for, call_batch
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.nodes.parse import parse_reply
from spectrumgen.nodes.validate import check_example, near_duplicate
from spectrumgen.schemas.batch import BatchReply, batch_json_schema
from spectrumgen.schemas.prompts import system_prompt, user_prompt
from spectrumgen.schemas.scenario import Cell
from spectrumgen.specs import load_spec

NUMERIC = ("support_provided", "authenticity_score")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=3)
    parser.add_argument("--out", default="bench/results/embedded_constraints.md")
    args = parser.parse_args()

    spec = load_spec("emotional_authenticity")
    rng = random.Random(7)
    batches = []
    for b in range(args.batches):
        cells = [
            Cell(
                capacity_level=rng.choice(spec.bucket_names("capacity_level")),
                authenticity_target=rng.choice(spec.bucket_names("authenticity_target")),
                complexity_type=rng.choice(spec.bucket_names("complexity_type")),
            )
            for _ in range(args.batch_size)
        ]
        batches.append(
            [
                compose_scenario(spec, cell, f"s{b}{i}", random.Random(f"{b}|{i}"))
                for i, cell in enumerate(cells)
            ]
        )
    backend = backend_for(RunContext(backend="embedded", batch_size=args.batch_size))
    rows = []
    for mode in ("loose", "tight"):
        counts = dict.fromkeys(("items", "parsed", "numeric_ok", "valid", "tokens"), 0)
        seconds = 0.0
        for scenarios in batches:
            schema = (
                BatchReply.model_json_schema()
                if mode == "loose"
                else batch_json_schema(spec, scenarios, backend.text_schemas)
            )
            started = time.perf_counter()
            reply = call_batch(
                backend,
                system_prompt(spec, scenarios),
                user_prompt(scenarios),
                schema,
                len(scenarios),
            )
            seconds += time.perf_counter() - started
            counts["tokens"] += reply.completion_tokens
            parsed = parse_reply(reply.text, [s.scenario_id for s in scenarios])
            accepted: dict[str, str] = {}
            for scenario in scenarios:
                counts["items"] += 1
                item = parsed.items.get(scenario.scenario_id)
                if item is None:
                    continue
                counts["parsed"] += 1
                reasons = check_example(spec, scenario, item)
                if not any(r.startswith(NUMERIC) for r in reasons):
                    counts["numeric_ok"] += 1
                duplicate = near_duplicate(item.response, accepted, spec)
                if not reasons and duplicate is None:
                    counts["valid"] += 1
                    accepted[scenario.scenario_id] = item.response
        rows.append((mode, counts, seconds))

    lines = [
        f"Embedded model ({backend.model_name}), {args.batches} batches of {args.batch_size} "
        "scenarios, same scenarios and seed in both modes.",
        "",
        "| schema | items | parsed | numeric rules pass | all rules pass | completion tokens "
        "| seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, c, seconds in rows:
        share = lambda n, c=c: f"{n} ({100 * n / c['items']:.0f}%)"  # noqa: E731
        lines.append(
            f"| {mode} | {c['items']} | {share(c['parsed'])} | {share(c['numeric_ok'])} | "
            f"{share(c['valid'])} | {c['tokens']} | {seconds:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
