"""Small builders shared by tests."""

from __future__ import annotations

import json
import random

from spectrumgen.llm.scripted import write_example
from spectrumgen.nodes.compose import compose_scenario
from spectrumgen.schemas.prompts import scenario_line
from spectrumgen.schemas.scenario import Cell, Scenario
from spectrumgen.schemas.spec import Spec


class FakeRuntime:
    """The parts of a LangGraph runtime that nodes read: the context and a stream writer."""

    def __init__(self, context: object) -> None:
        self.context = context
        self.events: list[dict] = []
        self.stream_writer = self.events.append


def make_scenarios(spec: Spec, count: int, seed: int = 0) -> list[Scenario]:
    """Scenarios cycling through every target and complexity type."""
    targets = spec.bucket_names("authenticity_target")
    types = spec.bucket_names("complexity_type")
    levels = spec.bucket_names("capacity_level")
    return [
        compose_scenario(
            spec,
            Cell(
                capacity_level=levels[i % len(levels)],
                authenticity_target=targets[i % len(targets)],
                complexity_type=types[i % len(types)],
            ),
            f"s{i:05d}",
            random.Random(f"{seed}|{i}"),
        )
        for i in range(count)
    ]


def valid_item(scenario: Scenario, seed: int = 0) -> dict:
    """The item the scripted backend would write for a scenario: valid by construction."""
    return write_example(json.loads(scenario_line(scenario)), random.Random(seed))
