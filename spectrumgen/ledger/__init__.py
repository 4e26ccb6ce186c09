"""The coverage ledger in SQL (SQLite by default, PostgreSQL for shared use)."""

from spectrumgen.ledger.store import Ledger, RunStats, open_ledger

__all__ = ["Ledger", "RunStats", "open_ledger"]
