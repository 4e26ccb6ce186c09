"""The dashboard as a person sees it: Debian's Chromium, driven by Selenium, watches runs write
the ledger. The page must fill in live (no reload), show failures, workers and the end of the
run, keep going when the ledger is away, and never write the ledger itself.

Screenshots: `SPECTRUMGEN_SCREENSHOTS=docs pytest tests/test_dashboard.py` saves the pages the
browser saw into docs/ (the README shows them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from spectrumgen.dashboard.ledger_view import LedgerView
from spectrumgen.dashboard.server import Dashboard, make_dashboard
from tests.helpers import run_cli, start_cli
from tests.llm_servers import Behaviour, OllamaHandler, serve
from tests.postgres import restart_postgres

SCREENSHOTS = os.environ.get("SPECTRUMGEN_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "the browser tests need Debian's Chromium: apt-get install chromium chromium-driver "
            "(.ci/run installs them)"
        )
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1500,2200")
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    yield chrome
    chrome.quit()


@pytest.fixture(scope="module")
def finished_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ledger holding one finished scripted run of 8 examples (tests take a copy)."""
    folder = tmp_path_factory.mktemp("finished")
    path = folder / "ledger.db"
    done = run_cli(
        "run", "--backend", "scripted", "--target", "8", "--db", f"sqlite:///{path}",
        "--out", "out", "--quiet", cwd=folder,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def wait_for(check: Callable[[], Any], timeout: float = 90, what: str = "") -> Any:
    """Poll `check` until it returns something truthy (the page updates itself every 1.5 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = check()
        except (StaleElementReferenceException, WebDriverException, ValueError):
            found = None  # redrawn under our feet: look again
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what or check}")


# The page redraws itself on every update: read it in one script call, never through
# element handles that a redraw can leave stale.
def text_of(browser: webdriver.Chrome, css: str) -> str:
    found = browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''", css
    )
    return str(found or "")


def cell_counts(browser: webdriver.Chrome) -> dict[str, int]:
    counts = browser.execute_script(
        "const out = {}; document.querySelectorAll('td.cell').forEach("
        "c => out[c.dataset.cell] = Number(c.dataset.count)); return out"
    )
    return {str(cell): int(count) for cell, count in (counts or {}).items()}


def rows_of(browser: webdriver.Chrome, css: str, attribute: str) -> dict[str, str]:
    """data-ATTRIBUTE -> text of the rows matching `css`."""
    rows = browser.execute_script(
        "const out = {}; document.querySelectorAll(arguments[0]).forEach("
        "r => out[r.getAttribute(arguments[1])] = r.textContent); return out",
        css,
        attribute,
    )
    return {str(key): str(value) for key, value in (rows or {}).items()}


def failures_shown(browser: webdriver.Chrome) -> int:
    """Rejected attempts the failures table counts, over all its reasons."""
    rows = rows_of(browser, "#reasons tr[data-code]", "data-code")
    counted = browser.execute_script(
        "return [...document.querySelectorAll('#reasons tr[data-code] td.num')]"
        ".map(c => Number(c.textContent.replace(/,/g, '')))"
    )
    assert len(counted or []) == len(rows)
    return sum(counted or [])


def click(browser: webdriver.Chrome, css: str) -> str:
    """Click the first element matching `css` (as a person would); its text."""
    element = browser.find_element(By.CSS_SELECTOR, css)
    label = element.text
    element.click()
    return label


def shoot(browser: webdriver.Chrome, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SCREENSHOTS) / name))


def test_a_run_fills_its_page_live_and_the_page_shows_how_it_ended(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    # A model at 0.3 s per call that breaks a third of the items: failures to show, repairs.
    slow = Behaviour(delay_seconds=0.3, item_fault_rate=0.35, seed=5)
    with serve(OllamaHandler, slow) as (base_url, _):
        run = start_cli(
            "run",
            "--backend",
            "ollama",
            "--base-url",
            base_url,
            "--target",
            "40",
            "--batch-size",
            "4",
            "--concurrency",
            "2",
            "--db",
            db,
            "--out",
            "out",
            "--quiet",
            "--dashboard",
            "--dashboard-port",
            "0",
            cwd=tmp_path,
        )
        assert run.stderr is not None
        lines = [run.stderr.readline() for _ in range(2)]
        page = next(line.split()[1] for line in lines if line.startswith("dashboard:"))
        assert page.startswith("http://127.0.0.1:")

        browser.get(page)
        browser.execute_script("window.loadedOnce = 'yes'")  # a reload would clear it
        first = wait_for(lambda: text_of(browser, "#accepted"), what="the accepted count")
        empty_before = {cell for cell, count in cell_counts(browser).items() if count == 0}
        failed_before = failures_shown(browser)
        seen = {int(first)}
        while text_of(browser, "#status") != "complete":
            seen.add(int(text_of(browser, "#accepted") or 0))
            assert run.poll() is None or text_of(browser, "#status"), "the run ended unseen"
            time.sleep(0.1)
            if len(seen) > 100:
                break
        seen.add(int(text_of(browser, "#accepted")))
        shoot(browser, "dashboard-run.png")
        assert run.wait(timeout=120) == 0, run.stderr.read()

    assert browser.execute_script("return window.loadedOnce") == "yes"  # never reloaded
    assert max(seen) == 40 and len(seen) >= 3, seen  # the count rose step by step to the target
    filled = {cell for cell, count in cell_counts(browser).items() if count > 0}
    assert empty_before & filled, "no heatmap cell filled while the page watched"
    assert failures_shown(browser) > failed_before, "no new failure appeared"
    # The lanes of this process (concurrency + 1) made the calls, and hold nothing now.
    workers = rows_of(browser, "#workers tr[data-worker]", "data-worker")
    assert len(workers) == 3 and all("idle" in row for row in workers.values()), workers

    # The run's process (and the dashboard beside it) ended; `spectrumgen dashboard` serves the
    # ledger on. A failure reason opens its rejected items, whole, with their reasons.
    dashboard = make_dashboard(db, port=0)
    try:
        browser.get(f"{dashboard.start_beside()}{page[page.index('/runs/') :]}")
        code = wait_for(lambda: click(browser, "#reasons a.reason"), what="a reason to click")
        wait_for(
            lambda: browser.execute_script(
                "return document.querySelectorAll('#examples-rejected article .reasons li').length"
            ),
            what="the rejected items of a reason",
        )
        assert code in text_of(browser, ".filters")
        shoot(browser, "dashboard-failures.png")
    finally:
        dashboard.stop()


def test_two_workers_on_postgresql_both_show(
    browser: webdriver.Chrome, postgres_url: str, tmp_path: Path
) -> None:
    # The first four calls (two lanes of each worker) are held until all four are in flight:
    # the helper joins before the run can finish without it, however slow its start-up.
    together = Behaviour(delay_seconds=0.2, item_fault_rate=0.2, gather=4, seed=2)
    with serve(OllamaHandler, together) as (base_url, _):
        common = ["--db", postgres_url, "--quiet", "--base-url", base_url, "--concurrency", "1"]
        main = start_cli(
            "run", "--backend", "ollama", "--target", "100", "--out", "main", *common,
            cwd=tmp_path,
        )  # fmt: skip
        assert main.stderr is not None
        run_id = main.stderr.readline().split()[1].rstrip(":")
        helper = start_cli(
            "worker", "--run", run_id, "--name", "helper", "--out", "helper", *common,
            cwd=tmp_path,
        )  # fmt: skip
        dashboard = make_dashboard(postgres_url, port=0)
        try:
            url = dashboard.start_beside()
            browser.get(f"{url}/runs/{run_id}")
            wait_for(lambda: text_of(browser, "#status") == "complete", what="the run's end")
            assert main.wait(timeout=120) == 0 and helper.wait(timeout=120) == 0

            def both() -> dict[str, str]:
                rows = rows_of(browser, "#workers tr[data-worker]", "data-worker")
                names = {worker.split("/")[0] for worker in rows}
                return rows if {run_id, "helper"} <= names else {}

            rows = wait_for(both, what="both workers in the workers table")
            assert len(rows) == 4 and all("idle" in row for row in rows.values()), rows
            assert int(text_of(browser, "#accepted")) == 100
            shoot(browser, "dashboard-workers.png")
        finally:
            dashboard.stop()
            for process in (main, helper):
                if process.poll() is None:
                    process.kill()


def test_the_page_waits_for_a_missing_ledger_and_recovers(
    browser: webdriver.Chrome, tmp_path: Path
) -> None:
    path = tmp_path / "later.db"
    dashboard = make_dashboard(f"sqlite:///{path}", port=0)
    try:
        url = dashboard.start_beside()
        browser.get(url)
        shown = "const b = document.getElementById('banner'); return b.hidden ? '' : b.textContent"
        banner = wait_for(lambda: browser.execute_script(shown), what="the banner")
        assert "ledger" in banner and "retrying" in banner
        done = run_cli(
            "run", "--backend", "scripted", "--target", "8", "--db", f"sqlite:///{path}",
            "--out", "out", "--quiet", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        wait_for(lambda: rows_of(browser, "tr[data-run]", "data-run"), what="the run")
        assert not browser.execute_script(shown)  # the banner went away by itself
        shoot(browser, "dashboard-runs.png")

        # An unknown run: a clear 404 page.
        browser.get(f"{url}/runs/no-such-run")
        assert "404" in browser.find_element(By.TAG_NAME, "h1").text
        assert httpx.get(f"{url}/runs/no-such-run").status_code == 404
        assert httpx.get(f"{url}/api/runs/no-such-run").status_code == 404
    finally:
        dashboard.stop()


def test_the_dashboard_cannot_write_the_ledger(finished_ledger: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(finished_ledger, tmp_path / "ledger.db"))
    view = LedgerView(f"sqlite:///{path}")
    run_id = view.runs()[0]["run_id"]
    shown = view.run(run_id)
    assert shown is not None and shown["progress"]["accepted"] == 8
    # The model that answered, not the configured default the scripted backend ignores.
    assert shown["run"]["models"] == view.runs()[0]["models"] == ["scripted-v1"]
    with pytest.raises(OperationalError, match="readonly"), view.engine.begin() as db:
        db.execute(text("DELETE FROM examples"))
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM examples")).scalar_one() == 8


def test_run_dashboard_refuses_a_port_in_use_before_writing(tmp_path: Path) -> None:
    taken: Dashboard = make_dashboard(f"sqlite:///{tmp_path / 'other.db'}", port=0)
    url = taken.start_beside()
    try:
        port = url.rsplit(":", 1)[1]
        done = subprocess.run(
            [
                sys.executable, "-m", "spectrumgen", "run", "--backend", "scripted",
                "--target", "8", "--db", f"sqlite:///{tmp_path / 'ledger.db'}", "--out", "out",
                "--quiet",
                "--dashboard", "--dashboard-port", port,
            ],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines()[-1].startswith("spectrumgen: error: the dashboard")
        assert not (tmp_path / "ledger.db").exists()  # nothing was written
    finally:
        taken.stop()


def test_the_dashboard_command_serves_the_ledger_and_stops_on_sigterm(
    finished_ledger: Path, tmp_path: Path
) -> None:
    path = Path(shutil.copy(finished_ledger, tmp_path / "ledger.db"))
    (tmp_path / "prices.yaml").write_text("scripted-v1: [1.0, 2.0]\n")  # per 1M tokens
    served = start_cli(
        "dashboard", "--db", f"sqlite:///{path}", "--port", "0", "--prices", "prices.yaml",
        cwd=tmp_path,
    )  # fmt: skip
    assert served.stderr is not None
    try:
        line = served.stderr.readline()
        url = line.split(" at ")[1].split()[0].rstrip("/")
        runs = httpx.get(f"{url}/api/runs").json()["runs"]
        assert [run["accepted"] for run in runs] == [8]
        run = httpx.get(f"{url}/api/runs/{runs[0]['run_id']}").json()
        cost = run["cost"]
        prompt, completion = (
            cost["models"][0]["prompt_tokens"],
            cost["models"][0]["completion_tokens"],
        )
        assert cost["cost"] == pytest.approx((prompt * 1.0 + completion * 2.0) / 1e6, abs=1e-6)
    finally:
        served.terminate()
        assert served.wait(timeout=30) == 0


def test_a_worker_whose_leases_ran_out_shows_as_dead(finished_ledger: Path, tmp_path: Path) -> None:
    path = Path(shutil.copy(finished_ledger, tmp_path / "ledger.db"))
    view = LedgerView(f"sqlite:///{path}")
    run_id = view.runs()[0]["run_id"]
    engine = create_engine(f"sqlite:///{path}")
    claim = text(
        "INSERT INTO claims (run_id, scenario_id, worker, capacity_level, authenticity_target, "
        "complexity_type, expires_at) VALUES (:r, :s, :w, 'low', 'failed', 'baseline', :e)"
    )
    with engine.begin() as db:  # a worker killed mid-batch: its claims outlive it
        db.execute(claim, {"r": run_id, "s": "s90000", "w": "gone/0", "e": "2000-01-01 00:00:00"})
        db.execute(claim, {"r": run_id, "s": "s90001", "w": "busy/0", "e": "2999-01-01 00:00:00"})
    workers = {w["worker"]: w for w in view.run(run_id)["workers"]}  # type: ignore[index]
    assert workers["gone/0"]["state"] == "dead" and workers["gone/0"]["claims"] == 1
    assert workers["busy/0"]["state"] == "working"
    lanes = [w for name, w in workers.items() if name.startswith(f"{run_id}/")]  # the run's own
    assert lanes and all(w["state"] == "idle" for w in lanes)
    assert sum(w["calls"] for w in lanes) == view.run(run_id)["progress"]["calls"]  # type: ignore[index]


def test_the_dashboard_outlives_a_postgresql_restart(postgres_url: str, tmp_path: Path) -> None:
    done = run_cli(
        "run", "--backend", "scripted", "--target", "8", "--db", postgres_url, "--out", "out",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stderr.split()[1].rstrip(":")
    dashboard = make_dashboard(postgres_url, port=0)
    try:
        api = f"{dashboard.start_beside()}/api/runs/{run_id}"
        assert httpx.get(api).json()["progress"]["accepted"] == 8
        restart_postgres(postgres_url)  # every connection the dashboard held is dropped
        # The next update reconnects by itself: no restart of the dashboard, no error shown.
        assert httpx.get(api).json()["progress"]["accepted"] == 8
    finally:
        dashboard.stop()
