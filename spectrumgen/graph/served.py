"""The served graph (`spectrumgen.graph:graph`, which langgraph.json names): callers choose run
parameters, the server keeps the rest.

A caller of the served graph is not the operator. What reaches outside the process (the backend,
its URL and credentials, model names and routing, the ledger's database, where files go, which
spec files are read) comes from the server's own environment, set by whoever runs the server
(in the shell, or in langgraph.json's `env`):

    SPECTRUMGEN_BACKEND     auto, ollama, openai, embedded or scripted (default auto)
    SPECTRUMGEN_MODEL       the model that writes (default qwen3:8b)
    SPECTRUMGEN_ROUTING     model routing, as --route takes it (default none)
    SPECTRUMGEN_BASE_URL    the LLM server (default: OLLAMA_HOST / OPENAI_BASE_URL, else local)
    SPECTRUMGEN_DB_URL      the ledger (default sqlite:///spectrumgen.db in the server's folder)
    SPECTRUMGEN_OUT_ROOT    runs write their files to OUT_ROOT/<run id>/; none when unset
    SPECTRUMGEN_SPEC_DIR    a folder of extra specs callers may name (NAME.yaml); none when unset
    SPECTRUMGEN_MAX_TARGET  the largest target a caller may ask for (default 10000)

A caller sets only the fields of `ServedContext` (in `context`, or the input's `overrides`),
each within its bounds, and names a spec among the built-ins and the spec folder. Anything else
is refused with a message the caller sees (a `ValueError`, which the server passes on).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spectrumgen.errors import BadInputError
from spectrumgen.graph.builder import build_graph
from spectrumgen.graph.context import (
    LIMITS,
    POOL_HEADROOM,
    RECURSION_LIMIT,
    RunContext,
    check_target,
)
from spectrumgen.specs import builtin_spec_names

DEFAULT_MAX_TARGET = 10_000
SPEC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


SERVERS = "Set by the server; a caller's value is refused"
SERVER_FIELDS = (
    "backend",
    "model",
    "routing",
    "base_url",
    "db_url",
    "out_dir",
    "overwrite",
    "worker",
    "lease_seconds",
    "request_timeout",
)


def bounded(name: str, description: str) -> Any:
    """A caller's optional number, within the range `LIMITS` gives it."""
    low, high = LIMITS[name]
    return Field(default=None, ge=low, le=high, description=description)


class ServedContext(BaseModel):
    """What a caller of the served graph may set; every field defaults to the server's choice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: str | None = Field(
        default=None,
        description="A built-in spec name, or a spec in the server's spec folder (by name).",
    )
    batch_size: int | None = bounded("batch_size", "Scenarios per call.")
    stages: int | None = bounded("stages", "1: whole examples per call; 2: situations first.")
    exemplars: int | None = bounded("exemplars", "Spec exemplars shown per call.")
    concurrency: int | None = bounded("concurrency", "Batches generated in parallel.")
    max_repairs: int | None = bounded("max_repairs", "Times a failing scenario is sent back.")
    max_calls: int | None = bounded("max_calls", "LLM call budget for the run.")
    max_tokens: int | None = bounded("max_tokens", "Token budget for the run.")
    seed: int | None = bounded("seed", "Seed for planning and composing.")
    review: bool | None = Field(
        default=None, description="Pause before recording each wave for a person to review."
    )
    fault_rate: float | None = bounded(
        "fault_rate", "Scripted backend only: share of items broken."
    )
    call_error_rate: float | None = bounded(
        "call_error_rate", "Scripted backend only: share of calls failed."
    )

    # The server's own settings, listed so a caller who sends one is told it is refused (the
    # server drops context keys its schema does not list, silently).
    backend: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_BACKEND).")
    model: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_MODEL).")
    routing: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_ROUTING).")
    base_url: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_BASE_URL).")
    db_url: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_DB_URL).")
    out_dir: Any = Field(default=None, description=f"{SERVERS} (SPECTRUMGEN_OUT_ROOT/<run id>).")
    overwrite: Any = Field(default=None, description=f"{SERVERS}: every run has its own folder.")
    worker: Any = Field(default=None, description=f"{SERVERS} (workers run from the CLI).")
    lease_seconds: Any = Field(default=None, description=f"{SERVERS}.")
    request_timeout: Any = Field(default=None, description=f"{SERVERS}.")

    @model_validator(mode="before")
    @classmethod
    def _callers_fields_only(cls, data: Any) -> Any:
        if isinstance(data, dict):
            theirs = set(cls.model_fields) - set(SERVER_FIELDS)
            refused = sorted(k for k, v in data.items() if k not in theirs and v is not None)
            if refused:
                raise ValueError(
                    f"refused: {', '.join(refused)} {'is' if len(refused) == 1 else 'are'} the "
                    f"server's to set, not a caller's (a caller may set: "
                    f"{', '.join(sorted(theirs))})"
                )
        return data

    def run_context(self, state: Mapping[str, Any] | None = None) -> RunContext:
        """The run's whole context: the server's settings, with this caller's choices and the
        run input's `spec` and `overrides` (held to the same rules).

        Raises:
            BadInputError: a setting the caller may not make or out of bounds, an unknown spec,
                a target out of bounds, a run id that is not one.
        """
        state = state or {}
        if "target" in state:
            check_target(state["target"], max_target())
        overrides = dict(state.get("overrides") or {})
        if state.get("spec"):
            overrides["spec"] = state["spec"]
        chosen = {**self.model_dump(exclude_none=True), **overrides}
        try:
            caller = ServedContext.model_validate(chosen)
        except ValidationError as error:
            raise BadInputError(caller_error(error)) from None
        context = server_context()
        settings = caller.model_dump(exclude_none=True)  # the server's fields are all None
        if "spec" in settings:
            settings["spec"] = served_spec(settings["spec"])
        for name, value in settings.items():
            setattr(context, name, value)
        root, run_id = os.environ.get("SPECTRUMGEN_OUT_ROOT"), state.get("run_id")
        if run_id is not None and not (isinstance(run_id, str) and RUN_ID.match(run_id)):
            raise BadInputError(f"run_id {run_id!r} is not a run id")
        if root and run_id:
            context.out_dir = str(Path(root) / run_id)
        return context


# The RunContext fields the server's environment sets (unset: RunContext's default).
SERVER_ENV = {
    "backend": "SPECTRUMGEN_BACKEND",
    "model": "SPECTRUMGEN_MODEL",
    "routing": "SPECTRUMGEN_ROUTING",
    "base_url": "SPECTRUMGEN_BASE_URL",
    "db_url": "SPECTRUMGEN_DB_URL",
}


def server_context() -> RunContext:
    """The server's own settings, from its environment (see the module's docstring)."""
    settings: dict[str, Any] = {
        name: os.environ[var] for name, var in SERVER_ENV.items() if os.environ.get(var)
    }
    return RunContext(**settings)


def max_target() -> int:
    """The largest target a caller may ask for."""
    value = os.environ.get("SPECTRUMGEN_MAX_TARGET")
    return int(value) if value else DEFAULT_MAX_TARGET


def served_spec(name: str) -> str:
    """A spec a caller names: a built-in, or NAME.yaml in the server's spec folder.

    Raises:
        BadInputError: a path, or a name the server does not have.
    """
    if name in builtin_spec_names():
        return name
    folder = os.environ.get("SPECTRUMGEN_SPEC_DIR")
    if SPEC_NAME.match(name) and folder and (Path(folder) / f"{name}.yaml").is_file():
        return str(Path(folder) / f"{name}.yaml")
    known = [*builtin_spec_names()]
    if folder and Path(folder).is_dir():
        known += sorted(p.stem for p in Path(folder).glob("*.yaml") if SPEC_NAME.match(p.stem))
    raise BadInputError(f"spec {name!r} is not served here; choose one of {', '.join(known)}")


def caller_error(error: ValidationError) -> str:
    """One line naming each setting refused and why, without echoing long values back."""
    problems = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append(f"{name}: {message}" if name else message)
    return "; ".join(problems)


def served_graph() -> Any:
    """The compiled graph for `langgraph dev`: no checkpointer, a caller's context limited."""
    # A caller's `concurrency` sets the lanes (up to LIMITS' 64, plus one); LangGraph's pool must
    # not cap them at its default of min(32, cores + 4).
    graph = build_graph(context_schema=ServedContext).compile()
    return graph.with_config(
        max_concurrency=int(LIMITS["concurrency"][1]) + 1 + POOL_HEADROOM,
        recursion_limit=RECURSION_LIMIT,
    )
