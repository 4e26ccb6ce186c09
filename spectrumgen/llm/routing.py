"""Model routing (the seed's Phase 3): which model writes which complexity types, and the judge.

A run's `routing` setting is empty (the run's one model writes everything), `spec` (the spec's
`model_routing` table), or entries such as
`baseline=qwen3:8b,default=qwen3:30b-a3b,judge=qwen3:32b`; entries after `spec` override it.
`judge=self` has each batch judged by the model that wrote it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spectrumgen.errors import BadInputError
from spectrumgen.schemas.spec import Spec

DEFAULT_KEY, JUDGE_KEY, SPEC_KEYWORD = "default", "judge", "spec"
SELF_JUDGE = "self"  # each batch's own model judges it


@dataclass(frozen=True)
class Routes:
    """The resolved routing table of a run."""

    default: str
    by_complexity: dict[str, str] = field(default_factory=dict)
    judge: str | None = None
    min_judge_score: float = 0.6

    def model_for(self, complexity_type: str) -> str:
        """The model that writes examples of this complexity type."""
        return self.by_complexity.get(complexity_type, self.default)

    def judge_for(self, writer: str) -> str | None:
        """The model that judges a batch `writer` wrote (None: no judge)."""
        return writer if self.judge == SELF_JUDGE else self.judge

    def models(self) -> list[str]:
        """Every model the run needs, the judge included."""
        names = [self.default, *self.by_complexity.values()]
        if self.judge and self.judge != SELF_JUDGE:
            names.append(self.judge)
        return sorted(set(names))

    def describe(self) -> dict[str, Any]:
        """The table as the manifest records it."""
        return {
            "by_complexity": dict(sorted(self.by_complexity.items())),
            "default": self.default,
            "judge": self.judge,
            "min_judge_score": self.min_judge_score if self.judge else None,
        }


def resolve_routes(spec: Spec, routing: str, model: str) -> Routes:
    """The routing table a run's `routing` setting names (see module docstring).

    A judge entry names a model, or "self" for each batch's own model (`--judge self`).

    Raises:
        BadInputError: an entry that is not `TYPE=MODEL`, or a type the spec lacks.
    """
    table = spec.model_routing
    by_complexity: dict[str, str] = {}
    default, judge = model, None
    for entry in (part.strip() for part in routing.split(",") if part.strip()):
        if entry == SPEC_KEYWORD:
            by_complexity.update(table.by_complexity)
            default = table.default or default
            judge = table.judge
            continue
        key, sep, value = (piece.strip() for piece in entry.partition("="))
        if not sep or not key or not value:
            raise BadInputError(
                f"routing entry {entry!r} is not TYPE=MODEL (or 'spec'); e.g. baseline=qwen3:8b"
            )
        if key == DEFAULT_KEY:
            default = value
        elif key == JUDGE_KEY:
            judge = value
        elif key in spec.bucket_names("complexity_type"):
            by_complexity[key] = value
        else:
            known = ", ".join([*spec.bucket_names("complexity_type"), DEFAULT_KEY, JUDGE_KEY])
            raise BadInputError(f"routing entry {entry!r}: {key!r} is not one of {known}")
    return Routes(
        default=default,
        by_complexity=by_complexity,
        judge=judge,
        min_judge_score=table.min_judge_score,
    )
