"""spectrumgen embedded in a host data agent whose own modules are named `graph` and `nodes`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HOST = Path(__file__).parent / "host_agent"


def test_a_host_embeds_spectrumgen_both_ways_with_its_own_checkpointer(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "run_host.py", str(tmp_path)],
        cwd=HOST,  # the host's graph.py and nodes.py are top-level modules, as in its project
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    shared = result["shared"]
    assert shared["status"] == "complete" and shared["accepted"] == 8
    assert shared["notes"] == ["planned", "status=complete"]
    assert len(Path(shared["files"]["examples"]).read_text().splitlines()) == 8
    # the host context's db_url and out_dir were taken by name
    assert Path(shared["files"]["examples"]).parent == tmp_path / "shared"
    wrapped = result["wrapped"]
    assert wrapped["dataset_status"] == "complete"
    assert len(Path(wrapped["dataset_files"]["examples"]).read_text().splitlines()) == 6
    assert result["checkpoints"]["shared"] > 3 and result["checkpoints"]["wrapped"] >= 2
