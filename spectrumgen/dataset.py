"""The dataset files of a run: examples.jsonl, rejected.jsonl and manifest.json.

Batches are appended as they are recorded, so progress can be watched; at the end (and when a run
is resumed) the files are rewritten from the ledger, which is the source of truth, so a crash
between a commit and an append never leaves the files short or doubled.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from spectrumgen.errors import BadInputError
from spectrumgen.ledger import Ledger

EXAMPLES_FILE = "examples.jsonl"
REJECTED_FILE = "rejected.jsonl"
MANIFEST_FILE = "manifest.json"
RUN_FILES = (EXAMPLES_FILE, REJECTED_FILE, MANIFEST_FILE)
OWNER_FILE = ".spectrumgen-owner"  # who wrote the folder's files: a run id, or "export"


def check_folder(folder: str | Path, owner: str, files: Iterable[str], overwrite: bool) -> None:
    """Refuse, writing nothing, a folder `owner` may not write its `files` to: a file, a folder
    that cannot be created or written, or one holding files someone else wrote (unless
    `overwrite`).

    Raises:
        BadInputError: naming the folder and what to do.
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise BadInputError(f"--out {path} is a file, not a folder")
    existing = next((p for p in [path, *path.absolute().parents] if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        verb = "is not writable" if existing == path else "cannot be created"
        raise BadInputError(f"--out {path} {verb}")
    previous = _owner(path)
    present = [name for name in files if (path / name).exists()]
    if previous != owner and present and not overwrite:
        whose = f"run {previous}'s" if previous else "files spectrumgen did not write:"
        raise BadInputError(
            f"--out {path} holds {whose} {', '.join(present)}; pass --overwrite to replace "
            "them, or choose another --out"
        )


def claim_folder(folder: str | Path, owner: str, files: Iterable[str], overwrite: bool) -> None:
    """Make `folder` the output of `owner` (a run id, or "export"), or refuse (`check_folder`).

    Two runs' files never mix in one folder: another owner's `files` are deleted only with
    `overwrite`, and nothing else in the folder is touched.
    """
    files = list(files)
    check_folder(folder, owner, files, overwrite)
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BadInputError(f"--out {path} cannot be created: {error.strerror}") from None
    if _owner(path) != owner:
        for name in files:
            target = path / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    _replace(path / OWNER_FILE, owner + "\n")


def _owner(path: Path) -> str | None:
    marker = path / OWNER_FILE
    return marker.read_text(encoding="utf-8").strip() if marker.is_file() else None


_APPENDING = threading.Lock()


def append_lines(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows as JSON lines (one writer at a time: a run's lanes append side by side)."""
    lines = _jsonl(rows)
    if lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _APPENDING, path.open("a", encoding="utf-8") as handle:
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
