"""A throwaway PostgreSQL server for tests: Debian's binaries, a temporary cluster on loopback.

Set SPECTRUMGEN_TEST_POSTGRES_URL to use a server of your own instead.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

RESTARTS: dict[str, Callable[[], None]] = {}  # url -> restart that server (fast shutdown)


def restart_postgres(url: str) -> None:
    """Restart the throwaway server behind `url`: every open connection is dropped."""
    RESTARTS[url]()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> str | None:
    """The folder of the newest installed PostgreSQL server binaries, if any."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@contextmanager
def temporary_postgres() -> Iterator[str]:
    """Start a fresh cluster and yield a SQLAlchemy URL to an empty database in it."""
    if os.environ.get("SPECTRUMGEN_TEST_POSTGRES_URL"):
        yield os.environ["SPECTRUMGEN_TEST_POSTGRES_URL"]
        return
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL server installed (apt-get install postgresql)")
    folder = tempfile.mkdtemp(prefix="spectrumgen-pg-")
    data = os.path.join(folder, "data")
    port = _free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, timeout=120)

    run(f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync")
    run(
        f"{bin_dir}/pg_ctl",
        "-D",
        data,
        "-w",
        "-l",
        os.path.join(folder, "log"),
        "-o",
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off",
        "start",
    )
    try:
        run(
            f"{bin_dir}/createdb",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "spectrumgen",
        )
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/spectrumgen"
        RESTARTS[url] = lambda: run(
            f"{bin_dir}/pg_ctl",
            "-D",
            data,
            "-w",
            "-m",
            "fast",
            "restart",
            "-l",
            os.path.join(folder, "log"),
        )
        yield url
    finally:
        subprocess.run(
            [*as_user, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(folder, ignore_errors=True)
