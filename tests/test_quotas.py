"""Quotas: the target is shared by frequency, floors and caps hold, and shortfalls are named."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from spectrumgen.quotas import allocate, apportion, evaluate
from spectrumgen.schemas.spec import AXIS_NAMES, Spec


def test_a_target_of_64_is_shared_by_the_seeds_frequencies(spec: Spec) -> None:
    quota = allocate(spec, 64)
    assert quota["authenticity_target"] == {
        "failed": 10,
        "struggling": 13,
        "authentic": 22,
        "excellent": 19,
    }
    assert quota["capacity_level"] == {"crisis": 10, "low": 16, "medium": 22, "high": 16}
    assert set(quota["complexity_type"].values()) == {8}


def test_the_seeds_minimums_are_floors_when_the_target_can_hold_them(spec: Spec) -> None:
    quota = allocate(spec, 13)
    assert quota["authenticity_target"]["failed"] >= 2
    assert quota["authenticity_target"]["struggling"] >= 3
    assert quota["complexity_type"]["people_pleasing"] >= 2
    for axis in AXIS_NAMES:
        assert sum(quota[axis].values()) == 13


@given(st.integers(min_value=1, max_value=3000))
def test_every_target_is_shared_exactly_and_never_breaks_a_cap(target: int) -> None:
    from spectrumgen.specs import load_spec

    spec = load_spec()
    quota = allocate(spec, target)
    for axis in AXIS_NAMES:
        assert sum(quota[axis].values()) == target
    assert quota["authenticity_target"]["excellent"] <= int(0.4 * target + 1e-9)
    assert quota["complexity_type"]["baseline"] <= int(0.3 * target + 1e-9)


@given(
    st.integers(min_value=0, max_value=500),
    st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=12),
)
def test_apportion_stays_within_one_of_each_proportional_share(total: int, weights: list[float]):
    named = {f"b{i}": w for i, w in enumerate(weights)}
    shares = apportion(total, named)
    assert sum(shares.values()) == total
    for name, weight in named.items():
        assert abs(shares[name] - total * weight / sum(weights)) < 1 + 1e-9


def _midpoint(spec: Spec, target_name: str) -> float:
    score_range = spec.authenticity(target_name).range
    return (score_range.low + score_range.high) / 2


def _rows(spec: Spec, target: int) -> list[dict]:
    """Rows that exactly meet the allocation, scores at each target's range midpoint."""
    quota = allocate(spec, target)
    columns = {axis: [b for b, n in quota[axis].items() for _ in range(n)] for axis in AXIS_NAMES}
    return [
        {
            "capacity_level": columns["capacity_level"][i],
            "authenticity_target": columns["authenticity_target"][i],
            "complexity_type": columns["complexity_type"][i],
            "authenticity_score": _midpoint(spec, columns["authenticity_target"][i]),
        }
        for i in range(target)
    ]


def test_rows_that_match_the_allocation_meet_every_quota(spec: Spec) -> None:
    report = evaluate(spec, 64, _rows(spec, 64))
    assert report.met, report.shortfalls


def test_shortfalls_name_the_bucket_and_threshold(spec: Spec) -> None:
    rows = _rows(spec, 64)
    for row in rows:
        if row["authenticity_target"] == "failed":
            row["authenticity_target"] = "excellent"
    report = evaluate(spec, 64, rows)
    assert not report.met
    assert "authenticity_target=failed: 0/10" in report.shortfalls
    assert any(s.startswith("max_share.excellent") for s in report.shortfalls)
    assert any(s.startswith("min_examples.failed") for s in report.shortfalls)


def test_too_few_rows_fall_short_of_the_target(spec: Spec) -> None:
    report = evaluate(spec, 64, _rows(spec, 64)[:60])
    assert not report.met
    assert report.accepted == 60
