"""The ledger: every read and write the graph makes against the coverage database.

Writes happen in one transaction per batch and are idempotent on the batch id, so a batch
replayed after a crash is never recorded twice.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Connection,
    Engine,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    IntegrityError,
    NoSuchModuleError,
)
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from spectrumgen.errors import (
    BadInputError,
    LedgerDamagedError,
    LedgerUnavailableError,
    SpectrumgenError,
)
from spectrumgen.ledger.tables import (
    JUDGE_SUFFIX,
    Base,
    Batch,
    Claim,
    Example,
    ParameterCoverage,
    Rejection,
    Run,
    RunCell,
    RunTotals,
    utc_now,
)
from spectrumgen.ledger.versions import prepare_schema
from spectrumgen.quotas import Standing
from spectrumgen.schemas.batch import JudgeCall, Outcome, RawReply, RejectedRecord
from spectrumgen.schemas.example import ExampleRecord
from spectrumgen.schemas.spec import AXIS_NAMES, Spec

CellKey = tuple[str, str, str]


@dataclass(frozen=True)
class RunStats:
    """Totals of one run, summed from its batches, examples and rejections."""

    llm_calls: int
    items_requested: int
    repair_items: int
    accepted: int
    rejected: int
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool
    llm_seconds: float


@dataclass(frozen=True)
class Recorded:
    """What recording a batch did (`Ledger.record`): the examples new to the ledger (None for a
    batch already recorded), and the run after it: its standing (given the spec) and totals,
    and the spec's coverage counts (across all runs) of the cells it wrote."""

    written: list[ExampleRecord] | None
    standing: Standing | None
    stats: RunStats
    covered: dict[CellKey, int] = field(default_factory=dict)


class Ledger:
    """Access to one ledger database (any SQLAlchemy URL)."""

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = make_engine(url)
        except (ArgumentError, NoSuchModuleError, ImportError) as error:
            raise BadInputError(f"ledger URL {url!r} is not usable: {error}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _tune_sqlite)
            event.listen(self.engine, "begin", _begin_sqlite)
        try:
            self.upgraded = prepare_schema(self.engine, url)  # a note when it was upgraded
            _check_columns(self.engine, url)
        except DatabaseError as error:
            raise opening_error(url, error) from None
        self.sessions = Sessions(self.engine, one_connection=in_memory(url))
        self.url = url

    # --- runs -------------------------------------------------------------------------------

    def start_run(
        self,
        run_id: str,
        spec: Spec,
        target: int,
        seed: int,
        backend: str,
        model: str,
        routing: str = "",
    ) -> Run:
        """Create the run, or return it when it exists with the same spec.

        Raises:
            BadInputError: the run exists with another spec.
        """
        with self.sessions.begin() as session:
            run = session.get(Run, run_id)
            if run is None:
                run = Run(
                    run_id=run_id,
                    spec_name=spec.name,
                    spec_hash=spec.content_hash(),
                    target=target,
                    seed=seed,
                    backend=backend,
                    model=model,
                    routing=routing,
                )
                session.add(run)
            elif run.spec_hash != spec.content_hash():
                raise BadInputError(
                    f"run {run_id} was made with spec {run.spec_name} ({run.spec_hash}); "
                    f"the spec given now ({spec.name}, {spec.content_hash()}) differs"
                )
            elif run.target != target:
                raise BadInputError(
                    f"run {run_id} has a target of {run.target}, not {target}; a run keeps "
                    "its target"
                )
            return run

    def get_run(self, run_id: str) -> Run | None:
        """The run, or None."""
        with self.sessions() as session:
            return session.get(Run, run_id)

    def run_ids(self, spec_name: str | None = None) -> list[str]:
        """Every run in the ledger (of one spec, when given), oldest first."""
        query = select(Run.run_id).order_by(Run.created_at, Run.run_id)
        if spec_name is not None:
            query = query.where(Run.spec_name == spec_name)
        with self.sessions() as session:
            return list(session.scalars(query))

    def set_status(self, run_id: str, status: str) -> None:
        """Mark the run complete, budget_spent, failed..."""
        with self.sessions.begin() as session:
            session.execute(
                update(Run).where(Run.run_id == run_id).values(status=status, updated_at=utc_now())
            )

    # --- reads for planning and validation --------------------------------------------------

    def coverage_counts(
        self, spec_name: str, session: InTransaction | None = None
    ) -> dict[CellKey, int]:
        """Accepted examples per cell of a spec, across all runs (in `session` when given)."""
        with self.sessions.reusing(session) as session:
            rows = session.connection().execute(_COVERAGE, {"spec": spec_name})
            return {(c, a, x): n for c, a, x, n in rows}

    def coverage_since(
        self, spec_name: str, since: datetime | None, session: InTransaction | None = None
    ) -> tuple[dict[CellKey, int], datetime | None]:
        """The cells of a spec counted at or after `since` (all when None), with their counts
        across all runs, and when the newest of them was counted (in `session` when given).
        Counts are totals, not increments: reading a cell twice is harmless."""
        given = {"spec": spec_name, "since": since}
        with self.sessions.reusing(session) as session:
            db = session.connection()
            newest = db.execute(_NEWEST_COVERAGE, given).scalar_one_or_none() or since
            if since is None:
                return self.coverage_counts(spec_name, session), newest
            rows = db.execute(_COVERAGE_SINCE, given)  # no timestamps: parsing them cost most
            return {(c, a, x): n for c, a, x, n in rows}, newest

    def accepted_rows(self, run_id: str) -> list[dict[str, Any]]:
        """The run's accepted examples as quota rows: the three axes and the score."""
        with self.sessions() as session:
            rows = session.execute(
                select(
                    Example.capacity_level,
                    Example.authenticity_target,
                    Example.complexity_type,
                    Example.authenticity_score,
                ).where(Example.run_id == run_id)
            )
            return [
                dict(zip((*AXIS_NAMES, "authenticity_score"), row, strict=True)) for row in rows
            ]

    def standing(self, spec: Spec, run_id: str, session: InTransaction | None = None) -> Standing:
        """What the run has accepted, per bucket of each axis, with its lowest and highest
        authenticity score (in `session` when given). Summed in the database from `run_cells`,
        kept as batches are recorded: a few rows per axis come back, however many cells."""
        with self.sessions.reusing(session) as session:
            rows = session.connection().execute(ACCEPTED_PER_BUCKET, {"run": run_id}).all()
        return standing_of(rows, spec)

    def accepted_responses(
        self, run_id: str, since: datetime | None = None, session: InTransaction | None = None
    ) -> tuple[dict[str, str], datetime | None]:
        """Scenario id to response text of the run's accepted examples (for near-duplicates),
        those accepted at or after `since` only when given; and when the newest was accepted
        (in `session` when given)."""
        query = _RESPONSES if since is None else _RESPONSES_SINCE
        with self.sessions.reusing(session) as session:
            rows = session.connection().execute(query, {"run": run_id, "since": since}).all()
        newest = max((row[2] for row in rows), default=since)
        return {scenario_id: response for scenario_id, response, _ in rows}, newest

    def run_stats(self, run_id: str, session: InTransaction | None = None) -> RunStats:
        """Totals of the run: one row of `run_totals`, kept as its batches are recorded (in
        `session` when given)."""
        with self.sessions.reusing(session) as session:
            return stats_of(session.connection().execute(_RUN_TOTALS, {"run": run_id}).first())

    def run_models(self, run_id: str) -> list[dict[str, Any]]:
        """Each backend and model that answered the run, its role (generate or judge) and the
        HTTP requests it was sent (`calls`, retries included)."""
        with self.sessions() as session:
            rows = session.execute(
                select(Batch.backend, Batch.model, Batch.batch_id, Batch.requests).where(
                    Batch.run_id == run_id
                )
            )
            calls: Counter[tuple[str, str, str]] = Counter()
            for backend, model, batch_id, requests in rows:
                role = "judge" if batch_id.endswith(JUDGE_SUFFIX) else "generate"
                calls[(backend, model, role)] += requests
        return [
            {"backend": backend, "model": model, "role": role, "calls": count}
            for (backend, model, role), count in sorted(
                calls.items(), key=lambda item: (item[0][2], item[0][1])
            )
        ]

    def examples(self, run_id: str) -> list[dict[str, Any]]:
        """The run's accepted examples as records, in the order they were accepted."""
        fields = list(ExampleRecord.model_fields)
        with self.sessions() as session:
            rows = session.scalars(
                select(Example)
                .where(Example.run_id == run_id)
                .order_by(Example.created_at, Example.scenario_id)
            )
            return [
                {name: (row.spec_name if name == "spec" else getattr(row, name)) for name in fields}
                for row in rows
            ]

    def rejections(self, run_id: str) -> list[dict[str, Any]]:
        """The run's failed attempts and why each failed."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Rejection).where(Rejection.run_id == run_id).order_by(Rejection.id)
            )
            return [
                RejectedRecord(
                    run_id=row.run_id,
                    scenario_id=row.scenario_id,
                    batch_id=row.batch_id,
                    attempt=row.attempt,
                    capacity_level=row.capacity_level,
                    authenticity_target=row.authenticity_target,
                    complexity_type=row.complexity_type,
                    reasons=json.loads(row.reasons),
                    item=json.loads(row.item_json) if row.item_json else None,
                    model=row.model,
                    backend=row.backend,
                    judge_fit=row.judge_fit,
                    judge_authenticity=row.judge_authenticity,
                ).model_dump()
                for row in rows
            ]

    # --- the one write of a batch -----------------------------------------------------------

    def record_batch(
        self, run_id: str, spec_name: str, *args: Any, **named: Any
    ) -> list[ExampleRecord] | None:
        """`record`, returning only the examples new to the ledger (None for a replay)."""
        return self.record(run_id, spec_name, *args, **named).written

    def record(
        self,
        run_id: str,
        spec: Spec | str,
        reply: RawReply,
        outcomes: Sequence[Outcome],
        records: Iterable[ExampleRecord],
        judge: JudgeCall | None = None,
        release: Iterable[str] = (),
        quota: Mapping[str, Mapping[str, int]] | None = None,
        target: int | None = None,
        worker: str | None = None,
        budgets: tuple[int | None, int | None] = (None, None),
    ) -> Recorded:
        """Write a batch, its accepted examples, its rejections and the coverage, atomically
        (and the judge's call for it, when there was one), releasing the claims on `release`.
        `worker` made the call; `budgets` are the run's call and token budgets now (both for
        the dashboard).

        With `quota` and `target`, the run's row is locked and the run's counts read again
        first: an example another worker's batch made surplus is recorded as a rejection.

        Returns:
            The examples that were new to the ledger (None when the batch was already
            recorded, a replay, and nothing was written), and the run after the write: its
            totals and, given the `Spec` itself, its standing, both from this transaction (the
            counts read for the quota check plus what was written), not read again after it.
        """
        spec_name = spec if isinstance(spec, str) else spec.name
        try:
            with self.sessions.write() as session:
                db = session.connection()
                rows: list[Sequence[Any]] | None = None  # the run's counts per bucket, read
                if quota is not None and target is not None:  # one recorder at a time per run
                    db.execute(_LOCK_RUN, {"run": run_id})
                records = list(records)
                if quota is not None and target is not None:
                    rows = list(db.execute(ACCEPTED_PER_BUCKET, {"run": run_id}))
                    records, surplus = _still_needed(rows, records, quota, target)
                    outcomes = [
                        _as_surplus(o) if o.scenario.scenario_id in surplus else o for o in outcomes
                    ]
                    release = {*release, *surplus}
                accepted = sum(1 for o in outcomes if o.accepted)
                now = utc_now()
                batches = [
                    {
                        "run_id": run_id,
                        "batch_id": reply.batch_id,
                        "wave": reply.wave,
                        "items_requested": len(reply.scenarios),
                        "repair_items": sum(1 for s in reply.scenarios if s.repairs_so_far > 0),
                        "accepted": accepted,
                        "rejected": len(outcomes) - accepted,
                        "prompt_tokens": reply.prompt_tokens,
                        "completion_tokens": reply.completion_tokens,
                        "tokens_estimated": reply.tokens_estimated,
                        "model": reply.model,
                        "backend": reply.backend,
                        "error": reply.error,
                        "seconds": reply.seconds,
                        "requests": reply.requests,
                        "worker": worker,
                        "created_at": now,
                    }
                ]
                if judge is not None:
                    batches.append(
                        {
                            "run_id": run_id,
                            "batch_id": reply.batch_id + JUDGE_SUFFIX,
                            "wave": reply.wave,
                            "items_requested": 0,
                            "repair_items": 0,
                            "accepted": 0,
                            "rejected": 0,
                            "prompt_tokens": judge.prompt_tokens,
                            "completion_tokens": judge.completion_tokens,
                            "tokens_estimated": judge.tokens_estimated,
                            "model": judge.model,
                            "backend": judge.backend,
                            "error": judge.error,
                            "seconds": judge.seconds,
                            "requests": judge.requests,
                            "worker": worker,
                            "created_at": now,
                        }
                    )
                db.execute(_INSERT_BATCH, batches)
                statements = _statements(db.dialect.name)
                inserted = self._insert_examples(db, statements, records, reply.batch_id)
                covered = self._count_coverage(db, statements, spec_name, inserted)
                self._count_run_cells(db, statements, run_id, inserted)
                released = list(release)
                if released:
                    db.execute(_RELEASE_CLAIMS, {"run": run_id, "scenarios": released})
                rejections = [_rejection_row(run_id, o) for o in outcomes if not o.accepted]
                rejected = 0
                if rejections:
                    rejected = len(db.execute(statements["insert_rejections"], rejections).all())
                added = _totals(batches, len(inserted), rejected)
                call_budget, token_budget = budgets
                added |= {"call_budget": call_budget, "token_budget": token_budget}
                totals = db.execute(statements["add_to_totals"], {"run_id": run_id, **added})
                stats = stats_of(totals.first())
                if isinstance(spec, str):
                    return Recorded(inserted, None, stats, covered)
                if rows is None:
                    return self._recorded(db, inserted, spec, run_id, stats, covered)
                # The counts read under the lock, and one row per axis for each example written
                new = [
                    (axis, getattr(r, axis), 1, r.authenticity_score, r.authenticity_score)
                    for r in inserted
                    for axis in AXIS_NAMES
                ]
                return Recorded(inserted, standing_of([*rows, *new], spec), stats, covered)
        except IntegrityError:
            # Another worker or an earlier replay recorded this batch first: its row is there
            # (the batch's INSERT, before any other write, failed on the primary key).
            with self.sessions() as session:
                return self._recorded(session.connection(), None, spec, run_id)

    def _recorded(
        self,
        db: Connection,
        written: list[ExampleRecord] | None,
        spec: Spec | str,
        run_id: str,
        stats: RunStats | None = None,
        covered: dict[CellKey, int] | None = None,
    ) -> Recorded:
        """What `record` returns, read in its transaction (the totals, unless given)."""
        stats = stats or stats_of(db.execute(_RUN_TOTALS, {"run": run_id}).first())
        if isinstance(spec, str):
            return Recorded(written, None, stats, covered or {})
        rows = db.execute(ACCEPTED_PER_BUCKET, {"run": run_id}).all()
        return Recorded(written, standing_of(rows, spec), stats, covered or {})

    def _insert_examples(
        self, db: Connection, statements: Statements, records: list[ExampleRecord], batch_id: str
    ) -> list[ExampleRecord]:
        """Insert the batch's examples in one statement; returns those that were new."""
        if not records:
            return []
        rows = []
        for record in records:
            values = record.model_dump()
            values["spec_name"] = values.pop("spec")
            rows.append(values | {"batch_id": batch_id, "created_at": utc_now()})
        new_ids = set(db.scalars(statements["insert_examples"], rows))
        return [r for r in records if r.id in new_ids]

    def _count_run_cells(
        self, db: Connection, statements: Statements, run_id: str, records: list[ExampleRecord]
    ) -> None:
        """Add the new examples to the run's per-cell counts and score range, one upsert."""
        rows = _run_cell_rows(run_id, records)
        if not rows:
            return
        db.execute(statements["count_run_cells"], rows)

    def _count_coverage(
        self, db: Connection, statements: Statements, spec_name: str, records: list[ExampleRecord]
    ) -> dict[CellKey, int]:
        """Add the new examples to their cells' counts, one upsert per cell; returns the cells'
        new counts."""
        cells = Counter(
            (r.capacity_level, r.authenticity_target, r.complexity_type) for r in records
        )
        if not cells:
            return {}
        now = utc_now()
        counted = db.execute(
            statements["count_coverage"],
            [
                {
                    "spec_name": spec_name,
                    "capacity_level": capacity,
                    "authenticity_target": authenticity,
                    "complexity_type": complexity,
                    "generated_count": count,
                    "first_generated": now,
                    "last_generated": now,
                }
                for (capacity, authenticity, complexity), count in cells.items()
            ],
        )
        return {(c, a, x): n for c, a, x, n in counted}


def _summed_per_bucket(table: Any, *columns: Any) -> CompoundSelect:
    """One statement: `columns` summed per bucket of each axis over `table`'s rows of a run,
    rows of (axis, bucket, *columns); parameter `run` (and `now`, for claims)."""
    where = [table.c.run_id == bindparam("run")]
    if "expires_at" in table.c:
        where.append(table.c.expires_at > bindparam("now"))
    return union_all(
        *(
            select(literal(axis), table.c[axis], *columns).where(*where).group_by(table.c[axis])
            for axis in AXIS_NAMES
        )
    )


# What a run has accepted and what its live claims hold, per bucket of each axis: the quotas
# are per axis, so each read returns a few rows per axis, not a row per cell (built once).
ACCEPTED_PER_BUCKET = _summed_per_bucket(
    RunCell.__table__,
    func.sum(RunCell.accepted),
    func.min(RunCell.min_score),
    func.max(RunCell.max_score),
)
CLAIMED_PER_BUCKET = _summed_per_bucket(Claim.__table__, func.count())


def per_bucket(
    rows: Iterable[Sequence[Any]], spec: Spec | None = None
) -> tuple[dict[str, dict[str, int]], int]:
    """Rows of (axis, bucket, count, ...) as counts per bucket of each axis (every bucket of
    `spec` listed, zeros included, when given) and their total (each row is counted once per
    axis, so the total is the first axis's)."""
    counts: dict[str, dict[str, int]] = {
        axis: dict.fromkeys(spec.bucket_names(axis), 0) if spec else {} for axis in AXIS_NAMES
    }
    for axis, bucket, count, *_ in rows:
        counts[axis][bucket] = counts[axis].get(bucket, 0) + int(count)
    return counts, sum(counts[AXIS_NAMES[0]].values())


def standing_of(rows: Sequence[Sequence[Any]], spec: Spec) -> Standing:
    """A run's `Standing` from its rows of (axis, bucket, count, lowest, highest score)."""
    counts, accepted = per_bucket(rows, spec)
    first = [row for row in rows if row[0] == AXIS_NAMES[0]]
    return Standing(
        counts=counts,
        accepted=accepted,
        low=min((row[3] for row in first), default=None),
        high=max((row[4] for row in first), default=None),
    )


def stats_of(row: Any) -> RunStats:
    """A run's `RunStats` from its `run_totals` row (zeros when it has none yet)."""
    if row is None:
        return RunStats(0, 0, 0, 0, 0, 0, 0, False, 0.0)
    return RunStats(
        llm_calls=row.requests,  # every HTTP request, retries too
        items_requested=row.items_requested,
        repair_items=row.repair_items,
        accepted=row.accepted,
        rejected=row.rejected,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        tokens_estimated=bool(row.tokens_estimated),
        llm_seconds=row.llm_seconds,
    )


def _still_needed(
    rows: Iterable[Sequence[Any]],
    records: list[ExampleRecord],
    quota: Mapping[str, Mapping[str, int]],
    target: int,
) -> tuple[list[ExampleRecord], set[str]]:
    """Split records into those the run still needs, given its counts per bucket (`rows`), and
    the surplus (by scenario id)."""
    counts, total = per_bucket(rows)
    kept, surplus = [], set()
    for record in records:
        buckets = [(axis, getattr(record, axis)) for axis in AXIS_NAMES]
        if total < target and all(counts[a].get(b, 0) < quota[a].get(b, 0) for a, b in buckets):
            kept.append(record)
            total += 1
            for axis, bucket in buckets:
                counts[axis][bucket] = counts[axis].get(bucket, 0) + 1
        else:
            surplus.add(record.scenario_id)
    return kept, surplus


def _run_cell_rows(run_id: str, records: list[ExampleRecord]) -> list[dict[str, Any]]:
    """The records counted per cell, as `run_cells` rows."""
    cells: dict[CellKey, list[float]] = {}
    for r in records:
        cells.setdefault((r.capacity_level, r.authenticity_target, r.complexity_type), []).append(
            r.authenticity_score
        )
    return [
        {
            "run_id": run_id,
            "capacity_level": capacity,
            "authenticity_target": authenticity,
            "complexity_type": complexity,
            "accepted": len(scores),
            "min_score": min(scores),
            "max_score": max(scores),
        }
        for (capacity, authenticity, complexity), scores in cells.items()
    ]


SURPLUS_REASON = "quota already met by another batch of the run (recorded meanwhile)"


def _as_surplus(outcome: Outcome) -> Outcome:
    return outcome.model_copy(
        update={"accepted": False, "retryable": False, "reasons": [SURPLUS_REASON]}
    )


def _rejection_row(run_id: str, outcome: Outcome) -> dict[str, Any]:
    record = RejectedRecord.from_outcome(run_id, outcome)
    return record.model_dump(exclude={"reasons", "item"}) | {
        "reasons": json.dumps(record.reasons),
        "item_json": record.item.model_dump_json() if record.item else None,
        "created_at": utc_now(),
    }


DAMAGE_WORDS = ("not a database", "malformed", "corrupt", "disk image")
READ_ONLY_WORDS = ("readonly", "read-only", "read only")


def database_reason(error: Exception) -> str:
    """The first line of what the database driver said."""
    return str(getattr(error, "orig", None) or error).splitlines()[0]


def ledger_damage(reason: str) -> str | None:
    """ "damaged" or "read-only" when a database error means retrying cannot help, else None."""
    lowered = reason.lower()
    if any(word in lowered for word in DAMAGE_WORDS):
        return "damaged"
    if any(word in lowered for word in READ_ONLY_WORDS):
        return "read-only"
    return None


def opening_error(url: str, error: DatabaseError) -> SpectrumgenError:
    """What a database error when opening a ledger means for the user: damage, a read-only
    file, or an outage (the only one retrying cures)."""
    reason = database_reason(error)
    damage = ledger_damage(reason)
    if damage == "damaged":
        return LedgerDamagedError(
            f"ledger {url!r} is damaged or not a database ({reason}); restore it from a backup "
            "or pass another --db (spectrumgen leaves it as it is)"
        )
    if damage == "read-only":
        return LedgerDamagedError(
            f"ledger {url!r} is read-only ({reason}); make it writable or pass another --db"
        )
    if "unable to open" in reason.lower():  # a SQLite file in a folder that is not there
        return BadInputError(
            f"ledger {url!r} cannot be opened ({reason}); check that its folder exists"
        )
    return LedgerUnavailableError(
        f"ledger {url!r} does not answer ({reason}); nothing was written: try again once it is back"
    )


def make_engine(url: str) -> Engine:
    """An engine for a ledger URL (an in-memory SQLite one keeps its one connection)."""
    if in_memory(url):
        # One connection for the whole process: each new one would be a new, empty database.
        return create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    # A server's connections are checked before use (a restart must cost one failed write, not
    # every write after it); a SQLite file has no server to lose, and a check per checkout was
    # 13 of the 31 statements a wave made.
    return create_engine(url, pool_pre_ping=make_url(url).get_backend_name() != "sqlite")


def _check_columns(engine: Engine, url: str) -> None:
    """Refuse a ledger whose tables lack columns its schema version promises (edited by hand)."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        have = {column["name"] for column in inspector.get_columns(table.name)}
        missing = sorted(set(table.columns.keys()) - have)
        if missing:
            raise BadInputError(
                f"ledger {url!r} does not match its schema version (table {table.name} lacks "
                f"{', '.join(missing)}); restore it from a backup or use a new --db"
            )


def _totals(batches: Sequence[Mapping[str, Any]], accepted: int, rejected: int) -> dict[str, Any]:
    """What a recorded batch (and its judge's call) adds to the run's totals."""
    added = {
        name: sum(b[name] for b in batches)
        for name in ("requests", "items_requested", "repair_items", "prompt_tokens")
    }
    added["completion_tokens"] = sum(b["completion_tokens"] for b in batches)
    added["llm_seconds"] = sum(b["seconds"] for b in batches)
    added["tokens_estimated"] = int(any(b["tokens_estimated"] for b in batches))
    return added | {"accepted": accepted, "rejected": rejected}


# The statements of recording a batch and reading a run's totals, built once (building a
# statement, or loading and flushing ORM objects, cost more than SQLite running it); bound
# parameters are named apart from the columns an INSERT or UPDATE sets.
_LOCK_RUN = select(Run.run_id).where(Run.run_id == bindparam("run")).with_for_update()
_INSERT_BATCH = insert(Batch)
_RELEASE_CLAIMS = delete(Claim).where(
    Claim.run_id == bindparam("run"),
    Claim.scenario_id.in_(bindparam("scenarios", expanding=True)),
)
_RUN_TOTALS = select(*RunTotals.__table__.c).where(RunTotals.run_id == bindparam("run"))
_COVERAGE = select(
    ParameterCoverage.capacity_level,
    ParameterCoverage.authenticity_target,
    ParameterCoverage.complexity_type,
    ParameterCoverage.generated_count,
).where(ParameterCoverage.spec_name == bindparam("spec"))
_COVERAGE_SINCE = _COVERAGE.where(ParameterCoverage.last_generated >= bindparam("since"))
_RESPONSES = select(Example.scenario_id, Example.response, Example.created_at).where(
    Example.run_id == bindparam("run")
)
_RESPONSES_SINCE = _RESPONSES.where(Example.created_at >= bindparam("since"))
_NEWEST_COVERAGE = select(func.max(ParameterCoverage.last_generated)).where(
    ParameterCoverage.spec_name == bindparam("spec")
)

# The dialect's upserts, by name (`_statements`).
Statements = dict[str, Any]


@lru_cache(maxsize=4)
def _statements(dialect: str) -> Statements:
    """The upserts and inserts that return ids, for one dialect (built once each)."""

    def insert(table: Any) -> Any:
        if dialect == "sqlite":
            return sqlite.insert(table)
        if dialect == "postgresql":
            return postgresql.insert(table)
        raise BadInputError(
            f"ledger dialect {dialect!r} is not supported; use SQLite or PostgreSQL"
        )

    examples, rejections = Example.__table__, Rejection.__table__
    cells, coverage, totals = RunCell.__table__, ParameterCoverage.__table__, RunTotals.__table__
    new_cells, new_coverage, new_totals = insert(cells), insert(coverage), insert(totals)
    kept = ("run_id", "tokens_estimated", "call_budget", "token_budget")  # not summed
    added = [c.name for c in totals.columns if c.name not in kept]
    return {
        "insert_examples": insert(examples).on_conflict_do_nothing().returning(examples.c.id),
        "insert_rejections": insert(rejections).on_conflict_do_nothing().returning(rejections.c.id),
        "count_run_cells": new_cells.on_conflict_do_update(
            index_elements=["run_id", *AXIS_NAMES],
            set_={
                "accepted": cells.c.accepted + new_cells.excluded.accepted,
                "min_score": case(
                    (
                        new_cells.excluded.min_score < cells.c.min_score,
                        new_cells.excluded.min_score,
                    ),
                    else_=cells.c.min_score,
                ),
                "max_score": case(
                    (
                        new_cells.excluded.max_score > cells.c.max_score,
                        new_cells.excluded.max_score,
                    ),
                    else_=cells.c.max_score,
                ),
            },
        ),
        "count_coverage": new_coverage.on_conflict_do_update(
            index_elements=["spec_name", *AXIS_NAMES],
            set_={
                "generated_count": coverage.c.generated_count
                + new_coverage.excluded.generated_count,
                "last_generated": new_coverage.excluded.last_generated,
            },
        ).returning(*(coverage.c[axis] for axis in AXIS_NAMES), coverage.c.generated_count),
        "add_to_totals": new_totals.on_conflict_do_update(  # returning the run's new totals
            index_elements=["run_id"],
            set_={
                **{name: totals.c[name] + new_totals.excluded[name] for name in added},
                "call_budget": new_totals.excluded.call_budget,
                "token_budget": new_totals.excluded.token_budget,
                "tokens_estimated": case(
                    (new_totals.excluded.tokens_estimated > totals.c.tokens_estimated, 1),
                    else_=totals.c.tokens_estimated,
                ),
            },
        ).returning(*totals.c),
    }


class Sessions:
    """`sessions()` for reads, `sessions.begin()` for a write transaction (ORM sessions);
    `snapshot()` and `write()` for the same on a bare connection (a batch's hot path).

    On SQLite a write transaction begins IMMEDIATE: it takes the file's write lock before its
    first read, so two claimers (a run's lanes) cannot both read the same next scenario number
    (`SELECT ... FOR UPDATE` is a no-op there, and pysqlite on its own would begin the
    transaction only at the first INSERT). Reads begin DEFERRED and, in WAL mode, never wait.
    An in-memory ledger is one connection for the whole process: its sessions take turns. On a
    SQLite file, the process's write transactions take turns too, on a lock that wakes the next
    writer as soon as the last one commits: SQLite's own wait for its write lock sleeps in steps
    of up to 100 ms, which slowed a long run's lanes as their transactions grew.
    """

    def __init__(self, engine: Engine, one_connection: bool = False) -> None:
        self._engine = engine
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._reads = sessionmaker(engine, expire_on_commit=False)
        self._writes = sessionmaker(self._write_engine, expire_on_commit=False)
        self._turns: Any = threading.RLock() if one_connection else nullcontext()
        sqlite_file = engine.dialect.name == "sqlite" and not one_connection
        self._write_turns: Any = threading.RLock() if sqlite_file else nullcontext()

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with self._turns, self._reads() as session:
            yield session

    def reusing(self, session: InTransaction | None) -> AbstractContextManager[InTransaction]:
        """`session` itself when a caller has one open (reads that must see one snapshot),
        else a new read session."""
        return nullcontext(session) if session is not None else self()

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with self._turns, self._write_turns, self._writes.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """A write transaction, as `begin()`'s, on a connection with no ORM session around it
        (for a batch's planning and recording: a session costs more than a small transaction's
        statements)."""
        with self._turns, self._write_turns, self._write_engine.begin() as connection:
            yield Transaction(connection)

    @contextmanager
    def snapshot(self) -> Iterator[Transaction]:
        """A read transaction whose statements all see the ledger as of its first one (SQLite's
        read transactions do; PostgreSQL's need REPEATABLE READ), so reads of what is accepted
        and what is claimed never straddle another lane's commit; like `write`, no session."""
        with self._turns, self._engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield Transaction(connection)


class Transaction:
    """An open transaction on one connection (`Sessions.write`, `Sessions.snapshot`). Its
    `connection()` is a session's, so the ledger's reads take either (`InTransaction`)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def connection(self) -> Connection:
        """The connection the transaction is open on."""
        return self._connection


InTransaction = Session | Transaction


WRITE_OPTION = "spectrumgen_write"


def _begin_sqlite(connection: Any) -> None:
    """Begin SQLite transactions ourselves (see `Sessions`); pysqlite's own are turned off.
    Straight on the driver's connection: through SQLAlchemy's statement machinery it cost about
    10 us more, three times a batch."""
    write = connection.get_execution_options().get(WRITE_OPTION)
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def in_memory(url: str) -> bool:
    """True for a SQLite URL that names no file (`sqlite://`, `:memory:`)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _tune_sqlite(connection: Any, _record: Any) -> None:
    connection.isolation_level = None  # no implicit BEGIN: `_begin_sqlite` says which kind
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL-safe: an app crash loses nothing
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def ledger_exists(url: str) -> bool:
    """False for a SQLite ledger file that is not there yet (a server database: True)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return True  # opening it says what is wrong
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return True
    return Path(parsed.database).is_file()


@lru_cache(maxsize=8)
def open_ledger(url: str) -> Ledger:
    """One Ledger (and connection pool) per URL per process."""
    return Ledger(url)
