"""The embedded model with and without exemplars: how many items pass every rule and gate.

    python bench/embedded_exemplars.py [--batches 4] [--batch-size 3]

Same scenarios, same model, same seed, same per-field grammar; only the prompt differs:
  chat         - the chat prompt (rules, then scenario lines) joined into one text, no hints
                 or exemplars: what the embedded backend was sent before;
  document     - a completion document (schemas/prompts.py) with the scenarios' situation hints,
                 no exemplars;
  + exemplars  - the same document opening with 2 of the spec's exemplars (today's default).
"Pass the text gates": no text-quality reason (`spectrumgen.text_gates`); an item passes every
rule and gate when it breaks no rule (numbers, text-quality gates), copies no exemplar, is no
near-duplicate of an item passed before it and passes the coherence gate (the model scoring its
reply after its own request against other requests), as in a run. Prints a table, writes it to
bench/results/embedded_exemplars.md and every item with its reasons to
bench/results/embedded_exemplars_items.jsonl, for reading.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from spectrumgen.coherence import check_coherence  # noqa: E402
from spectrumgen.graph.context import RunContext  # noqa: E402
from spectrumgen.llm import backend_for, call_batch  # noqa: E402
from spectrumgen.nodes.compose import compose_scenario  # noqa: E402
from spectrumgen.nodes.parse import parse_reply  # noqa: E402
from spectrumgen.nodes.validate import check_example, copies_an_exemplar, near_duplicate  # noqa: E402
from spectrumgen.reasons import reason_code  # noqa: E402
from spectrumgen.schemas.batch import batch_json_schema  # noqa: E402
from spectrumgen.schemas.prompts import (  # noqa: E402
    completion_document,
    pick_exemplars,
    system_prompt,
    user_prompt,
)
from spectrumgen.schemas.scenario import Cell, Scenario  # noqa: E402
from spectrumgen.schemas.spec import Spec  # noqa: E402
from spectrumgen.specs import load_spec  # noqa: E402
from spectrumgen.text_gates import gate_of  # noqa: E402

VARIANTS = ("chat", "document", "+ exemplars")


def scenarios_for(spec: Spec, batches: int, size: int) -> list[list[Scenario]]:
    rng = random.Random(7)
    made = []
    for b in range(batches):
        cells = [
            Cell(
                capacity_level=rng.choice(spec.bucket_names("capacity_level")),
                authenticity_target=rng.choice(spec.bucket_names("authenticity_target")),
                complexity_type=rng.choice(spec.bucket_names("complexity_type")),
            )
            for _ in range(size)
        ]
        made.append(
            [
                compose_scenario(spec, cell, f"s{b}{i}", random.Random(f"{b}|{i}"))
                for i, cell in enumerate(cells)
            ]
        )
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=3)
    args = parser.parse_args()
    spec = load_spec("emotional_authenticity")
    batches = scenarios_for(spec, args.batches, args.batch_size)
    backend = backend_for(RunContext(backend="embedded", batch_size=args.batch_size))
    rows, dump = [], []
    for variant in VARIANTS:
        counts: Counter[str] = Counter()
        reasons_seen: Counter[str] = Counter()
        passed: dict[str, str] = {}
        seconds = 0.0
        for index, scenarios in enumerate(batches):
            if variant == "chat":
                scenarios = [s.model_copy(update={"hints": {}}) for s in scenarios]
                system, user = system_prompt(spec, scenarios), user_prompt(scenarios)
            else:
                count = 2 if variant == "+ exemplars" else 0
                shown = pick_exemplars(spec, scenarios, count, f"batch{index}")
                system, user = "", completion_document(spec, scenarios, shown)
            schema = batch_json_schema(spec, scenarios, backend.text_schemas)
            started = time.perf_counter()
            reply = call_batch(backend, system, user, schema, len(scenarios))
            seconds += time.perf_counter() - started
            counts["prompt_tokens"] += reply.prompt_tokens
            counts["completion_tokens"] += reply.completion_tokens
            parsed = parse_reply(reply.text, [s.scenario_id for s in scenarios])
            for scenario in scenarios:
                counts["items"] += 1
                item = parsed.items.get(scenario.scenario_id)
                if item is None:
                    reasons = ["missing from the reply"]
                else:
                    reasons = check_example(spec, scenario, item)
                    reasons += copies_an_exemplar(spec, item, scenario)
                    duplicate = near_duplicate(item.response, passed, spec)
                    reasons += [duplicate] if duplicate else []
                    if not reasons and backend.scorer is not None:  # the last gate, as in a run
                        reasons += check_coherence(
                            spec,
                            backend.scorer,
                            item.context,
                            item.response,
                            scenario.hints.get("asks"),
                        )
                if item is not None and not any(gate_of(r) for r in reasons):
                    counts["text_ok"] += 1
                if not reasons and item is not None:
                    counts["passed"] += 1
                    passed[f"{index}/{scenario.scenario_id}"] = item.response
                reasons_seen.update({reason_code(r) for r in reasons})
                dump.append(
                    {
                        "variant": variant,
                        "scenario": scenario.model_dump(
                            include={
                                "capacity_level",
                                "authenticity_target",
                                "complexity_type",
                                "hints",
                            }
                        ),
                        "item": item.model_dump() if item else None,
                        "reasons": reasons,
                    }
                )
        rows.append((variant, counts, seconds, reasons_seen))

    lines = [
        f"Embedded model ({backend.model_name}), {args.batches} batches of {args.batch_size} "
        "scenarios; same scenarios, seed and grammar in every row.",
        "",
        "| prompt | items | pass the text gates | pass every rule and gate | prompt tokens "
        "| completion tokens | seconds | top reasons |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for variant, c, seconds, seen in rows:
        top = ", ".join(f"{code} {n}" for code, n in seen.most_common(3)) or "-"
        lines.append(
            f"| {variant} | {c['items']} | {c['text_ok']} ({100 * c['text_ok'] / c['items']:.0f}%) "
            f"| {c['passed']} ({100 * c['passed'] / c['items']:.0f}%) "
            f"| {c['prompt_tokens']} | {c['completion_tokens']} | {seconds:.0f} | {top} |"
        )
    table = "\n".join(lines)
    print(table)
    results = ROOT / "bench" / "results"
    (results / "embedded_exemplars.md").write_text(table + "\n")
    with (results / "embedded_exemplars_items.jsonl").open("w") as handle:
        for row in dump:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
