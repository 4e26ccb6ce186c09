"""The ledger's tables: runs, the seed's parameter_coverage, batches, examples and rejections."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utc_now() -> datetime:
    """Timestamps are stored in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base of the ledger's tables."""


class Run(Base):
    """One generation run: its spec, target and the settings fixed at its start."""

    __tablename__ = "runs"

    run_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec_name: Mapped[str] = mapped_column(String(128))
    spec_hash: Mapped[str] = mapped_column(String(32))
    target: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    backend: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(128))
    routing: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="running")
    next_scenario_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class ParameterCoverage(Base):
    """The seed's coverage table: accepted examples per cell, across every run of a spec."""

    __tablename__ = "parameter_coverage"
    __table_args__ = (
        UniqueConstraint("spec_name", "capacity_level", "authenticity_target", "complexity_type"),
        # planning reads the cells counted since its last look
        Index("ix_parameter_coverage_spec_name_last_generated", "spec_name", "last_generated"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    spec_name: Mapped[str] = mapped_column(String(128))
    capacity_level: Mapped[str] = mapped_column(String(64))
    authenticity_target: Mapped[str] = mapped_column(String(64))
    complexity_type: Mapped[str] = mapped_column(String(64))
    generated_count: Mapped[int] = mapped_column(Integer, default=1)
    first_generated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    last_generated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


JUDGE_SUFFIX = "-judge"


class Batch(Base):
    """One LLM call: what it asked for, what it cost, and how its items fared.

    A judge's call for a batch is a row of its own, `batch_id` + JUDGE_SUFFIX, asking for no items.
    """

    __tablename__ = "batches"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    wave: Mapped[int] = mapped_column(Integer)
    items_requested: Mapped[int] = mapped_column(Integer)
    repair_items: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    model: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    requests: Mapped[int] = mapped_column(
        Integer, default=1, server_default="1", doc="HTTP requests the call took, retries included."
    )
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)  # who made the call
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Example(Base):
    """An accepted example; one per scenario of a run."""

    __tablename__ = "examples"
    __table_args__ = (
        UniqueConstraint("run_id", "scenario_id"),
        Index("ix_examples_run_id_created_at", "run_id", "created_at"),  # read since a time
    )

    id: Mapped[str] = mapped_column(String(160), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(64))
    spec_name: Mapped[str] = mapped_column(String(128))
    capacity_level: Mapped[str] = mapped_column(String(64))
    effective_capacity: Mapped[float] = mapped_column(Float)
    authenticity_target: Mapped[str] = mapped_column(String(64))
    authenticity_score: Mapped[float] = mapped_column(Float)
    complexity_type: Mapped[str] = mapped_column(String(64))
    support_needed: Mapped[float] = mapped_column(Float)
    support_provided: Mapped[float] = mapped_column(Float)
    support_ceiling: Mapped[float] = mapped_column(Float)
    context: Mapped[str] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    reasoning: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer)
    judge_fit: Mapped[float | None] = mapped_column(Float, nullable=True)
    judge_authenticity: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class RunCell(Base):
    """A run's accepted examples counted per cell, written in the transaction that records them,
    so planning and the quota checks read one row per cell, however long the run."""

    __tablename__ = "run_cells"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    capacity_level: Mapped[str] = mapped_column(String(64), primary_key=True)
    authenticity_target: Mapped[str] = mapped_column(String(64), primary_key=True)
    complexity_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted: Mapped[int] = mapped_column(Integer)
    min_score: Mapped[float] = mapped_column(Float)
    max_score: Mapped[float] = mapped_column(Float)


class RunTotals(Base):
    """A run's totals (calls, tokens, accepted and rejected), added to in the transaction that
    records each batch, so reading them costs one row however long the run."""

    __tablename__ = "run_totals"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)  # HTTP requests, retries too
    items_requested: Mapped[int] = mapped_column(Integer, default=0)
    repair_items: Mapped[int] = mapped_column(Integer, default=0)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    tokens_estimated: Mapped[int] = mapped_column(Integer, default=0)  # 1 once any batch was
    llm_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    # The run's budgets as of its last recorded batch (the call budget adapts as it goes).
    call_budget: Mapped[int | None] = mapped_column(Integer, nullable=True)
    token_budget: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Rejection(Base):
    """One failed attempt at a scenario and why it failed."""

    __tablename__ = "rejections"
    __table_args__ = (UniqueConstraint("run_id", "scenario_id", "attempt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), index=True)
    scenario_id: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer)
    capacity_level: Mapped[str] = mapped_column(String(64))
    authenticity_target: Mapped[str] = mapped_column(String(64))
    complexity_type: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[str] = mapped_column(Text)
    item_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    model: Mapped[str] = mapped_column(String(128))
    backend: Mapped[str] = mapped_column(String(32))
    judge_fit: Mapped[float | None] = mapped_column(Float, nullable=True)
    judge_authenticity: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utc_now)


class Claim(Base):
    """A scenario a worker is generating: it counts against the run's quotas until its example
    is recorded, it is given up, or its lease runs out (its worker died)."""

    __tablename__ = "claims"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.run_id"), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    worker: Mapped[str] = mapped_column(String(128), index=True)
    capacity_level: Mapped[str] = mapped_column(String(64))
    authenticity_target: Mapped[str] = mapped_column(String(64))
    complexity_type: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
