"""The checkpointer the command line runs with, kept beside the ledger.

A SQLite ledger gets a SQLite checkpoint file next to it (`x.db` -> `x.checkpoints.db`); a
PostgreSQL ledger keeps its checkpoints in the same database (LangGraph's own tables). The thread
id is the run id, so `--resume RUN_ID` continues from the last completed step: work in flight
when a process died is redone (and recorded at most once, by the ledger's batch ids).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy.engine import make_url

from spectrumgen.errors import BadInputError, LedgerDamagedError


@contextmanager
def open_checkpointer(db_url: str) -> Iterator[BaseCheckpointSaver[str]]:
    """A checkpointer for a ledger URL, closed on exit.

    Raises:
        BadInputError: a ledger of a kind that has no checkpointer here.
    """
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            yield InMemorySaver()
            return
        from langgraph.checkpoint.sqlite import SqliteSaver

        path = Path(url.database)
        checkpoints = path.with_name(f"{path.stem}.checkpoints{path.suffix or '.db'}")
        connection = sqlite3.connect(checkpoints, check_same_thread=False)
        try:
            saver = SqliteSaver(connection)
            try:
                saver.setup()
            except sqlite3.DatabaseError as error:
                raise LedgerDamagedError(
                    f"checkpoint file {checkpoints} is damaged ({error}); move it aside and "
                    "resume: the ledger keeps every recorded example and the run plans the rest "
                    "from it"
                ) from None
            yield saver
        finally:
            connection.close()
    elif url.get_backend_name() == "postgresql":
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
            from psycopg.rows import dict_row
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise BadInputError(
                'a PostgreSQL ledger needs the postgres extra: pip install -e ".[postgres]"'
            ) from None
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        # A pool that checks each connection before use, so a server restart costs one failed
        # write (the run goes on from its last checkpoint) rather than every write after it.
        with ConnectionPool(
            conninfo,
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            check=ConnectionPool.check_connection,
        ) as pool:
            shared = PostgresSaver(pool)  # type: ignore[arg-type]
            shared.setup()
            yield shared
    else:
        raise BadInputError(f"no checkpointer for a {url.get_backend_name()} ledger")
