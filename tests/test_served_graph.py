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
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any, ClassVar

import httpx
import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_sync_client

from spectrumgen.graph.served import SERVER_FIELDS, ServedContext

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


SECRET = "sk-served-graph-secret-0123456789"


@pytest.fixture(scope="module")
def server_home() -> Iterator[Path]:
    """The server operator's folder: the ledger, the output root and a spec folder."""
    with tempfile.TemporaryDirectory(prefix="spectrumgen-server-") as home:
        (Path(home) / "specs").mkdir()
        yield Path(home)


@pytest.fixture(scope="module")
def server(server_home: Path) -> Iterator[str]:
    settings = {
        "SPECTRUMGEN_BACKEND": "scripted",
        "SPECTRUMGEN_DB_URL": f"sqlite:///{server_home / 'ledger.db'}",
        "SPECTRUMGEN_OUT_ROOT": str(server_home / "runs"),
        "SPECTRUMGEN_SPEC_DIR": str(server_home / "specs"),
        "SPECTRUMGEN_MAX_TARGET": "500",
        "OPENAI_API_KEY": SECRET,  # what a redirected call would carry away
    }
    with tempfile.NamedTemporaryFile(prefix="langgraph-dev-", suffix=".log") as log:
        yield from _serve(log, settings)


def _serve(log: IO[bytes], settings: dict[str, str]) -> Iterator[str]:
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
        command,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **OFFLINE, **settings},
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


def test_studio_sees_every_knob_described_and_small_input_and_output(server: str) -> None:
    client = get_sync_client(url=server, api_key=None)
    [assistant] = client.assistants.search(graph_id="spectrumgen")
    schemas = client.assistants.get_schemas(assistant["assistant_id"])
    knobs = schemas["context_schema"]["properties"]
    assert set(knobs) == set(ServedContext.model_fields)
    for name in SERVER_FIELDS:  # listed so that a caller setting one is told it is refused
        assert knobs[name]["description"].startswith("Set by the server")
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
    server: str, server_home: Path
) -> None:
    client = get_sync_client(url=server, api_key=None)
    thread = client.threads.create()
    parts = list(
        client.runs.stream(
            thread["thread_id"],
            "spectrumgen",
            input={"target": 12, "overrides": {"fault_rate": 0.3}},
            context={"batch_size": 4},
            stream_mode=["updates", "custom"],
            stream_subgraphs=True,  # the lanes' own steps, as "updates|lane:..." events
        )
    )
    custom = [p.data for p in parts if p.event == "custom"]
    kinds = {event["event"] for event in custom}
    assert {"wave_planned", "batch_generated", "validated", "recorded", "finished"} <= kinds
    updated_nodes = {node for p in parts if p.event.startswith("updates") for node in p.data}
    assert {"plan_gaps", "generate", "validate", "record", "finish"} <= updated_nodes
    state = client.threads.get_state(thread["thread_id"])["values"]
    assert state["status"] == "complete" and state["accepted"] == 12
    examples = Path(state["files"]["examples"])
    assert examples.parent == server_home / "runs" / state["run_id"]  # under the server's root
    assert len(examples.read_text().splitlines()) == 12
    assert state["manifest"]["counts"]["repairs"] > 0  # the fault rate override took effect


def test_the_served_graph_as_a_remote_graph(server: str) -> None:
    remote = RemoteGraph("spectrumgen", url=server, api_key=None)
    result = remote.invoke({"target": 6}, context={"seed": 3})
    assert result["status"] == "complete"
    assert result["manifest"]["counts"]["accepted"] == 6


class Listener(BaseHTTPRequestHandler):
    """Stands where a caller would redirect the server: records every request that arrives."""

    seen: ClassVar[list[dict[str, str]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _record(self) -> None:
        self.seen.append({"path": self.path, **dict(self.headers)})
        self.send_response(404)
        self.end_headers()

    do_GET = do_POST = _record


@pytest.fixture(scope="module")
def listener() -> Iterator[tuple[str, list[dict[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Listener.seen
    finally:
        server.shutdown()
        server.server_close()


def refusal(server: str, run_input: dict[str, Any], context: dict[str, Any]) -> str:
    """Run on a fresh thread and return the error message the caller is given."""
    client = get_sync_client(url=server, api_key=None)
    thread = client.threads.create()
    result = client.runs.wait(
        thread["thread_id"], "spectrumgen", input=run_input, context=context, raise_error=False
    )
    assert isinstance(result, dict) and "__error__" in result, result
    return str(result["__error__"]["message"])


def test_a_caller_cannot_point_the_server_at_another_host_and_nothing_leaves(
    server: str, server_home: Path, listener: tuple[str, list[dict[str, str]]]
) -> None:
    url, seen = listener
    message = refusal(
        server, {"target": 2}, {"backend": "openai", "base_url": f"{url}/v1", "model": "m"}
    )
    assert "refused: backend, base_url, model are the server's to set" in message
    assert seen == []
    overridden = refusal(
        server, {"target": 2, "overrides": {"base_url": f"{url}/v1", "backend": "openai"}}, {}
    )
    assert "the server's to set" in overridden and seen == []


@pytest.mark.parametrize(
    ("run_input", "context", "says"),
    [
        ({"target": 2}, {"out_dir": "/"}, "out_dir is the server's to set"),
        ({"target": 2}, {"db_url": "sqlite:////tmp/elsewhere.db"}, "db_url is the server's"),
        ({"target": 2, "overrides": {"out_dir": "/"}}, {}, "out_dir is the server's to set"),
        ({"target": 2, "spec": "/etc/passwd"}, {}, "spec '/etc/passwd' is not served here"),
        ({"target": 2}, {"spec": "../specs/x"}, "is not served here"),
        ({"target": 2}, {"batch_size": 0}, "batch_size\n  Input should be greater than or equal"),
        ({"target": 2}, {"concurrency": 0}, "concurrency\n  Input should be greater than or"),
        ({"target": 2, "overrides": {"batch_size": 0}}, {}, "batch_size: Input should be greater"),
        ({"target": 501}, {}, "target must be a whole number from 1 to 500"),
        ({"target": 2, "run_id": "../../etc"}, {}, "is not a run id"),
    ],
)
def test_a_caller_is_refused_what_is_not_theirs_with_a_message_they_see(
    server: str, server_home: Path, run_input: dict[str, Any], context: dict[str, Any], says: str
) -> None:
    before = sorted(p.name for p in server_home.iterdir())
    assert says in refusal(server, run_input, context)
    assert sorted(p.name for p in server_home.iterdir()) == before  # nothing written elsewhere
    assert not Path("/tmp/elsewhere.db").exists()


def test_a_spec_in_the_servers_spec_folder_can_be_named(server: str, server_home: Path) -> None:
    builtin = (ROOT / "spectrumgen" / "specs" / "emotional_authenticity.yaml").read_text()
    (server_home / "specs" / "mine.yaml").write_text(builtin.replace("name: emotional", "name: my"))
    client = get_sync_client(url=server, api_key=None)
    thread = client.threads.create()
    run_input = {"target": 2, "spec": "mine"}
    result = client.runs.wait(thread["thread_id"], "spectrumgen", input=run_input)
    assert isinstance(result, dict) and result.get("status") == "complete", result
    assert result["manifest"]["spec"]["name"].startswith("my")
