"""start: open the run once, before its lanes set off.

The target and every number are checked, the output folder is claimed for this run (never two
runs' files in one folder), and the run's row is written to the ledger (or found, on resume).
What the lanes' gates read once (the word list) is read here, before the lanes set off together.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from langgraph.runtime import Runtime

from spectrumgen.dataset import RUN_FILES, claim_folder
from spectrumgen.graph.context import check_target
from spectrumgen.graph.state import RunState
from spectrumgen.nodes.common import node_parts
from spectrumgen.text_gates import english_words


def start(state: RunState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Check the run's numbers, claim its folder, record the run; say how many lanes it keeps."""
    parts = node_parts(runtime, state)
    context = parts.context
    target = state.get("target")
    check_target(target)
    assert isinstance(target, int)
    context.check_limits()
    run_id = state.get("run_id") or new_run_id()
    folder = context.out_folder(run_id)
    if folder is not None and not context.worker:
        claim_folder(folder, run_id, RUN_FILES, context.overwrite)
    parts.ledger.start_run(
        run_id, parts.spec, target, context.seed, context.backend, context.model, context.routing
    )
    rules = parts.spec.example_rules.text_quality
    if rules.enabled and rules.max_unknown_words is not None:
        english_words()  # the non-word gate's list (0.3 s), read here once, not by every lane
    return {
        "run_id": run_id,
        "target": target,
        "started_at": state.get("started_at") or time.time(),
        "lanes": context.lane_count(),
    }


def new_run_id() -> str:
    """A sortable, unique run id."""
    return time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
