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


def builtin_spec_names() -> list[str]:
    """Names of the specs that ship with spectrumgen."""
    folder = resources.files(__package__)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


def load_spec(name_or_path: str = DEFAULT_SPEC) -> Spec:
    """Load a built-in spec by name, or a YAML/JSON spec file by path.

    Raises:
        SpecError: the file is missing or unreadable, or a field is invalid (named in the message).
    """
    if name_or_path in builtin_spec_names():
        text = resources.files(__package__).joinpath(f"{name_or_path}.yaml").read_text()
        return _parse(text, f"built-in spec {name_or_path!r}", mtime=0.0)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(builtin_spec_names())
        raise SpecError(f"spec {name_or_path!r}: no such file or built-in spec (built-in: {known})")
    return _parse(path.read_text(encoding="utf-8"), str(path), mtime=path.stat().st_mtime)


@lru_cache(maxsize=32)
def _parse(text: str, source: str, mtime: float) -> Spec:
    try:
        data = json.loads(text) if source.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as error:
        first_line = str(error).strip().splitlines()[0]
        raise SpecError(f"{source}: not valid YAML/JSON: {first_line}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{source}: must be a mapping of fields, got {type(data).__name__}")
    try:
        return Spec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise SpecError(f"{source}: {where}: {message}") from None
