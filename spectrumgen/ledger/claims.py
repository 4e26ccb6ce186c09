"""Claims: how several workers share one run without generating a cell twice beyond its need.

A worker claims the cells it is about to generate, under a lock on the run's row (`SELECT ...
FOR UPDATE` on PostgreSQL; SQLite serialises writers), counting what is accepted and what every
other worker holds. A claim lives until its example is recorded or given up (in the same
transaction that records the batch), or until its lease runs out because its worker died; each
wave renews the worker's leases. Recording re-checks the quotas under the same lock, so together
the workers reach exactly the target.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from spectrumgen.ledger.store import Ledger, accepted_per_cell
from spectrumgen.ledger.tables import Claim, Run, utc_now
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import AXIS_NAMES


def scenario_id(number: int) -> str:
    """The id of a run's scenario with this sequence number."""
    return f"s{number:05d}"


def live_claims(
    ledger: Ledger, run_id: str, session: Session | None = None
) -> list[dict[str, Any]]:
    """Every unexpired claim of the run, as quota rows (the three axes, and who holds it)."""
    with ledger.sessions.reusing(session) as session:
        rows = session.execute(
            select(
                Claim.capacity_level,
                Claim.authenticity_target,
                Claim.complexity_type,
                Claim.scenario_id,
                Claim.worker,
            ).where(Claim.run_id == run_id, Claim.expires_at > utc_now())
        )
        return [dict(zip((*AXIS_NAMES, "scenario_id", "worker"), r, strict=True)) for r in rows]


def keep_only(
    ledger: Ledger, run_id: str, worker: str, keep: Iterable[str], lease_seconds: int
) -> None:
    """Renew the worker's claims on `keep` and drop its others (work its past self lost)."""
    with ledger.sessions.begin() as session:
        _keep_only(session, run_id, worker, keep, lease_seconds)


def _keep_only(
    session: Session, run_id: str, worker: str, keep: Iterable[str], lease_seconds: int
) -> None:
    kept = set(keep)
    mine = session.scalars(
        select(Claim.scenario_id).where(Claim.run_id == run_id, Claim.worker == worker)
    ).all()
    lost = [s for s in mine if s not in kept]
    if lost:
        session.execute(delete(Claim).where(Claim.run_id == run_id, Claim.scenario_id.in_(lost)))
    if len(lost) < len(mine):
        session.execute(
            update(Claim)
            .where(Claim.run_id == run_id, Claim.worker == worker)
            .values(expires_at=utc_now() + timedelta(seconds=lease_seconds))
        )


def claim_cells(
    ledger: Ledger,
    run_id: str,
    worker: str,
    cells: list[Cell],
    quota: Mapping[str, Mapping[str, int]],
    target: int,
    lease_seconds: int,
    keep: Iterable[str] | None = None,
) -> list[tuple[Cell, int]]:
    """Claim the cells that still fit the quotas, counting every worker; each gets a scenario
    sequence number nobody else will get. Returns the granted cells with their numbers.

    With `keep`, the worker's claims on those scenarios are renewed and its others dropped
    first (`keep_only`), in the same transaction."""
    with ledger.sessions.begin() as session:
        if keep is not None:
            _keep_only(session, run_id, worker, keep, lease_seconds)
        if not cells:
            return []
        run = session.execute(
            select(Run).where(Run.run_id == run_id).with_for_update()
        ).scalar_one()
        now = utc_now()
        taken = [
            *session.execute(accepted_per_cell(run_id)),
            *session.execute(
                select(
                    Claim.capacity_level,
                    Claim.authenticity_target,
                    Claim.complexity_type,
                    func.count(),
                )
                .where(Claim.run_id == run_id, Claim.expires_at > now)
                .group_by(Claim.capacity_level, Claim.authenticity_target, Claim.complexity_type)
            ),
        ]
        counts = {axis: dict.fromkeys(quota[axis], 0) for axis in AXIS_NAMES}
        for *cell, count in taken:
            for axis, bucket in zip(AXIS_NAMES, cell, strict=True):
                counts[axis][bucket] = counts[axis].get(bucket, 0) + count
        total, granted = sum(count for *_, count in taken), []
        for cell in cells:
            if total >= target:
                break
            buckets = list(zip(AXIS_NAMES, cell.key(), strict=True))
            if all(counts[axis][b] < quota[axis].get(b, 0) for axis, b in buckets):
                for axis, b in buckets:
                    counts[axis][b] += 1
                total += 1
                granted.append(cell)
        first = run.next_scenario_seq
        run.next_scenario_seq = first + len(granted)
        expires = now + timedelta(seconds=lease_seconds)
        session.add_all(
            Claim(
                run_id=run_id,
                scenario_id=scenario_id(first + i),
                worker=worker,
                capacity_level=cell.capacity_level,
                authenticity_target=cell.authenticity_target,
                complexity_type=cell.complexity_type,
                expires_at=expires,
            )
            for i, cell in enumerate(granted)
        )
        return [(cell, first + i) for i, cell in enumerate(granted)]
