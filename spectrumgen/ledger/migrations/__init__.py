"""Alembic migrations of the ledger's schema (see `spectrumgen.ledger.versions`)."""
