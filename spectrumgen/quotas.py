"""Quotas: how many examples each bucket must get for a target, and whether a run meets them.

The seed's minimums are floors and the frequencies set the shares: a target of N is shared
out one example at a time to the bucket furthest below its proportional share, after every
bucket got its floor, and never past a bucket's `max_share` cap. For targets too small to hold
the floors (the seed's sum to 12 and 13), the floors are dropped and the count thresholds shrink
to what the allocation holds, so small demo runs can still finish.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, computed_field

from spectrumgen.errors import BadInputError
from spectrumgen.schemas.spec import AXIS_NAMES, Spec


def apportion(
    total: int,
    weights: Mapping[str, float],
    floors: Mapping[str, int] | None = None,
    caps: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """Share `total` over the buckets in proportion to `weights`, honouring floors and caps.

    Each bucket starts at the whole part of its share (raised to its floor, cut to its cap);
    what is left over goes one at a time to the bucket furthest below its share, and any excess
    the floors caused is taken back from the buckets furthest above theirs.

    Raises:
        BadInputError: the caps leave no room for `total`.
    """
    floors = floors or {}
    caps = caps or {}
    if total < sum(floors.values()):
        floors = {}
    weight_sum = sum(weights.values())
    share = {name: total * weight / weight_sum for name, weight in weights.items()}
    order = {name: index for index, name in enumerate(weights)}
    allocation = {
        name: min(caps.get(name, total), max(floors.get(name, 0), math.floor(share[name])))
        for name in weights
    }
    while sum(allocation.values()) < total:
        open_buckets = [n for n in weights if allocation[n] < caps.get(n, total)]
        if not open_buckets:
            raise BadInputError(f"a target of {total} cannot fit under the spec's max_share caps")
        chosen = max(open_buckets, key=lambda n: (share[n] - allocation[n], weights[n], -order[n]))
        allocation[chosen] += 1
    while sum(allocation.values()) > total:
        chosen = max(
            (n for n in weights if allocation[n] > floors.get(n, 0)),
            key=lambda n: (allocation[n] - share[n], -weights[n], order[n]),
        )
        allocation[chosen] -= 1
    return allocation


def allocate(spec: Spec, target: int) -> dict[str, dict[str, int]]:
    """The count each bucket of each axis must reach for a run of `target` examples (worked out
    once per spec and target: every node of every batch asks; a fresh copy each time)."""
    key = (id(spec), target)
    known = _ALLOCATED.get(key)
    if known is None or known[0] is not spec:
        caps = {
            bucket: math.floor(share * target + 1e-9)
            for bucket, share in spec.quality_thresholds.max_share.items()
        }
        required = {
            axis: apportion(target, spec.frequencies(axis), spec.floors(axis), caps)
            for axis in AXIS_NAMES
        }
        if len(_ALLOCATED) >= 64:
            _ALLOCATED.clear()
        _ALLOCATED[key] = known = (spec, required)
    return {axis: dict(buckets) for axis, buckets in known[1].items()}


# (id of the spec, target) -> (the spec itself, held so its id is not reused; its quotas).
_ALLOCATED: dict[tuple[int, int], tuple[Spec, dict[str, dict[str, int]]]] = {}


class QuotaReport(BaseModel):
    """Where a run stands against its target, its bucket quotas and the spec's thresholds."""

    target: int
    accepted: int
    required: dict[str, dict[str, int]]
    actual: dict[str, dict[str, int]]
    shortfalls: list[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def met(self) -> bool:
        """True when the target is reached and no quota or threshold falls short."""
        return self.accepted >= self.target and not self.shortfalls


def bucket_counts(spec: Spec, rows: Iterable[Mapping[str, object]]) -> dict[str, dict[str, int]]:
    """How many rows fall in each bucket of each axis (every bucket listed, zeros included).

    A row is one example, or a cell of `count` examples (`Ledger.accepted_cells`)."""
    counts = {axis: {name: 0 for name in spec.bucket_names(axis)} for axis in AXIS_NAMES}
    for row in rows:
        weight = _count(row)
        for axis in AXIS_NAMES:
            counts[axis][str(row[axis])] += weight
    return counts


def _count(row: Mapping[str, object]) -> int:
    return int(str(row.get("count", 1)))


@dataclass(frozen=True)
class Standing:
    """What a run has accepted, as its quotas and thresholds see it: the count in every bucket
    of every axis (zeros included), the total, and the lowest and highest authenticity score.
    The ledger reads it summed per bucket (`Ledger.standing`), so its cost follows the buckets,
    not the cells or the examples."""

    counts: dict[str, dict[str, int]]
    accepted: int
    low: float | None = None
    high: float | None = None

    @classmethod
    def of_rows(cls, spec: Spec, rows: Sequence[Mapping[str, object]]) -> Standing:
        """From example rows (the axes and `authenticity_score`) or cell rows (the axes,
        `count`, `min_score` and `max_score`)."""
        lows = [float(str(row.get("min_score", row.get("authenticity_score")))) for row in rows]
        highs = [float(str(row.get("max_score", row.get("authenticity_score")))) for row in rows]
        return cls(
            counts=bucket_counts(spec, rows),
            accepted=sum(_count(row) for row in rows),
            low=min(lows, default=None),
            high=max(highs, default=None),
        )


def evaluate(
    spec: Spec,
    target: int,
    accepted: Standing | Sequence[Mapping[str, object]],
) -> QuotaReport:
    """Check what a run accepted: its `Standing`, or its example or cell rows (see
    `Standing.of_rows`)."""
    standing = accepted if isinstance(accepted, Standing) else Standing.of_rows(spec, accepted)
    required = allocate(spec, target)
    actual = standing.counts
    shortfalls = [
        f"{axis}={bucket}: {actual[axis].get(bucket, 0)}/{count}"
        for axis in AXIS_NAMES
        for bucket, count in required[axis].items()
        if actual[axis].get(bucket, 0) < count
    ]
    shortfalls += _threshold_shortfalls(spec, target, required, standing)
    return QuotaReport(
        target=target,
        accepted=standing.accepted,
        required=required,
        actual=actual,
        shortfalls=shortfalls,
    )


def _threshold_shortfalls(
    spec: Spec, target: int, required: dict[str, dict[str, int]], standing: Standing
) -> list[str]:
    thresholds = spec.quality_thresholds
    actual, accepted = standing.counts, standing.accepted
    found: list[str] = []
    for bucket, minimum in thresholds.min_examples.items():
        axis = spec.axis_of(bucket)
        needed = min(minimum, required[axis][bucket])
        if actual[axis].get(bucket, 0) < needed:
            found.append(f"min_examples.{bucket}: {actual[axis].get(bucket, 0)} < {needed}")
    for bucket, share in thresholds.max_share.items():
        count = actual[spec.axis_of(bucket)].get(bucket, 0)
        if accepted and count > math.floor(share * max(accepted, target) + 1e-9):
            found.append(f"max_share.{bucket}: {count}/{accepted} is above {share:.0%}")
    present = sum(1 for count in actual["complexity_type"].values() if count)
    planned = sum(1 for count in required["complexity_type"].values() if count)
    wanted_types = min(thresholds.min_complexity_types, planned)
    if present < wanted_types:
        found.append(f"min_complexity_types: {present} < {wanted_types}")
    wanted_spread = min(thresholds.min_authenticity_spread, _reachable_spread(spec, required))
    low, high = standing.low, standing.high
    spread = high - low if low is not None and high is not None else 0.0
    if spread + 1e-9 < wanted_spread:
        found.append(f"min_authenticity_spread: {spread:.2f} < {wanted_spread:.2f}")
    return found


def _reachable_spread(spec: Spec, required: dict[str, dict[str, int]]) -> float:
    """The authenticity spread the planned buckets guarantee (0 when only one is planned)."""
    planned = [
        spec.authenticity(name).range
        for name, count in required["authenticity_target"].items()
        if count
    ]
    if len(planned) < 2:
        return 0.0
    return max(0.0, max(r.low for r in planned) - min(r.high for r in planned))
