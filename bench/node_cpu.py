"""Where a batch's CPU goes: thread CPU per node per batch, over each tenth of a scripted run.

    python bench/node_cpu.py [--target 2000] [--concurrency 4]

The steadier check of bench G's last two rows on a shared machine: wall time per batch moves
with whatever else runs; CPU per node does not, and a node whose cost grows with the run shows
as a rising column. Nodes are wrapped before the graph is built; the scripted (instant) model.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import spectrumgen.graph.builder as builder
from spectrumgen.graph.context import RunContext

NODES = ["plan_gaps", "compose", "generate", "parse", "validate", "repair", "record"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    expected = max(1, args.target // 5)  # batches, about: 5 items each
    spent: dict[int, Counter[str]] = defaultdict(Counter)
    batches: Counter[int] = Counter()
    done = {"batches": 0}

    def timed(name: str, node: Any) -> Any:
        @functools.wraps(node)
        def wrapper(*given: Any, **named: Any) -> Any:
            started = time.thread_time()
            try:
                return node(*given, **named)
            finally:
                tenth = min(9, done["batches"] * 10 // expected)
                spent[tenth][name] += time.thread_time() - started
                if name == "record":
                    done["batches"] += 1
                    batches[tenth] += 1

        return wrapper

    for name in NODES:
        if name != "generate":
            setattr(builder, name, timed(name, getattr(builder, name)))
    make_generate = builder.make_generate
    builder.make_generate = lambda model: timed("generate", make_generate(model))  # type: ignore[assignment]

    with tempfile.TemporaryDirectory(prefix="spectrumgen-node-cpu-") as folder:
        context = RunContext(
            backend="scripted", db_url=f"sqlite:///{folder}/cpu.db", concurrency=args.concurrency
        )
        graph = builder.build_graph().compile()
        graph.invoke({"target": args.target}, context.graph_config(), context=context)
    print(f"thread CPU per batch, ms, per tenth of a {args.target}-example scripted run")
    print("| tenth | batches | " + " | ".join(NODES) + " | all |")
    print("| --- " * (len(NODES) + 3) + "|")
    for tenth in sorted(batches):
        per = [spent[tenth][name] / batches[tenth] * 1000 for name in NODES]
        cells = " | ".join(f"{value:.2f}" for value in per)
        print(f"| {tenth + 1} | {batches[tenth]} | {cells} | {sum(per):.1f} |")


if __name__ == "__main__":
    main()
