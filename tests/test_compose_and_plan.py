"""compose draws numbers inside the buckets by the spec's rules; plan_gaps fills gaps first."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from spectrumgen.nodes.compose import batch_id, compose_scenario
from spectrumgen.nodes.plan_gaps import choose_cells, still_needed
from spectrumgen.quotas import allocate
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import AXIS_NAMES, Spec

TARGETS = ("failed", "struggling", "authentic", "excellent")


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("capacity", ["crisis", "low", "medium", "high"])
def test_scenarios_stay_inside_their_buckets_and_follow_the_support_rule(
    spec: Spec, capacity: str, target: str
) -> None:
    cell = Cell(capacity_level=capacity, authenticity_target=target, complexity_type="baseline")
    rule = spec.authenticity(target)
    for number in range(200):
        scenario = compose_scenario(spec, cell, f"s{number}", random.Random(number))
        assert spec.capacity(capacity).range.contains(scenario.effective_capacity)
        assert rule.range.contains(scenario.authenticity_score)
        assert scenario.support_ceiling == min(10.0, round(scenario.effective_capacity + 2, 2))
        assert 0 <= scenario.support_needed <= 10
        unclamped = scenario.effective_capacity + rule.support_offset.low - 0.05
        if scenario.support_needed < 10:
            assert scenario.support_needed >= max(rule.support_floor, unclamped)
            assert scenario.support_needed <= max(
                rule.support_floor, scenario.effective_capacity + rule.support_offset.high + 0.05
            )


def test_failed_scenarios_need_more_than_the_character_can_give(spec: Spec) -> None:
    cell = Cell(capacity_level="low", authenticity_target="failed", complexity_type="baseline")
    for number in range(100):
        scenario = compose_scenario(spec, cell, f"s{number}", random.Random(number))
        assert scenario.support_needed > scenario.support_ceiling


def test_composing_is_deterministic_and_batch_ids_are_stable(spec: Spec) -> None:
    cell = Cell(capacity_level="high", authenticity_target="excellent", complexity_type="baseline")
    first = compose_scenario(spec, cell, "s1", random.Random("0|run|1"))
    again = compose_scenario(spec, cell, "s1", random.Random("0|run|1"))
    assert first == again
    assert batch_id("run", [first]) == batch_id("run", [again])
    retry = first.model_copy(update={"attempt": 2})
    assert batch_id("run", [first]) != batch_id("run", [retry])


def test_chosen_cells_meet_every_axis_quota_exactly(spec: Spec) -> None:
    need = still_needed(allocate(spec, 64), {})
    cells = choose_cells(need, {}, 64, [], random.Random(0))
    assert len(cells) == 64
    for axis in AXIS_NAMES:
        counts = Counter(getattr(c, axis) for c in cells)
        assert dict(counts) == {b: n for b, n in allocate(spec, 64)[axis].items() if n}
    assert len({c.key() for c in cells}) == 64, "64 of 128 cells: none should repeat"


def test_uncovered_cells_come_before_covered_ones(spec: Spec) -> None:
    need = still_needed(allocate(spec, 64), {})
    covered = {c.key(): 3 for c in choose_cells(dict(need), {}, 64, [], random.Random(1))}
    need = still_needed(allocate(spec, 64), {})
    again = choose_cells(need, covered, 40, [], random.Random(2))
    assert all(c.key() not in covered for c in again)


def test_cells_of_given_up_scenarios_are_planned_first(spec: Spec) -> None:
    need = still_needed(allocate(spec, 64), {})
    wanted = Cell(
        capacity_level="crisis", authenticity_target="excellent", complexity_type="mixed_emotions"
    )
    cells = choose_cells(need, {wanted.key(): 50}, 3, [wanted], random.Random(0))
    assert cells[0] == wanted


def test_planning_stops_when_an_axis_has_nothing_left_to_need(spec: Spec) -> None:
    need = still_needed(allocate(spec, 4), {})
    assert len(choose_cells(need, {}, 10, [], random.Random(0))) == 4


def test_a_big_grid_is_searched_with_the_same_ranking_as_a_full_scan() -> None:
    # 50 x 40 x 50 = 100,000 cells, needs of 1-3 per bucket, 500 cells covered: every pick must
    # be an uncovered cell whose buckets need the most, as ranking all cells would have it.
    draw = random.Random(7)
    sizes = dict(zip(AXIS_NAMES, (50, 40, 50), strict=True))
    need = {
        axis: {f"{axis[0]}{i}": draw.randint(1, 3) for i in range(n)} for axis, n in sizes.items()
    }
    names = {axis: list(buckets) for axis, buckets in need.items()}
    covered = {tuple(draw.choice(names[a]) for a in AXIS_NAMES): 2 for _ in range(500)}
    left = {axis: dict(buckets) for axis, buckets in need.items()}
    cells = choose_cells(need, covered, 20, [], random.Random(3))
    assert len(cells) == 20
    taken: set[tuple[str, ...]] = set()
    for cell in cells:
        key = cell.key()
        best = max(
            left["capacity_level"][c] * left["authenticity_target"][a] * left["complexity_type"][x]
            for c in names["capacity_level"]
            for a in names["authenticity_target"]
            for x in names["complexity_type"]
            if (c, a, x) not in covered
            and (c, a, x) not in taken
            and min(
                left["capacity_level"][c],
                left["authenticity_target"][a],
                left["complexity_type"][x],
            )
            > 0
        )
        assert key not in covered and key not in taken
        assert math.prod(left[axis][b] for axis, b in zip(AXIS_NAMES, key, strict=True)) == best
        for axis, bucket in zip(AXIS_NAMES, key, strict=True):
            left[axis][bucket] -= 1
        taken.add(key)
    again = choose_cells({a: dict(b) for a, b in left.items()}, covered, 5, [], random.Random(3))
    assert again == choose_cells(
        {a: dict(b) for a, b in left.items()}, covered, 5, [], random.Random(3)
    )
