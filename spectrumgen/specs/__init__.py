"""Built-in specs and the loader for spec files of the user's own."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from spectrumgen.errors import SpecError
from spectrumgen.schemas.spec import Spec

DEFAULT_SPEC = "emotional_authenticity"
MAX_SPEC_BYTES = 1_000_000  # the built-in spec is 25 kB
MAX_NESTING = 20  # the built-in spec nests 5 deep


@lru_cache(maxsize=1)
def builtin_spec_names() -> tuple[str, ...]:
    """Names of the specs that ship with spectrumgen."""
    names = (p.name for p in resources.files(__package__).iterdir())
    return tuple(sorted(n.removesuffix(".yaml") for n in names if n.endswith(".yaml")))


def load_spec(name_or_path: str = DEFAULT_SPEC) -> Spec:
    """Load a built-in spec by name, or a YAML/JSON spec file by path (cached until it changes).

    Raises:
        SpecError: the file is missing or unreadable, or a field is invalid (named in the message).
    """
    if name_or_path in builtin_spec_names():
        return _load_builtin(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_spec_names())
        raise SpecError(f"spec {name_or_path!r}: no such file or built-in spec (built-in: {known})")
    return _load_file(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load_builtin(name: str) -> Spec:
    text = resources.files(__package__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    return _parse(text, f"built-in spec {name!r}")


@lru_cache(maxsize=32)
def _load_file(path: str, mtime_ns: int) -> Spec:
    size = Path(path).stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(f"{path}: {size} bytes is too big for a spec (at most {MAX_SPEC_BYTES})")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot be read: {error}") from None
    return _parse(text, path)


def _parse(text: str, source: str) -> Spec:
    try:
        data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise SpecError(f"{source}: not valid YAML/JSON: {first_line}") from None
    except RecursionError:
        raise SpecError(f"{source}: nested too deeply (at most {MAX_NESTING} levels)") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}: must be a mapping of fields, got {type(data).__name__}")
    if _depth(data) > MAX_NESTING:
        raise SpecError(f"{source}: nested too deeply (at most {MAX_NESTING} levels)")
    try:
        return Spec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise SpecError(f"{source}: {where}: {message}") from None


def _depth(value: object, level: int = 1) -> int:
    """How deeply lists and mappings nest (stops counting past MAX_NESTING)."""
    if level > MAX_NESTING or not isinstance(value, dict | list):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(child, level + 1) for child in children), default=level)
