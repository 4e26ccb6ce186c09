"""Secrets never leave: URL passwords, API keys and tokens are hidden in every output."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from spectrumgen.errors import BackendUnavailableError, BadInputError
from spectrumgen.redact import RedactingFilter, redact
from tests.helpers import run_cli
from tests.llm_servers import Behaviour, OpenAIHandler, serve

PASSWORD = "S3cretPassw0rd"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f"ledger URL 'postgresql+psycopg://u:{PASSWORD}@db:5432/x' is not usable",
            "ledger URL 'postgresql+psycopg://u:***@db:5432/x' is not usable",
        ),
        (
            f"no Ollama at http://user:{PASSWORD}@host:11434",
            "no Ollama at http://user:***@host:11434",
        ),
        (f"GET https://h/v1?api_key={PASSWORD}&x=1", "GET https://h/v1?api_key=***&x=1"),
        (f"Authorization: Bearer {PASSWORD}.abc", "Authorization: Bearer ***"),
        (
            "sqlite:///spectrumgen.db and http://host:8000/v1",
            "sqlite:///spectrumgen.db and http://host:8000/v1",
        ),
    ],
)
def test_redact_hides_passwords_keys_and_tokens_and_nothing_else(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_redact_hides_the_values_of_secret_environment_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-123456789")
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # too short to hide without blanking words
    assert redact("sent sk-live-123456789 to abc") == "sent *** to abc"


def test_errors_and_log_records_are_redacted_when_made() -> None:
    error = BadInputError(f"ledger URL 'postgresql://u:{PASSWORD}@h/x' is not usable")
    assert PASSWORD not in str(error) and "u:***@h" in str(error)
    assert PASSWORD not in str(BackendUnavailableError(f"http://a:{PASSWORD}@h down"))
    record = logging.LogRecord(
        "x", logging.WARNING, "f", 1, "at %s", (f"http://a:{PASSWORD}@h",), None
    )
    RedactingFilter().filter(record)
    assert record.getMessage() == "at http://a:***@h"


def test_a_database_password_never_reaches_the_terminal(tmp_path: Path) -> None:
    done = run_cli(
        "run",
        "--backend",
        "scripted",
        "--db",
        f"postgresql+psycopg://u:{PASSWORD}@127.0.0.1:1/x",
        "--target",
        "1",
        "--out",
        "out",
        "--quiet",
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "u:***@127.0.0.1" in done.stderr, done.stderr
    assert PASSWORD not in done.stdout + done.stderr


def test_a_password_in_the_llm_url_is_nowhere_after_a_failing_run(tmp_path: Path) -> None:
    behaviour = Behaviour(models={"m"}, error_rate=1.0)
    with serve(OpenAIHandler, behaviour) as (url, _):
        secret_url = url.replace("http://", f"http://user:{PASSWORD}@") + "/v1"
        done = run_cli(
            "run",
            "--backend",
            "openai",
            "--model",
            "m",
            "--base-url",
            secret_url,
            "--target",
            "2",
            "--max-calls",
            "3",
            "--out",
            "out",
            "--quiet",
            cwd=tmp_path,
        )
    assert behaviour.requests, "the run reached the server"
    assert PASSWORD not in done.stdout + done.stderr, done.stderr
    for path in tmp_path.rglob("*"):  # ledger, checkpoints, examples, rejections, manifest
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
