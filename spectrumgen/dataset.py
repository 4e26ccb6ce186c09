"""The dataset files of a run: examples.jsonl, rejected.jsonl and manifest.json.

Batches are appended as they are recorded, so progress can be watched; at the end (and when a run
is resumed) the files are rewritten from the ledger, which is the source of truth, so a crash
between a commit and an append never leaves the files short or doubled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spectrumgen.ledger import Ledger

EXAMPLES_FILE = "examples.jsonl"
REJECTED_FILE = "rejected.jsonl"
MANIFEST_FILE = "manifest.json"


def append_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows as JSON lines."""
    lines = _jsonl(rows)
    if lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(lines)


def write_run_files(
    ledger: Ledger, run_id: str, out_dir: str | Path, manifest: dict[str, Any] | None = None
) -> None:
    """Rewrite a run's files from the ledger, each replaced atomically."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    _replace(folder / EXAMPLES_FILE, _jsonl(ledger.examples(run_id)))
    _replace(folder / REJECTED_FILE, _jsonl(ledger.rejections(run_id)))
    if manifest is not None:
        _replace(folder / MANIFEST_FILE, json.dumps(manifest, indent=2, default=str) + "\n")


def _jsonl(rows: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
