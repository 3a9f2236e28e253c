"""The report pages in a real browser with no network (issue 6, item 5): headless Chromium
(design.md section 9) opens each page from a file; every plotly figure must have drawn, the
console must show no error, nothing may be requested from the network, a package named
`<script>alert(1)</script>` must show as text and run nothing, and one whose name holds a
right-to-left override must show the override as `<U+202E>` (not read as `libexe.jpg`). A
screenshot of each page is kept under reports/screenshots/ (a CI artefact)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditlib.reports import ReportRun, new_run_dir, run_report
from tests.integration.conftest import require_tool
from tests.reports.fleet import (
    BIDI_LABEL_SHOWN,
    BIDI_PACKAGE,
    BIDI_PACKAGE_SHOWN,
    EVIL_PACKAGE,
    make_store,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "reports" / "screenshots"
REPORTS = ("compliance", "staleness", "explore")


def _chromium() -> Path:
    path = Path("/usr/bin/chromium")
    if path.exists():
        return path
    return require_tool("chromium", "apt-get install chromium (make test installs it as root)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium (a new profile), driven by Playwright, with no network at all."""
    executable = _chromium()
    playwright = pytest.importorskip("playwright.sync_api")
    profile = tempfile.mkdtemp(prefix="auditlib-chromium-")
    with playwright.sync_playwright() as p:
        # Playwright passes --user-data-dir itself for a persistent context.
        context = p.chromium.launch_persistent_context(
            profile, executable_path=str(executable), headless=True,
            viewport={"width": 1280, "height": 1000},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  # Every host resolves to nothing, through a proxy that is not there.
                  "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"],
        )
        try:
            yield context
        finally:
            context.close()
            shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ReportRun]:
    root = tmp_path_factory.mktemp("browser")
    store = make_store(root, snapshots=2)
    folder = new_run_dir(root / "reports")
    runs = {name: run_report(name, store=store, run_dir=folder) for name in REPORTS}
    for run in runs.values():
        assert run.ok, run.error
    return runs


@pytest.mark.parametrize("name", REPORTS)
def test_report_renders_offline(browser: Any, pages: dict[str, ReportRun], name: str) -> None:
    run = pages[name]
    page = browser.new_page()
    errors: list[str] = []
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
            else requests.append(r.url))

    def on_dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", on_dialog)
    page.goto(run.html.as_uri(), wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.plotly-graph-div')]"
        ".every(d => d.querySelector('.main-svg'))", timeout=30_000)
    # Hover text and labels are drawn too: move over every figure once.
    for div in page.query_selector_all(".plotly-graph-div"):
        div.hover()
    figures = page.eval_on_selector_all(".plotly-graph-div", "ds => ds.length")
    drawn = page.eval_on_selector_all(
        ".plotly-graph-div", "ds => ds.filter(d => d.querySelector('.main-svg')).length")
    assert figures == run.figures >= 2
    assert drawn == figures
    assert errors == []
    assert requests == []
    assert dialogs == []
    assert page.evaluate("() => window.__xss") is None
    text = page.inner_text("body")
    assert "SYNTHETIC DATA" in text
    assert not any(c in text for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                   "\u2069\u200e\u200f")  # no bidi control reaches what is drawn
    hover = " ".join(page.eval_on_selector_all(
        ".plotly-graph-div", "ds => ds.map(d => JSON.stringify(d.data || []))"))
    assert BIDI_PACKAGE not in hover  # labels and hover text hold the escape, not the override
    if name == "compliance":
        assert EVIL_PACKAGE in text  # shown as text, not run
        assert BIDI_PACKAGE_SHOWN in text and "libexe.jpg" not in text
        assert page.evaluate("() => document.querySelectorAll('script').length") == (
            1 + run.figures)  # plotly.js once, one per figure, none from the data
    if name == "explore":
        assert BIDI_LABEL_SHOWN in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()


def test_failed_report_page_renders(browser: Any, tmp_path: Path) -> None:
    store = make_store(tmp_path, images=2)
    run = run_report("compliance", store=store, run_dir=new_run_dir(tmp_path / "reports"),
                     parameters={"policy": str(tmp_path / "missing-policy.yaml")})
    assert not run.ok
    page = browser.new_page()
    page.goto(run.html.as_uri())
    text = page.inner_text("body")
    assert "REPORT INCOMPLETE" in text and "missing-policy.yaml" in text
    assert "SYNTHETIC DATA" in text
    page.close()



def test_run_against_a_real_engine_and_registry(
    browser: Any, engine_fleet: Any, registry_server: Any, tmp_path: Path,
) -> None:
    """`auditlib run` on the test engine (its fleet of real images and containers) and a real
    registry, scanners on PATH: real reports, every chart drawn, no SYNTHETIC banner."""
    from click.testing import CliRunner

    from auditlib.cli.main import main

    engine = engine_fleet.engine
    ref = f"{registry_server.host}/team/reportapp:1.0"
    engine.docker("tag", engine_fleet.refs["busybox"], ref)
    engine.docker("push", ref)
    store, out = tmp_path / "store", tmp_path / "reports"
    result = CliRunner().invoke(main, [
        "run", "--store", str(store), "--engine", engine.url,
        "--registry", f"{registry_server.host}/team/reportapp", "--out", str(out),
        "--fail-on", "never", "--quiet",
    ])
    assert result.exit_code == 0, result.output
    assert "collected 2 sources" in result.output and "scanned" in result.output
    (run,) = out.glob("run-*")
    for name in ("compliance", "staleness"):
        summary = json.loads((run / f"{name}.json").read_text())
        assert summary["status"] == "ok", summary["error"]
        assert summary["facts"]["is_synthetic"] is False
        assert summary["facts"]["collected"] >= len(engine_fleet.images)
        assert summary["facts"]["containers_running"] >= 1
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto((run / f"{name}.html").as_uri())
        page.wait_for_function(
            "() => [...document.querySelectorAll('.plotly-graph-div')]"
            ".every(d => d.querySelector('.main-svg'))", timeout=30_000)
        assert page.eval_on_selector_all(".plotly-graph-div", "ds => ds.length") == (
            summary["figures"])
        text = page.inner_text("body")
        assert "SYNTHETIC" not in text and "REPORT INCOMPLETE" not in text
        assert errors == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-real-engine.png"), full_page=True)
        page.close()
