"""Claims: how several workers share one run without generating a cell twice beyond its need.

A worker claims the cells it is about to generate, under a lock on the run's row (`SELECT ...
FOR UPDATE` on PostgreSQL; SQLite serialises writers), counting what is accepted and what every
other worker holds. A claim lives until its example is recorded or given up (in the same
transaction that records the batch), or until its lease runs out because its worker died; each
wave renews the worker's leases. Recording re-checks the quotas under the same lock, so together
the workers reach exactly the target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from spectrumgen.ledger.store import (
    ACCEPTED_PER_BUCKET,
    CLAIMED_PER_BUCKET,
    InTransaction,
    Ledger,
    per_bucket,
)
from spectrumgen.ledger.tables import Claim, Run, utc_now
from spectrumgen.schemas.scenario import Cell
from spectrumgen.schemas.spec import AXIS_NAMES


def scenario_id(number: int) -> str:
    """The id of a run's scenario with this sequence number."""
    return f"s{number:05d}"


# The statements of claiming, built once: a lane claims before every batch, and building a
# statement (and, for the ORM, loading and flushing objects) cost more than SQLite running it.
_LIVE = select(
    Claim.capacity_level,
    Claim.authenticity_target,
    Claim.complexity_type,
    Claim.scenario_id,
    Claim.worker,
).where(Claim.run_id == bindparam("run"), Claim.expires_at > bindparam("now"))
_DROP_OTHERS = delete(Claim).where(
    Claim.run_id == bindparam("run"),
    Claim.worker == bindparam("holder"),
    Claim.scenario_id.not_in(bindparam("keep", expanding=True)),
)
_RENEW = (
    update(Claim)
    .where(Claim.run_id == bindparam("run"), Claim.worker == bindparam("holder"))
    .values(expires_at=bindparam("expires"))
)
_NEXT_NUMBER = (  # locks the run's row on PostgreSQL; SQLite's writers already take turns
    select(Run.next_scenario_seq).where(Run.run_id == bindparam("run")).with_for_update()
)
_TAKE_NUMBERS = (
    update(Run).where(Run.run_id == bindparam("run")).values(next_scenario_seq=bindparam("next"))
)
_INSERT = insert(Claim)


def live_claims(
    ledger: Ledger, run_id: str, session: InTransaction | None = None
) -> list[dict[str, Any]]:
    """Every unexpired claim of the run, as quota rows (the three axes, and who holds it)."""
    with ledger.sessions.reusing(session) as session:
        rows = session.connection().execute(_LIVE, {"run": run_id, "now": utc_now()})
        return [dict(zip((*AXIS_NAMES, "scenario_id", "worker"), r, strict=True)) for r in rows]


def keep_only(
    ledger: Ledger, run_id: str, worker: str, keep: Iterable[str], lease_seconds: int
) -> None:
    """Renew the worker's claims on `keep` and drop its others (work its past self lost)."""
    with ledger.sessions.write() as session:
        keep_only_in(session.connection(), run_id, worker, keep, lease_seconds)


def keep_only_in(
    db: Connection, run_id: str, worker: str, keep: Iterable[str], lease_seconds: int
) -> None:
    kept = {"run": run_id, "holder": worker}
    db.execute(_DROP_OTHERS, {**kept, "keep": list(keep)})
    db.execute(_RENEW, {**kept, "expires": utc_now() + timedelta(seconds=lease_seconds)})


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
    with ledger.sessions.write() as session:
        db = session.connection()
        if keep is not None:
            keep_only_in(db, run_id, worker, keep, lease_seconds)
        if not cells:
            return []
        first = lock_run(db, run_id)
        accepted, total = per_bucket(db.execute(ACCEPTED_PER_BUCKET, {"run": run_id}))
        claimed, in_flight = per_bucket(
            db.execute(CLAIMED_PER_BUCKET, {"run": run_id, "now": utc_now()})
        )
        taken = {axis: Counter(accepted[axis]) + Counter(claimed[axis]) for axis in AXIS_NAMES}
        return claim_counted(
            db, run_id, worker, cells, quota, target, lease_seconds, first, taken, total + in_flight
        )


def lock_run(db: Connection, run_id: str) -> int:
    """Lock the run's row for this transaction (PostgreSQL; SQLite's writers already take turns)
    and return the next free scenario sequence number."""
    return int(db.execute(_NEXT_NUMBER, {"run": run_id}).scalar_one())


def claim_counted(
    db: Connection,
    run_id: str,
    worker: str,
    cells: list[Cell],
    quota: Mapping[str, Mapping[str, int]],
    target: int,
    lease_seconds: int,
    first: int,
    taken: Mapping[str, Mapping[str, int]],
    total: int,
) -> list[tuple[Cell, int]]:
    """Claim the cells that still fit the quotas in a transaction that locked the run
    (`lock_run`, which gave `first`) and counted, under that lock, what is accepted or claimed
    per bucket (`taken`, `total` of them). Returns the granted cells with their numbers."""
    counts = {axis: Counter(taken[axis]) for axis in AXIS_NAMES}
    granted: list[Cell] = []
    for cell in cells:
        if total >= target:
            break
        buckets = list(zip(AXIS_NAMES, cell.key(), strict=True))
        if all(counts[axis][b] < quota[axis].get(b, 0) for axis, b in buckets):
            for axis, b in buckets:
                counts[axis][b] += 1
            total += 1
            granted.append(cell)
    if not granted:
        return []
    db.execute(_TAKE_NUMBERS, {"run": run_id, "next": first + len(granted)})
    expires = utc_now() + timedelta(seconds=lease_seconds)
    db.execute(
        _INSERT,
        [
            {
                "run_id": run_id,
                "scenario_id": scenario_id(first + i),
                "worker": worker,
                **cell.model_dump(),
                "expires_at": expires,
            }
            for i, cell in enumerate(granted)
        ],
    )
    return [(cell, first + i) for i, cell in enumerate(granted)]
