"""The run's knobs: one context schema, shown by LangGraph Studio as a form."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from langchain_core.runnables import RunnableConfig

from spectrumgen.errors import BadInputError

DEFAULT_DB_URL = "sqlite:///spectrumgen.db"
RUN_ID_FIELD = "{run_id}"
MAX_TARGET = 1_000_000
POOL_HEADROOM = 2
RECURSION_LIMIT = 10_000_000
# Every number a run takes, with the range it must fall in (inclusive): the CLI's options, the
# served graph's caller settings and `RunContext.check_limits` all read this table.
LIMITS: dict[str, tuple[int | float, int | float]] = {
    "batch_size": (1, 50),
    "stages": (1, 2),
    "exemplars": (0, 8),
    "concurrency": (1, 64),
    "max_repairs": (0, 10),
    "max_calls": (1, 10_000_000),
    "max_tokens": (1, 10**12),
    "seed": (0, 2**63 - 1),  # a signed 64-bit column in the ledger
    "lease_seconds": (1, 7 * 86_400),
    "request_timeout": (0.01, 86_400),
    "fault_rate": (0, 1),
    "call_error_rate": (0, 1),
}
DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
DEFAULT_MODEL = "qwen3:8b"


@dataclass(kw_only=True)
class RunContext:
    """How a run generates: backend, model, batching, budgets and where results go."""

    spec: str = field(
        default="emotional_authenticity",
        metadata={"description": "Built-in spec name or path to a YAML/JSON spec file."},
    )
    backend: str = field(
        default="auto",
        metadata={"description": "auto, ollama, embedded, openai or scripted."},
    )
    model: str = field(
        default=DEFAULT_MODEL,
        metadata={"description": "Model that writes every example (unless routing says else)."},
    )
    routing: str = field(
        default="",
        metadata={
            "description": "Model routing: empty = `model` for everything; 'spec' = the spec's "
            "table (seed: baseline qwen3:8b, others qwen3:30b-a3b, judge qwen3:32b); or entries "
            "like 'baseline=qwen3:8b,default=qwen3:30b-a3b,judge=qwen3:32b'. 'judge=self' has "
            "each batch judged by the model that wrote it (one more call per batch)."
        },
    )
    base_url: str | None = field(
        default=None,
        metadata={
            "description": "Server URL. Ollama: OLLAMA_HOST or http://127.0.0.1:11434; "
            "openai: OPENAI_BASE_URL or http://127.0.0.1:8000/v1."
        },
    )
    db_url: str = field(
        default=DEFAULT_DB_URL,
        metadata={"description": "SQLAlchemy URL of the coverage ledger."},
    )
    out_dir: str | None = field(
        default=None,
        metadata={
            "description": "Folder for examples.jsonl, rejected.jsonl and manifest.json; "
            "'{run_id}' in it becomes the run's id (a folder per run)."
        },
    )
    overwrite: bool = field(
        default=False,
        metadata={
            "description": "Replace the files another run left in out_dir (else the run refuses "
            "to mix its files with theirs)."
        },
    )
    batch_size: int = field(
        default=5, metadata={"description": "Scenarios per LLM call (the seed's 1:5 batching)."}
    )
    stages: int = field(
        default=1,
        metadata={
            "description": "1: one call writes whole examples. 2: one batched call writes the "
            "situations, a second the responses (the seed's multi-step generation)."
        },
    )
    exemplars: int = field(
        default=2,
        metadata={
            "description": "Spec exemplars shown per call for form, chosen to differ from the "
            "batch (0: none). They cost prompt tokens and never enter the dataset."
        },
    )
    concurrency: int = field(
        default=4,
        metadata={
            "description": "LLM calls in flight at once. The run keeps one lane more than this, "
            "so a freed call slot is refilled at once."
        },
    )
    max_repairs: int = field(
        default=2,
        metadata={
            "description": "Times a failing scenario is sent back before it is "
            "given up and its cell planned again."
        },
    )
    max_calls: int | None = field(
        default=None,
        metadata={"description": "LLM call budget for the run (default: 3 x batches needed + 10)."},
    )
    max_tokens: int | None = field(
        default=None,
        metadata={"description": "Token budget (prompt + completion) for the run; none if empty."},
    )
    seed: int = field(default=0, metadata={"description": "Seed for planning and composing."})
    fault_rate: float = field(
        default=0.0,
        metadata={"description": "Scripted backend only: share of items it breaks on purpose."},
    )
    call_error_rate: float = field(
        default=0.0,
        metadata={"description": "Scripted backend only: share of calls it fails on purpose."},
    )
    worker: str = field(
        default="",
        metadata={
            "description": "This worker's name when several share a run (`spectrumgen worker`); "
            "empty for the run's own process."
        },
    )
    lease_seconds: int = field(
        default=600,
        metadata={"description": "How long a worker's claim on a cell lasts without renewal."},
    )
    review: bool = field(
        default=False,
        metadata={
            "description": "Pause before recording each wave so a person approves, edits or "
            "rejects its items (needs a checkpointer; Studio has one)."
        },
    )
    request_timeout: float = field(
        default=300.0, metadata={"description": "Seconds an LLM call may take."}
    )

    def check_limits(self) -> None:
        """Refuse a number outside `LIMITS` (or not a finite number) before any work.

        Raises:
            BadInputError: naming the setting, its range and the value given.
        """
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if value is None and name in ("max_calls", "max_tokens"):
                continue
            if not _number_within(value, low, high):
                raise BadInputError(f"{name} must be from {low:g} to {high:g}, got {value!r}")

    def lane_count(self) -> int:
        """Lanes the run keeps (`spectrumgen.graph.lanes`): one per call in flight and one
        preparing the next batch; a run under review keeps one lane, whose batches a person
        reviews together, a wave at a time."""
        return 1 if self.review else self.concurrency + 1

    def batches_per_lane(self) -> int:
        """Batches a lane plans at a time: one, or the whole wave under review."""
        return self.concurrency if self.review else 1

    def graph_config(self, thread_id: str | None = None) -> RunnableConfig:
        """The config to invoke the graph with: LangGraph runs the lanes on a pool of
        `max_concurrency` threads, min(32, cores + 4) unless set, so 9 lanes on 2 cores would
        run 6 at a time. The pool also runs LangGraph's own background work (a streamed run
        takes a thread), hence two to spare. The loop ends by its call budget, not by a count
        of steps, so the recursion limit is out of its way. With a thread id for a
        checkpointer."""
        config: RunnableConfig = {
            "max_concurrency": max(self.lane_count(), self.concurrency) + POOL_HEADROOM,
            "recursion_limit": RECURSION_LIMIT,
        }
        if thread_id is not None:
            config["configurable"] = {"thread_id": thread_id}
        return config

    def out_folder(self, run_id: str) -> Path | None:
        """Where this run's files go (`out_dir` with `{run_id}` filled in); None for no files."""
        return Path(self.out_dir.replace(RUN_ID_FIELD, run_id)) if self.out_dir else None

    def calls_per_batch(self, judged: bool) -> int:
        """LLM calls one batch of new scenarios costs: one per stage, and one for a judge."""
        return self.stages + (1 if judged else 0)

    def call_budget(self, target: int, calls_per_batch: int = 1) -> int:
        """The LLM call budget: the configured one, or three times the calls a target needs."""
        if self.max_calls is not None:
            return self.max_calls
        return calls_per_batch * (3 * -(-target // self.batch_size) + 10)


def _number_within(value: Any, low: float, high: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and low <= value <= high


def check_target(target: Any, largest: int = MAX_TARGET) -> None:
    """Refuse a target that is not a whole number from 1 to `largest`.

    Raises:
        BadInputError: naming the range and the value given.
    """
    if isinstance(target, bool) or not isinstance(target, int) or not 1 <= target <= largest:
        raise BadInputError(f"target must be a whole number from 1 to {largest}, got {target!r}")


def context_from(value: Any) -> RunContext:
    """The RunContext of a node's runtime; a host graph's own context falls back to defaults.

    Fields the host's context shares by name (a dataclass or a dict) are taken over, so a
    host can set `db_url` or `backend` without knowing spectrumgen's class.
    """
    if isinstance(value, RunContext):
        return value
    if value is None:
        return RunContext()
    known = {f.name for f in fields(RunContext)}
    source = value if isinstance(value, dict) else vars(value) if hasattr(value, "__dict__") else {}
    return RunContext(**{k: v for k, v in source.items() if k in known})


def with_overrides(context: RunContext, overrides: dict[str, Any] | None) -> RunContext:
    """The context with a run's input overrides applied (e.g. {"batch_size": 8}).

    Raises:
        BadInputError: a name that is not a field of RunContext.
    """
    if not overrides:
        return context
    known = {f.name for f in fields(RunContext)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise BadInputError(
            f"unknown setting {', '.join(unknown)} in overrides; known: {', '.join(sorted(known))}"
        )
    return replace(context, **overrides)
