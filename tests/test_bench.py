"""The benchmark harness still runs (tiny sizes, one engine). Timings are not checked: only
that every section produced its table and the figures that are not timings hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import require

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.server]


def test_bench_quick_prints_every_table() -> None:
    """``python -m bench --quick`` starts its stack, measures each section and prints it."""
    for binary in ("wrk", "firefox-esr", "redis-server", "moto_server"):
        require(binary)
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--engines", "firefox",
         "--only", "hit,miss,readiness,stampede,scale,memory"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for title in ("Hit path", "Miss path", "Readiness", "Stampede", "Scale", "Memory"):
        assert f"### {title}" in out, out
    rows = {line.split("|")[1].strip(): line for line in out.splitlines() if line.startswith("|")}
    assert {"bare Flask route (baseline)", "ogshot, filesystem", "ogshot, S3 (moto)",
            "ogshot, S3 (moto), v= known (16 kept)"} <= set(rows)  # fmt: skip
    # Not timings: one origin load per uncached URL, every image stored, no server error,
    # on shared CPUs and pinned apart.
    for figure, value in (("page loads at the origin", "4"), ("images stored afterwards", "4"),
                          ("5xx or no answer (burst)", "0")):  # fmt: skip
        assert [cell.strip() for cell in rows[figure].split("|")[2:4]] == [value, value]


def test_templates_bench_reports_how_each_page_was_waited_for(tmp_path: Path) -> None:
    """``bench/templates.py DIR`` serves a static site and prints one row per page and
    engine: here a page whose timer fills it 300 ms after load, waited for until the change."""
    require("firefox-esr")
    (tmp_path / "index.html").write_text(
        "<!doctype html><title>t</title><p id=p>Loading</p><script>addEventListener('load',"
        " () => setTimeout(() => p.textContent = 'Scores', 300));</script>"
    )
    run = subprocess.run(
        [sys.executable, "bench/templates.py", "--engines", "firefox", "--runs", "1",
         str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    (row,) = [line for line in run.stdout.splitlines() if "index.html" in line]
    cells = [cell.strip() for cell in row.split("|")[1:-1]]
    assert cells[:4] == [f"{tmp_path.name}/index.html", "firefox", "ready", "changes to the page"]
