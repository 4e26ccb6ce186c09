"""Does the default call budget fit a usable but noisy model, and stop a hopeless one early?

    python bench/noisy_budget.py [--tries 20] [--target 64]

A loopback server speaking Ollama's protocol (tests/llm_servers.py) answers with the scripted
model and misbehaves on a seed: 20% of items broken, 3% of calls failing with HTTP 500, 3% of
replies cut off at the token limit (and a very noisy one, 60% of items broken). Each try runs the
real graph with the CLI's default flags against it, once with the adaptive budget (today's
default) and once with the fixed budget it replaced (3 x batches + 10, as --max-calls), same
server seed, side by side. Then a hopeless server (every item broken): calls spent before the
run stops. Writes
bench/results/noisy_budget.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from langgraph.types import RetryPolicy  # noqa: E402

from spectrumgen.graph.builder import build_graph  # noqa: E402
from spectrumgen.graph.context import RunContext  # noqa: E402
from tests.llm_servers import Behaviour, OllamaHandler, serve  # noqa: E402

NOISE = {"item_fault_rate": 0.2, "error_rate": 0.03, "truncate_rate": 0.03}
FAST_RETRY = RetryPolicy(initial_interval=0.01, max_interval=0.05)  # no waiting on a loopback


def one_run(folder: Path, name: str, seed: int, target: int, **settings: Any) -> dict[str, Any]:
    behaviour_settings = {**NOISE, **settings.pop("noise", {})}
    with serve(OllamaHandler, Behaviour(seed=seed, **behaviour_settings)) as (url, _):
        context = RunContext(
            backend="ollama",
            base_url=url,
            db_url=f"sqlite:///{folder / f'{name}-{seed}.db'}",
            **settings,
        )
        graph = build_graph(retry_policy=FAST_RETRY).compile()
        result = graph.invoke({"target": target}, context=context)
    manifest = result["manifest"]
    return {
        "complete": result["status"] == "complete",
        "accepted": manifest["counts"]["accepted"],
        "calls": manifest["llm_calls"],
        "budget": manifest["call_budget"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--target", type=int, default=64)
    args = parser.parse_args()
    fixed_budget = 3 * -(-args.target // 5) + 10
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        for noise_label, noise in (("noisy", {}), ("very noisy", {"item_fault_rate": 0.6})):
            for label, settings in (
                ("adaptive (default)", {}),
                (f"fixed {fixed_budget} calls (before)", {"max_calls": fixed_budget}),
            ):
                runs = [
                    one_run(folder, label[:5], seed, args.target, noise=noise, **settings)
                    for seed in range(args.tries)
                ]
                finished = sum(r["complete"] for r in runs)
                short = [r["accepted"] for r in runs if not r["complete"]]
                rows.append(
                    (
                        f"{noise_label} server, {label}",
                        f"{finished}/{args.tries} complete",
                        f"{statistics.fmean(r['calls'] for r in runs):.1f}",
                        f"{max(r['calls'] for r in runs)}",
                        ", ".join(map(str, short)) or "-",
                    )
                )
        never_valid = ("malformed", "out_of_range", "support_rule", "placeholder")
        hopeless = {"noise": {"item_fault_rate": 1.0, "faults": never_valid}}
        for label, settings in (
            ("adaptive (default)", hopeless),
            (f"fixed {fixed_budget} calls (before)", {**hopeless, "max_calls": fixed_budget}),
        ):
            run = one_run(folder, "hopeless" + label[:5], 0, args.target, **settings)
            rows.append(
                (
                    f"hopeless server, {label}",
                    f"{int(run['complete'])}/1 complete",
                    str(run["calls"]),
                    str(run["calls"]),
                    str(run["accepted"]),
                )
            )
    lines = [
        f"Target {args.target}, default flags (batch 5, concurrency 4, 2 repairs), {args.tries} "
        "tries per row on server seeds 0-19; noisy server: 20% of items broken, 3% HTTP 500, 3% "
        "cut-off replies; very noisy: 60% of items broken; hopeless: every item broken.",
        "",
        "| server, budget | runs complete | mean calls | most calls | accepted when short |",
        "| --- | --- | ---: | ---: | --- |",
        *[f"| {' | '.join(row)} |" for row in rows],
    ]
    text = "\n".join(lines)
    print(text)
    (ROOT / "bench" / "results" / "noisy_budget.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
