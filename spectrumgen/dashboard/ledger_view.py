"""What the dashboard reads from a ledger: read-only, and bounded on a big one.

The view opens its own engine, read-only at the driver (SQLite `mode=ro`, PostgreSQL
`default_transaction_read_only`), so nothing the dashboard does can write the ledger, and it
never migrates one (`Ledger` would). Small tables are read whole on every update (a run's cells,
its totals, its claims). The long ones (a run's batches, examples and rejections) are followed:
each `RunFeed` keeps what it has read in memory and asks only for rows newer than the last it
saw, so an update costs what was written since the one before, not the run's size.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from spectrumgen.ledger.store import in_memory
from spectrumgen.ledger.tables import (
    JUDGE_SUFFIX,
    Batch,
    Claim,
    Example,
    ParameterCoverage,
    Rejection,
    Run,
    RunCell,
    RunTotals,
)
from spectrumgen.quotas import Standing, evaluate
from spectrumgen.reasons import reason_code
from spectrumgen.schemas.spec import AXIS_NAMES, Spec
from spectrumgen.specs import load_spec

BINS = 40  # points of the over-time charts, spread over the run's life so far
LATEST = 12  # examples shown per list
SCAN_LIMIT = 5_000  # rejections looked through for a reason filter, newest first


def read_only_engine(url: str) -> Engine:
    """An engine that cannot write the ledger at `url` (SQLite file or PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if in_memory(url):
            raise ValueError("the dashboard reads a ledger file or server, not an in-memory one")
        path = Path(str(parsed.database)).resolve()
        return create_engine(
            f"sqlite:///file:{quote(str(path))}?mode=ro&uri=true",
            connect_args={"check_same_thread": False},
        )
    return create_engine(
        url,
        pool_pre_ping=True,  # a server that restarted: the next update reconnects
        connect_args={"options": "-c default_transaction_read_only=on"},
    )


def utc(stamp: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the ledger writes UTC."""
    if stamp is None:
        return None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def iso(stamp: datetime | None) -> str | None:
    stamp = utc(stamp)
    return None if stamp is None else stamp.isoformat(timespec="seconds")


class Histogram:
    """Counts per span of time, kept at the finest resolution that stays under `MAX_SPANS`
    spans (1 s at first; doubled, merging neighbours, as a run grows long), so drawing it costs
    the same after a minute as after a day."""

    MAX_SPANS = 4_096

    def __init__(self) -> None:
        self.resolution = 1.0
        self.spans: dict[int, list[int]] = {}

    def add(self, stamp: float, *values: int) -> None:
        span = self.spans.setdefault(int(stamp // self.resolution), [0] * len(values))
        for index, value in enumerate(values):
            span[index] += value
        if len(self.spans) > self.MAX_SPANS:
            self.resolution *= 2
            merged: dict[int, list[int]] = {}
            for key, counts in self.spans.items():
                into = merged.setdefault(key // 2, [0] * len(counts))
                for index, value in enumerate(counts):
                    into[index] += value
            self.spans = merged

    def binned(self, first: float, width: float, count: int, index: int = 0) -> list[int]:
        """The counts of value `index` in `count` bins of `width` seconds from `first`."""
        bins = [0] * count
        for key, counts in self.spans.items():
            slot = int((key * self.resolution - first) / width)
            bins[min(count - 1, max(0, slot))] += counts[index]
        return bins


@dataclass
class RunFeed:
    """What the dashboard has read of a run's long tables (batches, accepted examples and
    rejections), kept as running totals, and where the next read of each starts."""

    accepted: Histogram = field(default_factory=Histogram)  # accepted, items tried
    reasons: dict[str, Histogram] = field(default_factory=dict)  # per reason code
    reason_totals: Counter[str] = field(default_factory=Counter)
    kept_by_attempt: Counter[int] = field(default_factory=Counter)
    failed_by_attempt: Counter[int] = field(default_factory=Counter)
    workers: dict[str, list[float]] = field(default_factory=dict)  # last call, calls
    models: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # calls, in, out
    last_batch: float = 0.0
    batch_seen: set[str] = field(default_factory=set)  # at the newest time read (ties)
    batch_after: datetime | None = None
    example_seen: set[str] = field(default_factory=set)
    example_after: datetime | None = None
    rejection_id: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class LedgerView:
    """The dashboard's reads of one ledger. Thread-safe: the server answers from a pool."""

    def __init__(self, url: str, prices: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.url = url
        self.engine = read_only_engine(url)
        self.prices = dict(prices or {})  # model -> (input, output) per million tokens
        self._feeds: dict[str, RunFeed] = {}
        self._feeds_lock = threading.Lock()

    # --- runs -------------------------------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """Every run, newest first, with its totals."""
        query = (
            select(Run, RunTotals)
            .outerjoin(RunTotals, RunTotals.run_id == Run.run_id)
            .order_by(Run.created_at.desc())
        )
        with Session(self.engine) as db:
            rows = db.execute(query).all()
            answered: dict[str, list[str]] = {}  # the models that answered each run
            for run_id, model in db.execute(select(Batch.run_id, Batch.model).distinct()):
                answered.setdefault(run_id, []).append(model)
        found = []
        for row in rows:
            totals = row.RunTotals
            found.append(
                {
                    **_run_fields(row),
                    "models": sorted(answered.get(row.Run.run_id, [row.Run.model])),
                    "accepted": totals.accepted if totals else 0,
                    "rejected": totals.rejected if totals else 0,
                    "calls": totals.requests if totals else 0,
                    "tokens": totals.prompt_tokens + totals.completion_tokens if totals else 0,
                }
            )
        return found

    def has_run(self, run_id: str) -> bool:
        """True when the ledger holds the run (one row read)."""
        with Session(self.engine) as db:
            return db.get(Run, run_id) is not None

    def run(self, run_id: str) -> dict[str, Any] | None:
        """Everything the run's page shows, as of now; None for an unknown run."""
        now = datetime.now(UTC)
        with Session(self.engine) as db:
            head = db.execute(
                select(Run, RunTotals)
                .outerjoin(RunTotals, RunTotals.run_id == Run.run_id)
                .where(Run.run_id == run_id)
            ).first()
            if head is None:
                return None
            cells = db.execute(
                select(
                    RunCell.capacity_level,
                    RunCell.authenticity_target,
                    RunCell.complexity_type,
                    RunCell.accepted,
                    RunCell.min_score,
                    RunCell.max_score,
                ).where(RunCell.run_id == run_id)
            ).all()
            coverage = db.execute(
                select(
                    ParameterCoverage.capacity_level,
                    ParameterCoverage.authenticity_target,
                    ParameterCoverage.complexity_type,
                    ParameterCoverage.generated_count,
                ).where(ParameterCoverage.spec_name == head.Run.spec_name)
            ).all()
            claims = db.execute(
                select(
                    Claim.worker,
                    func.count(),
                    func.min(Claim.expires_at),
                    func.max(Claim.expires_at),
                )
                .where(Claim.run_id == run_id)
                .group_by(Claim.worker)
            ).all()
            feed = self._feed(run_id)
            with feed.lock:
                self._follow(db, run_id, feed)
                ended = now if head.Run.status == "running" else utc(head.Run.updated_at) or now
                series = _series(feed, utc(head.Run.created_at) or now, ended)
                attempts = _attempts(feed)
                workers = _workers(feed, claims, now)
                accepted = head.RunTotals.accepted if head.RunTotals else 0
                cost = self._cost(feed, accepted)
        spec = _spec_of(head.Run.spec_name, head.Run.spec_hash)
        return {
            "run": {
                **_run_fields(head),
                "models": sorted({model for model, _ in feed.models}) or [head.Run.model],
            },
            "progress": _progress(head, now),
            "quotas": _quotas(spec, int(head.Run.target), cells),
            "heatmaps": _heatmaps(spec, cells, coverage),
            "series": series,
            "attempts": attempts,
            "workers": workers,
            "cost": cost,
            "now": iso(now),
        }

    def examples(
        self,
        run_id: str,
        kind: str = "accepted",
        buckets: Mapping[str, str] | None = None,
        reason: str | None = None,
        limit: int = LATEST,
    ) -> list[dict[str, Any]]:
        """The newest accepted (or rejected) examples of a run, whole, optionally only those in
        the given buckets (axis -> bucket) or, for rejected ones, failing for `reason` (a code)."""
        table: Any = Example if kind == "accepted" else Rejection
        query = select(table).where(table.run_id == run_id)
        for axis, bucket in (buckets or {}).items():
            if axis in AXIS_NAMES and bucket:
                query = query.where(getattr(table, axis) == bucket)
        order = Example.created_at.desc() if table is Example else Rejection.id.desc()
        with Session(self.engine) as db:
            if table is Example or not reason:
                items = db.scalars(query.order_by(order).limit(limit)).all()
                return [_example_fields(item, table is Example) for item in items]
            found: list[dict[str, Any]] = []
            for item in db.scalars(query.order_by(order).limit(SCAN_LIMIT)):
                if reason in {reason_code(r) for r in json.loads(item.reasons)}:
                    found.append(_example_fields(item, False))
                    if len(found) >= limit:
                        break
            return found

    # --- following the long tables -----------------------------------------------------------

    def _feed(self, run_id: str) -> RunFeed:
        with self._feeds_lock:
            return self._feeds.setdefault(run_id, RunFeed())

    def _follow(self, db: Session, run_id: str, feed: RunFeed) -> None:
        """Read the run's batches, examples and rejections written since the last update."""
        query = select(
            Batch.batch_id,
            Batch.created_at,
            Batch.accepted,
            Batch.items_requested,
            Batch.repair_items,
            Batch.prompt_tokens,
            Batch.completion_tokens,
            Batch.model,
            Batch.worker,
        ).where(Batch.run_id == run_id)
        if feed.batch_after is not None:
            query = query.where(Batch.created_at >= feed.batch_after)
        fresh = [row for row in db.execute(query) if row.batch_id not in feed.batch_seen]
        for row in fresh:
            stamp = _seconds(row.created_at)
            feed.last_batch = max(feed.last_batch, stamp)
            feed.accepted.add(stamp, row.accepted, row.items_requested)
            if row.worker:
                activity = feed.workers.setdefault(row.worker, [0.0, 0])
                activity[0], activity[1] = max(activity[0], stamp), activity[1] + 1
            role = "judge" if row.batch_id.endswith(JUDGE_SUFFIX) else "generate"
            usage = feed.models.setdefault((row.model, role), [0, 0, 0])
            usage[0] += 1
            usage[1] += row.prompt_tokens
            usage[2] += row.completion_tokens
        feed.batch_after, feed.batch_seen = _newest(
            fresh, feed.batch_after, feed.batch_seen, "batch_id"
        )

        examples = select(Example.id, Example.created_at, Example.attempt).where(
            Example.run_id == run_id
        )
        if feed.example_after is not None:
            examples = examples.where(Example.created_at >= feed.example_after)
        accepted = [row for row in db.execute(examples) if row.id not in feed.example_seen]
        feed.kept_by_attempt.update(int(row.attempt) for row in accepted)
        feed.example_after, feed.example_seen = _newest(
            accepted, feed.example_after, feed.example_seen, "id"
        )

        rows = db.execute(
            select(Rejection.id, Rejection.created_at, Rejection.attempt, Rejection.reasons)
            .where(Rejection.run_id == run_id, Rejection.id > feed.rejection_id)
            .order_by(Rejection.id)
        ).all()
        for rejection in rows:
            stamp = _seconds(rejection.created_at)
            feed.failed_by_attempt[int(rejection.attempt)] += 1
            for code in {reason_code(r) for r in json.loads(rejection.reasons)}:
                feed.reasons.setdefault(code, Histogram()).add(stamp, 1)
                feed.reason_totals[code] += 1
            feed.rejection_id = rejection.id

    def _cost(self, feed: RunFeed, accepted: int) -> dict[str, Any]:
        """Tokens per model (and role), per accepted example, and money when prices are set."""
        per_model = feed.models
        models, money_total, priced = [], 0.0, bool(self.prices)
        for (model, role), (calls, prompt, completion) in sorted(per_model.items()):
            price = self.prices.get(model)
            money = None
            if price is not None:
                money = (prompt * price[0] + completion * price[1]) / 1e6
                money_total += money
            else:
                priced = False
            models.append(
                {
                    "model": model,
                    "role": role,
                    "calls": calls,
                    "prompt_tokens": prompt,
                    "completion_tokens": completion,
                    "cost": money,
                }
            )
        tokens = sum(prompt + completion for _, prompt, completion in per_model.values())
        return {
            "models": models,
            "tokens_per_accepted": round(tokens / accepted, 1) if accepted else None,
            "cost": round(money_total, 6) if priced and models else None,
            "cost_per_accepted": (
                round(money_total / accepted, 6) if priced and models and accepted else None
            ),
            "priced": bool(self.prices),
        }


def _newest(
    rows: Sequence[Any], after: datetime | None, seen: set[str], key: str
) -> tuple[datetime | None, set[str]]:
    """Where the next read of a table starts (at the newest time read, so rows written with
    that same time later are not missed) and the keys already read at that time."""
    if not rows:
        return after, seen
    newest = max(row.created_at for row in rows)
    at_newest = {getattr(row, key) for row in rows if row.created_at == newest}
    return newest, (seen | at_newest) if newest == after else at_newest


def _seconds(stamp: datetime) -> float:
    value = utc(stamp)
    assert value is not None
    return value.timestamp()


def _run_fields(row: Any) -> dict[str, Any]:
    run = row.Run
    return {
        "run_id": run.run_id,
        "spec": run.spec_name,
        "status": run.status,
        "backend": run.backend,
        "model": run.model,
        "routing": run.routing,
        "target": run.target,
        "created_at": iso(run.created_at),
        "updated_at": iso(run.updated_at),
    }


def _progress(row: Any, now: datetime) -> dict[str, Any]:
    """Accepted against the target with an ETA, calls and tokens against their budgets."""
    run, totals = row.Run, row.RunTotals
    accepted = totals.accepted if totals else 0
    started = utc(run.created_at) or now
    elapsed = max(1e-3, (now - started).total_seconds())
    finished = run.status != "running"
    if finished:
        elapsed = max(1e-3, ((utc(run.updated_at) or now) - started).total_seconds())
    rate = accepted / elapsed if accepted else 0.0
    remaining = max(0, run.target - accepted)
    eta = None if finished or not rate else round(remaining / rate)
    completion = totals.completion_tokens if totals else 0
    llm_seconds = totals.llm_seconds if totals else 0.0
    return {
        "accepted": accepted,
        "target": run.target,
        "rejected": totals.rejected if totals else 0,
        "calls": totals.requests if totals else 0,
        "call_budget": totals.call_budget if totals else None,
        "tokens": (totals.prompt_tokens + completion) if totals else 0,
        "token_budget": totals.token_budget if totals else None,
        "tokens_estimated": bool(totals.tokens_estimated) if totals else False,
        "repair_items": totals.repair_items if totals else 0,
        "items_requested": totals.items_requested if totals else 0,
        "tokens_per_second": round(completion / llm_seconds, 1) if llm_seconds else None,
        "elapsed_seconds": round(elapsed),
        "eta_seconds": eta,
        "finished": finished,
    }


def _spec_of(name: str, content_hash: str) -> Spec | None:
    """The run's spec when it is a built-in one that has not changed since the run began."""
    try:
        spec = load_spec(name)
    except Exception:  # a spec file the dashboard cannot see: counts without quotas
        return None
    return spec if spec.content_hash() == content_hash else None


def _quotas(spec: Spec | None, target: int, cells: Sequence[Any]) -> dict[str, Any]:
    """Each bucket's count against its quota, and the thresholds' standing."""
    rows = [
        {
            "capacity_level": c[0],
            "authenticity_target": c[1],
            "complexity_type": c[2],
            "count": c[3],
            "min_score": c[4],
            "max_score": c[5],
        }
        for c in cells
    ]
    if spec is None:
        counts: dict[str, Counter[str]] = {axis: Counter() for axis in AXIS_NAMES}
        for row in rows:
            for axis in AXIS_NAMES:
                counts[axis][row[axis]] += row["count"]
        return {
            "axes": {
                axis: [{"bucket": b, "count": n, "quota": None} for b, n in sorted(c.items())]
                for axis, c in counts.items()
            },
            "shortfalls": [],
            "met": None,
            "note": "the run's spec is not a built-in one as it was: counts only",
        }
    report = evaluate(spec, target, Standing.of_rows(spec, rows))
    return {
        "axes": {
            axis: [
                {
                    "bucket": bucket,
                    "count": report.actual[axis].get(bucket, 0),
                    "quota": report.required[axis][bucket],
                }
                for bucket in spec.bucket_names(axis)
            ]
            for axis in AXIS_NAMES
        },
        # The spec's thresholds still short (each bucket's own quota is in the tables above).
        "shortfalls": [s for s in report.shortfalls if s.split("=", 1)[0] not in AXIS_NAMES],
        "met": report.met,
        "note": None,
    }


def _heatmaps(spec: Spec | None, cells: Sequence[Any], coverage: Sequence[Any]) -> dict[str, Any]:
    """Capacity x authenticity counts per complexity type, for the run and for all runs of
    its spec; every bucket of the spec listed, so empty cells show."""

    def axis(index: int, name: str, rows: Iterable[Any]) -> list[str]:
        if spec is not None:
            return spec.bucket_names(name)
        return sorted({row[index] for row in rows})

    both = [*cells, *coverage]
    capacities = axis(0, "capacity_level", both)
    targets = axis(1, "authenticity_target", both)
    types = axis(2, "complexity_type", both)

    def grids(rows: Iterable[Any]) -> dict[str, list[list[int]]]:
        counts = {(r[0], r[1], r[2]): int(r[3]) for r in rows}
        return {
            kind: [[counts.get((c, a, kind), 0) for a in targets] for c in capacities]
            for kind in types
        }

    return {
        "capacity_level": capacities,
        "authenticity_target": targets,
        "complexity_type": types,
        "run": grids(cells),
        "all_runs": grids(coverage),
    }


def _series(feed: RunFeed, started: datetime, ended: datetime) -> dict[str, Any]:
    """Acceptance and rejection reasons from the run's start to its end (or now), in `BINS`
    steps."""
    first = started.timestamp()
    last = max(ended.timestamp(), feed.last_batch)
    width = max(1.0, (last - first) / BINS)
    count = max(1, min(BINS, math.ceil((last - first) / width)))
    accepted = feed.accepted.binned(first, width, count, 0)
    tried = feed.accepted.binned(first, width, count, 1)
    return {
        "start": iso(started),
        "seconds_per_bin": round(width, 1),
        "accepted": accepted,
        "tried": tried,
        "rate": [round(a / t, 3) if t else None for a, t in zip(accepted, tried, strict=True)],
        "reasons": {
            code: feed.reasons[code].binned(first, width, count)
            for code, _ in feed.reason_totals.most_common()
        },
        "reason_totals": dict(feed.reason_totals.most_common()),
    }


def _attempts(feed: RunFeed) -> list[dict[str, Any]]:
    """Acceptance per attempt: first tries, first repairs, second repairs..."""
    kept, failed = feed.kept_by_attempt, feed.failed_by_attempt
    rows = []
    for attempt in sorted({*kept, *failed}):
        total = kept[attempt] + failed[attempt]
        rows.append(
            {
                "attempt": attempt,
                "accepted": kept[attempt],
                "rejected": failed[attempt],
                "rate": round(kept[attempt] / total, 3) if total else None,
            }
        )
    return rows


def _workers(feed: RunFeed, claims: Sequence[Any], now: datetime) -> list[dict[str, Any]]:
    """Each worker (process/lane) of the run: its claims and their lease, its last call, and
    whether it is working, done, or dead (its claims' leases ran out)."""
    activity = feed.workers
    held = {row[0]: row for row in claims}
    found = []
    for worker in sorted({*activity, *held}):
        claim = held.get(worker)
        expires = utc(claim[3]) if claim else None
        last, calls = activity.get(worker, [0.0, 0.0])
        if claim is None:
            state = "idle"
        elif expires is not None and expires < now:
            state = "dead"
        else:
            state = "working"
        found.append(
            {
                "worker": worker,
                "claims": int(claim[1]) if claim else 0,
                "lease_expires": iso(expires),
                "last_call": iso(datetime.fromtimestamp(last, UTC)) if last else None,
                "calls": int(calls),
                "state": state,
            }
        )
    return found


def _example_fields(item: Any, accepted: bool) -> dict[str, Any]:
    """An accepted example or a rejected attempt, whole, as the page shows it."""
    fields: dict[str, Any] = {
        "scenario_id": item.scenario_id,
        "attempt": item.attempt,
        "capacity_level": item.capacity_level,
        "authenticity_target": item.authenticity_target,
        "complexity_type": item.complexity_type,
        "model": item.model,
        "created_at": iso(item.created_at),
    }
    if accepted:
        fields |= {
            name: getattr(item, name)
            for name in (
                "effective_capacity",
                "authenticity_score",
                "support_needed",
                "support_provided",
                "support_ceiling",
                "context",
                "response",
                "reasoning",
            )
        }
    else:
        reasons = json.loads(item.reasons)
        fields |= {
            "reasons": reasons,
            "codes": sorted({reason_code(r) for r in reasons}),
            "item": json.loads(item.item_json) if item.item_json else None,
        }
    return fields
