"""The seed's Python API, on spectrumgen: same names, same return shapes, each a thin call into
the graph (`build_graph`). Code written for the old generator changes only its imports:

    from spectrumgen.systematic import (
        SystematicParameterGenerator, MultiStepSystematicGenerator, initialize_enhanced_config)

Where the seed left the backend implicit, the config takes it from SPECTRUMGEN_BACKEND (else
`auto`), and the ledger and output folder from SPECTRUMGEN_DB and SPECTRUMGEN_OUT.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from spectrumgen.analysis import coverage_report, quality_analysis
from spectrumgen.errors import BadInputError
from spectrumgen.graph.builder import build_graph, build_lane_graph
from spectrumgen.graph.context import DEFAULT_DB_URL, DEFAULT_MODEL, RUN_ID_FIELD, RunContext
from spectrumgen.ledger import open_ledger
from spectrumgen.nodes.start import new_run_id
from spectrumgen.schemas.batch import BatchTask
from spectrumgen.schemas.scenario import Scenario
from spectrumgen.schemas.spec import Spec
from spectrumgen.specs import DEFAULT_SPEC, load_spec

SEED_DEFAULTS: dict[str, Any] = {
    "batch_size_emotional": 5,
    "target_emotional_authenticity": 100,
    "systematic_coverage": {
        "authenticity_spectrum": {
            "failed": {"min_examples": 2, "target_range": (0.2, 0.4)},
            "struggling": {"min_examples": 3, "target_range": (0.4, 0.6)},
            "authentic": {"min_examples": 4, "target_range": (0.6, 0.8)},
            "excellent": {"min_examples": 3, "target_range": (0.8, 1.0)},
        },
        "complexity_types": {
            "baseline": {"min_examples": 2},
            "people_pleasing": {"min_examples": 2},
            "misjudgment_over": {"min_examples": 2},
            "misjudgment_under": {"min_examples": 1},
            "defensive_lashing": {"min_examples": 1},
            "emergency_override": {"min_examples": 2},
            "cultural_indirect": {"min_examples": 1},
            "mixed_emotions": {"min_examples": 2},
        },
    },
    "quality_thresholds_enhanced": {
        "spectrum_coverage": {
            "min_failed_examples": 2,
            "min_struggling_examples": 3,
            "max_excellent_percentage": 0.4,
            "authenticity_variance": 0.3,
        },
        "complexity_coverage": {
            "min_complexity_types": 5,
            "baseline_percentage": 0.3,
            "required_people_pleasing": 2,
        },
    },
    "numerical_grounding": {
        "require_calculation_steps": False,
        "require_qualitative_anchors": False,
        "enforce_calibration_guide": False,
    },
    "efficiency_optimization": {"model_routing": None},
}


@dataclass
class EnhancedTrainingConfig:
    """The seed's `EnhancedTrainingConfig`, plus where spectrumgen runs (backend, ledger, files)."""

    batch_size_emotional: int = 5
    target_emotional_authenticity: int = 100
    systematic_coverage: dict[str, Any] = field(default_factory=dict)
    quality_thresholds_enhanced: dict[str, Any] = field(default_factory=dict)
    numerical_grounding: dict[str, Any] = field(default_factory=dict)
    efficiency_optimization: dict[str, Any] = field(default_factory=dict)
    backend: str = field(default_factory=lambda: os.environ.get("SPECTRUMGEN_BACKEND", "auto"))
    model: str = field(default_factory=lambda: os.environ.get("SPECTRUMGEN_MODEL", DEFAULT_MODEL))
    base_url: str | None = field(default_factory=lambda: os.environ.get("SPECTRUMGEN_BASE_URL"))
    db_url: str = field(default_factory=lambda: os.environ.get("SPECTRUMGEN_DB", DEFAULT_DB_URL))
    output_dir: str = field(
        default_factory=lambda: os.environ.get("SPECTRUMGEN_OUT", "spectrumgen-out")
    )
    seed: int = 0

    def to_spec(self) -> Spec:
        """The built-in spec with this config's coverage minimums, thresholds, grounding and
        routing written into it."""
        data = load_spec(DEFAULT_SPEC).model_dump()
        coverage = self.systematic_coverage
        for bucket in data["axes"]["authenticity_target"]:
            wanted = coverage.get("authenticity_spectrum", {}).get(bucket["name"], {})
            bucket["min_examples"] = wanted.get("min_examples", bucket["min_examples"])
            if "target_range" in wanted:
                low, high = wanted["target_range"]
                bucket["range"] = {"low": low, "high": high}
        for bucket in data["axes"]["complexity_type"]:
            wanted = coverage.get("complexity_types", {}).get(bucket["name"], {})
            bucket["min_examples"] = wanted.get("min_examples", bucket["min_examples"])
        spectrum = self.quality_thresholds_enhanced.get("spectrum_coverage", {})
        complexity = self.quality_thresholds_enhanced.get("complexity_coverage", {})
        thresholds = data["quality_thresholds"]
        thresholds["min_examples"] = {
            "failed": spectrum.get("min_failed_examples", 2),
            "struggling": spectrum.get("min_struggling_examples", 3),
            "people_pleasing": complexity.get("required_people_pleasing", 2),
        }
        thresholds["max_share"] = {
            "excellent": spectrum.get("max_excellent_percentage", 0.4),
            "baseline": complexity.get("baseline_percentage", 0.3),
        }
        thresholds["min_authenticity_spread"] = spectrum.get("authenticity_variance", 0.3)
        thresholds["min_complexity_types"] = complexity.get("min_complexity_types", 5)
        grounding = data["numerical_grounding"]
        for key in ("require_calculation_steps", "require_qualitative_anchors"):
            grounding[key] = bool(self.numerical_grounding.get(key, False))
        routing = self.efficiency_optimization.get("model_routing")
        if routing:
            data["model_routing"] = {
                "by_complexity": {"baseline": routing.get("simple_examples", DEFAULT_MODEL)},
                "default": routing.get("complex_examples"),
                "judge": routing.get("validation"),
                "min_judge_score": data["model_routing"]["min_judge_score"],
            }
        return Spec.model_validate(data)

    def context(self, **changes: Any) -> RunContext:
        """The RunContext a run of this config uses."""
        spec = self.to_spec()
        source = DEFAULT_SPEC
        if spec != load_spec(DEFAULT_SPEC):  # write the derived spec once, named by content
            folder = Path(self.output_dir) / "specs"
            folder.mkdir(parents=True, exist_ok=True)
            text = json.dumps(spec.model_dump(mode="json"), sort_keys=True)
            path = folder / f"config-{hashlib.sha256(text.encode()).hexdigest()[:12]}.json"
            if not path.exists():
                path.write_text(text)
            source = str(path)
        values: dict[str, Any] = {
            "spec": source,
            "backend": self.backend,
            "model": self.model,
            "base_url": self.base_url,
            "db_url": self.db_url,
            "out_dir": str(Path(self.output_dir) / RUN_ID_FIELD),  # each call is a run
            "batch_size": self.batch_size_emotional,
            "seed": self.seed,
            "routing": "spec" if self.efficiency_optimization.get("model_routing") else "",
        }
        return RunContext(**(values | changes))


def initialize_enhanced_config(overrides: dict[str, Any] | None = None) -> EnhancedTrainingConfig:
    """The seed's defaults with `overrides` merged in (nested dicts merge key by key).

    Raises:
        BadInputError: a key the config does not have.
    """
    merged = copy.deepcopy(SEED_DEFAULTS)
    known = set(EnhancedTrainingConfig.__dataclass_fields__)
    for key, value in (overrides or {}).items():
        if key not in known:
            raise BadInputError(f"unknown config key {key!r}; known: {', '.join(sorted(known))}")
        merged[key] = _merge(merged.get(key), value)
    return EnhancedTrainingConfig(**merged)


def _merge(base: Any, change: Any) -> Any:
    if isinstance(base, dict) and isinstance(change, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in change.items()}}
    return change


class SystematicParameterGenerator:
    """The seed's generator: coverage-planned batches with tracking, run by the graph."""

    stages = 1

    def __init__(self, config: EnhancedTrainingConfig | None = None) -> None:
        self.config = config or initialize_enhanced_config()
        self.spec = self.config.to_spec()
        self._planned: dict[str, Any] | None = None  # thread and run of planned scenarios

    def run_systematic_production_cycle(
        self, target_examples: int, use_batch_processing: bool = True
    ) -> dict[str, Any]:
        """Generate `target_examples` in one run; batches of `batch_size_emotional`, or 1.

        Returns the seed's shape: the examples under the spec's name (`"emotional_authenticity"`)
        and under `"examples"`, with `run_id`, `status`, `quality_analysis` and `manifest`.
        """
        size = self.config.batch_size_emotional if use_batch_processing else 1
        context = self.config.context(batch_size=size, stages=self.stages)
        result = (
            build_graph()
            .compile()
            .invoke({"target": target_examples}, context.graph_config(), context=context)
        )
        examples = open_ledger(context.db_url).examples(result["run_id"])
        return {
            self.spec.name: examples,  # the seed keys results by data type
            "run_id": result["run_id"],
            "status": result["status"],
            "examples": examples,
            "quality_analysis": quality_analysis(self.spec, examples, target_examples),
            "manifest": result["manifest"],
        }

    def generate_systematic_emotional_batch(self, batch_size: int) -> list[dict[str, Any]]:
        """One batch of `batch_size` new examples, planned from the ledger's gaps."""
        result = self.run_systematic_production_cycle(batch_size, use_batch_processing=True)
        return list(result["examples"])

    def get_coverage_report(self) -> dict[str, Any]:
        """The seed's coverage report, from the ledger."""
        return coverage_report(open_ledger(self.config.db_url), self.spec)

    def _generate_systematic_parameters(self, batch_size: int) -> list[dict[str, Any]]:
        """Plan `batch_size` scenarios from the coverage gaps (the graph's plan_gaps and
        compose, stopped before generation); `generate_batch_with_shared_context` goes on."""
        graph = build_lane_graph().compile(checkpointer=InMemorySaver())  # one lane, stoppable
        context = self.config.context(batch_size=batch_size, stages=1, max_calls=1)
        thread = context.graph_config(uuid.uuid4().hex)
        payload = {"target": batch_size, "run_id": new_run_id()}
        graph.invoke(payload, thread, context=context, interrupt_after=["compose"])
        state = graph.get_state(thread).values
        scenarios = [s for batch in state["batches"] for s in batch["scenarios"]]
        self._planned = {"graph": graph, "thread": thread, "context": context, "state": state}
        return scenarios

    def generate_batch_with_shared_context(
        self, scenarios: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """ONE LLM call for all the scenarios (the graph's generate, parse, validate, repair and
        record, stopped after recording); returns the accepted examples."""
        if self._planned is None:
            self._generate_systematic_parameters(len(scenarios))
        assert self._planned is not None
        graph, thread = self._planned["graph"], self._planned["thread"]
        context, state = self._planned["context"], self._planned["state"]
        chosen = [Scenario.model_validate(s) for s in scenarios]
        batch = BatchTask(
            batch_id=f"b{uuid.uuid4().hex[:15]}", wave=state["wave"], scenarios=chosen
        )
        graph.update_state(thread, {"batches": [batch.model_dump()]}, as_node="compose")
        graph.invoke(None, thread, context=context, interrupt_after=["record"])
        self._planned = None
        ids = {s.scenario_id for s in chosen}
        return [
            e
            for e in open_ledger(context.db_url).examples(state["run_id"])
            if e["scenario_id"] in ids
        ]

    def track_generation_coverage(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        """Quality analysis of these examples, and the ledger's cells still empty as `gaps`."""
        analysis = quality_analysis(self.spec, examples)
        analysis["gaps"] = self.get_coverage_report()["gaps_to_fill"]
        return analysis


class MultiStepSystematicGenerator(SystematicParameterGenerator):
    """The seed's multi-step generator: situations in one batched call, responses in a second."""

    stages = 2

    def generate_complete_batch_systematic(
        self, batch_size: int, target_coverage: dict[str, Any] | None = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """A two-stage batch; with `target_coverage` (a coverage report), its gaps go first."""
        context = self.config.context(batch_size=batch_size, stages=2)
        payload: dict[str, Any] = {"target": batch_size}
        if target_coverage and target_coverage.get("gaps_to_fill"):
            payload["focus_cells"] = [
                {
                    "capacity_level": gap["capacity"],
                    "authenticity_target": gap["authenticity"],
                    "complexity_type": gap["complexity"],
                }
                for gap in target_coverage["gaps_to_fill"]
            ]
        result = build_graph().compile().invoke(payload, context.graph_config(), context=context)
        samples = open_ledger(context.db_url).examples(result["run_id"])
        return samples, quality_analysis(self.spec, samples, batch_size)

    def save_systematic_multi_step_batch(
        self, samples: list[dict[str, Any]], quality_analysis: dict[str, Any], batch_num: int
    ) -> Path:
        """Write the samples and their analysis to OUTPUT/systematic_multi_step_batch_NNN.json."""
        folder = Path(self.config.output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"systematic_multi_step_batch_{batch_num:03d}.json"
        body = {"batch_num": batch_num, "samples": samples, "quality_analysis": quality_analysis}
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False))
        return path
