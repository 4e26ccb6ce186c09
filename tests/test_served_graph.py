"""The graph as `langgraph dev` serves it, offline, driven by the real clients.

One server for the module: started from the repository root on a free loopback port, with its
log outside the repository (the reloader watches files), analytics and version checks off.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import IO

import httpx
import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_sync_client

from spectrumgen.graph.context import RunContext

ROOT = Path(__file__).resolve().parents[1]
OFFLINE = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with tempfile.NamedTemporaryFile(prefix="langgraph-dev-", suffix=".log") as log:
        yield from _serve(log)


def _serve(log: IO[bytes]) -> Iterator[str]:
    port = _free_port()
    command = [
        str(Path(sys.executable).with_name("langgraph")),  # the CLI of this environment
        "dev",
        "--no-browser",
        "--no-reload",
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **OFFLINE}
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited: {Path(log.name).read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"langgraph dev did not start: {Path(log.name).read_text()[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def scripted(tmp_path: Path) -> dict[str, str]:
    return {
        "backend": "scripted",
        "db_url": f"sqlite:///{tmp_path / 'ledger.db'}",
        "out_dir": str(tmp_path / "out"),
    }


def test_studio_sees_every_knob_described_and_small_input_and_output(server: str) -> None:
    client = get_sync_client(url=server, api_key=None)
    [assistant] = client.assistants.search(graph_id="spectrumgen")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    knobs = schemas["context_schema"]["properties"]
    assert set(knobs) == {f.name for f in fields(RunContext)}
    assert all(knob.get("description") for knob in knobs.values())
    assert set(schemas["input_schema"]["properties"]) == {
        "target",
        "run_id",
        "spec",
        "overrides",
        "focus_cells",
    }
    assert schemas["input_schema"]["required"] == ["target"]
    assert set(schemas["output_schema"]["properties"]) == {
        "run_id",
        "status",
        "accepted",
        "quota",
        "files",
        "manifest",
    }


def test_a_whole_run_streams_updates_and_progress_events_through_the_sdk(
    server: str, tmp_path: Path
) -> None:
    client = get_sync_client(url=server, api_key=None)
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "spectrumgen",
            input={"target": 12, "overrides": {"fault_rate": 0.3}},
            context=scripted(tmp_path),
            stream_mode=["updates", "custom"],
        )
    )
    custom = [p.data for p in parts if p.event == "custom"]
    kinds = {event["event"] for event in custom}
    assert {"wave_planned", "batch_generated", "validated", "recorded", "finished"} <= kinds
    updated_nodes = {node for p in parts if p.event == "updates" for node in p.data}
    assert {"plan_gaps", "generate", "validate", "record", "finish"} <= updated_nodes
    state = client.threads.get_state(thread["thread_id"])["values"]
    assert state["status"] == "complete" and state["accepted"] == 12
    lines = Path(state["files"]["examples"]).read_text().splitlines()
    assert len(lines) == 12
    assert state["manifest"]["counts"]["repairs"] > 0  # the fault rate override took effect


def test_the_served_graph_as_a_remote_graph(server: str, tmp_path: Path) -> None:
    remote = RemoteGraph("spectrumgen", url=server, api_key=None)
    result = remote.invoke({"target": 6}, context=scripted(tmp_path))
    assert result["status"] == "complete"
    assert result["manifest"]["counts"]["accepted"] == 6
