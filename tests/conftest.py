"""Shared fixtures: a fresh SQLite ledger per test and a context for the scripted backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from spectrumgen.graph.context import RunContext
from spectrumgen.schemas.spec import Spec
from spectrumgen.specs import load_spec


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec("emotional_authenticity")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One throwaway PostgreSQL server for the whole session (tests/postgres.py)."""
    import os

    from tests.postgres import postgres_bin, temporary_postgres

    if postgres_bin() is None and not os.environ.get("SPECTRUMGEN_TEST_POSTGRES_URL"):
        pytest.skip("no PostgreSQL server binaries here: apt-get install postgresql (CI does)")
    with temporary_postgres() as url:
        yield url


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def scripted_context(db_url: str, tmp_path: Path) -> RunContext:
    return RunContext(backend="scripted", db_url=db_url, out_dir=str(tmp_path / "out"))
