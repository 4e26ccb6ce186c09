"""The coverage ledger in SQL (SQLite by default, PostgreSQL for shared use)."""

from spectrumgen.ledger.store import Ledger, RunStats, ledger_exists, open_ledger

__all__ = ["Ledger", "RunStats", "ledger_exists", "open_ledger"]
