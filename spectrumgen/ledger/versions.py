"""The ledger's schema version, kept by Alembic (`spectrumgen/ledger/migrations/versions`).

Opening a ledger (`prepare_schema`):

- an empty database gets today's tables and is stamped at the newest revision;
- a ledger at the newest revision is used as it is;
- an older SQLite ledger is copied aside (`NAME.db.REV.bak`), then upgraded in place;
- an older PostgreSQL ledger, which other workers may be using, is left alone, and the error
  names the one command that upgrades it: `spectrumgen migrate --db URL`.

A ledger made before the schema was versioned (no `alembic_version` table) is stamped at the
first release's revision, r0001, and upgraded from there; each later step skips what it finds
done, so a ledger of any release in between upgrades too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from spectrumgen.errors import BadInputError, LedgerDamagedError
from spectrumgen.ledger.tables import Base

FIRST_RELEASE = "r0001"
MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_LOCK = 0x5EC7  # pg_advisory_xact_lock key: one upgrade at a time
# Tables that may share a ledger's database: LangGraph's checkpoints (a PostgreSQL ledger keeps
# them in the same database) and Alembic's version.
SHARING_TABLES = {
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "checkpoint_migrations",
    "writes",
    "alembic_version",
}


def head() -> str:
    """The newest revision."""
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    """The database's revision; None when it has none (new, or older than versioning)."""
    return MigrationContext.configure(connection).get_current_revision()


def prepare_schema(engine: Engine, url: str) -> str | None:
    """Create, check or upgrade the ledger's tables; a note for the user when it upgraded.

    Raises:
        LedgerDamagedError: the database holds another application's tables.
        BadInputError: a PostgreSQL ledger needs `spectrumgen migrate`, or the ledger is newer
            than this spectrumgen.
    """
    newest = head()
    with engine.connect() as connection:
        found = current(connection)
        tables = set(inspect(connection).get_table_names())
    ours = tables & set(Base.metadata.tables)
    if tables and not ours and not tables <= SHARING_TABLES:
        shown = ", ".join(sorted(tables)[:5])
        raise LedgerDamagedError(
            f"ledger {url!r} is another application's database (tables {shown}), not a "
            "spectrumgen ledger; pass another --db"
        )
    if not ours:
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
            _stamp(connection, newest)
        return None
    if found == newest:
        with engine.begin() as connection:  # a write that changes nothing: read-only fails here
            connection.execute(text("UPDATE alembic_version SET version_num = version_num"))
        return None
    if found is not None and found not in _known():
        raise BadInputError(
            f"ledger {url!r} is at schema {found}, newer than this spectrumgen knows ({newest}); "
            "upgrade spectrumgen"
        )
    if engine.dialect.name != "sqlite":
        raise BadInputError(
            f"ledger {url!r} is at schema {found or 'unversioned'}, this spectrumgen needs "
            f"{newest}: back it up, then run `spectrumgen migrate --db URL` once (workers of the "
            "older spectrumgen must stop first)"
        )
    backup = _backup_sqlite(engine, found or "unversioned")
    upgrade(engine)
    where = f"; the old file is kept as {backup}" if backup else ""
    return f"upgraded ledger {url!r} from schema {found or 'unversioned'} to {newest}{where}"


def upgrade(engine: Engine) -> None:
    """Upgrade the ledger to the newest revision (stamping an unversioned one first)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": POSTGRES_LOCK})
        if current(connection) is None:
            _stamp(connection, FIRST_RELEASE)
        config = _config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _stamp(connection: Connection, revision: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    command.stamp(config, revision)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _known() -> set[str]:
    return {s.revision for s in ScriptDirectory.from_config(_config()).walk_revisions()}


def _backup_sqlite(engine: Engine, version: str) -> Path | None:
    """A consistent copy of a SQLite ledger file (SQLite's online backup), before upgrading."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    source = Path(database)
    backup = source.with_name(f"{source.name}.{version}.bak")
    with sqlite3.connect(source) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    return backup
