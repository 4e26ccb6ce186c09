"""Run the host agent both ways with its own checkpointer; print what came out as JSON."""

from __future__ import annotations

import json
import sys

from graph import HostContext, shared_keys_host, wrapper_host
from langgraph.checkpoint.memory import InMemorySaver

folder = sys.argv[1]
saver = InMemorySaver()
shared = shared_keys_host(saver).invoke(
    {"wanted": 8},
    {"configurable": {"thread_id": "shared"}},
    context=HostContext(db_url=f"sqlite:///{folder}/shared.db", out_dir=f"{folder}/shared"),
)
wrapped = wrapper_host(saver).invoke(
    {"wanted": 6},
    {"configurable": {"thread_id": "wrapped"}},
    context=HostContext(
        db_url="unused", ledger_url=f"sqlite:///{folder}/wrapped.db", out=f"{folder}/wrapped"
    ),
)
checkpoints = {
    thread: len(list(saver.list({"configurable": {"thread_id": thread}})))
    for thread in ("shared", "wrapped")
}
print(
    json.dumps(
        {
            "shared": {k: shared.get(k) for k in ("status", "accepted", "notes", "files")},
            "wrapped": wrapped,
            "checkpoints": checkpoints,
        }
    )
)
