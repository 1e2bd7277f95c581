"""The dashboard in a real browser: ``streamlit run`` on a loopback port, driven by Playwright
with Debian's Chromium (``apt-get install chromium``). Skipped when /usr/bin/chromium is missing.

Set ``ECG_SCREENSHOT_DIR`` to keep the screenshots (they are always written to the test's tmp_path).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[1]
APP = REPO / "dashboard" / "app.py"
DEMO = REPO / "data"
HOST = "127.0.0.1"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_S = 60
#: How far the page is scrolled down (px): the largest scrollTop of the page's scrolling elements.
SCROLLED = """() => Math.max(window.scrollY, ...Array.from(document.querySelectorAll(
    '[data-testid=stMain], [data-testid=stAppViewContainer], section.main')).map(e => e.scrollTop))"""
PAGE_S = 120

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.is_file(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"
    ),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = SERVER_START_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    raise RuntimeError(
        f"streamlit did not answer on {url} within {timeout_s:.0f} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


@pytest.fixture()
def server(tmp_path: Path, tiny_bundle_path: Path):
    port = free_port()
    tmp = tmp_path / "tmp"  # the server's temporary directory: its upload folders go there
    tmp.mkdir()
    env = dict(
        os.environ,
        TMPDIR=str(tmp),
        ECG_BUNDLE=str(tiny_bundle_path),
        ECG_REVIEW_DB=str(tmp_path / "reviews.db"),
        ECG_TORCH_THREADS="1",
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    env.pop("ECG_DATA_DIR", None)
    log = tmp_path / "streamlit.log"
    # python -m puts the working directory (the repository) on sys.path, so the dashboard
    # package is found whether or not the project is installed
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        HOST,
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{HOST}:{port}"
    try:
        wait_healthy(url, proc, log)
        yield url
    finally:
        stop(proc)


@pytest.mark.timeout(300)
def test_dashboard_in_chromium_draws_flagged_beats(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shot = tmp_path / "dashboard.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2200})
            page.set_default_timeout(PAGE_S * 1000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server, wait_until="domcontentloaded")
            page.wait_for_selector("text=Choose a record in the sidebar")

            # choose demo record 208 in the sidebar's combobox
            page.locator("[data-testid=stSelectbox] input").first.click()
            page.locator("[role=option]", has_text="208:").first.click()
            page.wait_for_selector("h1:has-text('Record 208')")
            page.wait_for_selector(".js-plotly-plot")
            page.wait_for_function(
                "() => document.querySelectorAll('.js-plotly-plot').length >= 2", timeout=PAGE_S * 1000
            )

            # flagged-beat markers: marker traces (not the invisible click targets) with points,
            # counted on what Plotly computed for drawing (calcdata) in overview and strip; legend-only
            # swatches (the AF shading's entry, x = [None]) are not beats
            js = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).slice(0, 2).map(g =>
                (g._fullData || []).reduce((n, tr, i) => n + ((tr.mode === 'markers' && tr.name !== 'click'
                    && tr.visible !== false && g.calcdata && g.calcdata[i]
                    && Array.from(tr.x || []).some(v => v !== null)) ? g.calcdata[i].length : 0), 0))"""
            page.wait_for_function(f"() => ({js})().every(n => n > 0)", timeout=PAGE_S * 1000)
            overview_markers, strip_markers = page.evaluate(js)
            drawn = page.locator(".js-plotly-plot path.point").count()
            metric = page.locator("[data-testid=stMetric]", has_text="Flagged beats").inner_text()
            time.sleep(1.0)  # let the last figures finish their transitions
            page.screenshot(path=str(shot))

            # a record change scrolls the page back to its top
            page.mouse.move(800, 900)
            page.mouse.wheel(0, 3000)
            page.wait_for_function(f"() => ({SCROLLED})() > 0")
            page.locator("[data-testid=stSelectbox] input").first.click()
            page.locator("[role=option]", has_text="119:").first.click()
            page.wait_for_selector("h1:has-text('Record 119')")
            page.wait_for_function(f"() => ({SCROLLED})() === 0", timeout=PAGE_S * 1000)
        finally:
            browser.close()

    assert shot.is_file() and shot.stat().st_size > 10_000
    if os.environ.get("ECG_SCREENSHOT_DIR"):
        out = Path(os.environ["ECG_SCREENSHOT_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, out / shot.name)
    assert overview_markers > 0 and strip_markers > 0, (overview_markers, strip_markers)
    assert drawn > overview_markers
    n_flagged = int(re.findall(r"\d[\d,]*", metric)[-1].replace(",", ""))
    assert n_flagged > 0 and overview_markers <= n_flagged
    assert not errors, errors


def keep_screenshot(shot: Path) -> None:
    if os.environ.get("ECG_SCREENSHOT_DIR"):
        out = Path(os.environ["ECG_SCREENSHOT_DIR"])
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, out / shot.name)


def open_browser(p):
    return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=60_000)


def upload_dirs(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("ecg-upload-*"))


@pytest.mark.timeout(300)
def test_uploaded_files_are_deleted_when_the_session_ends(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = open_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(PAGE_S * 1000)
            page.goto(server, wait_until="domcontentloaded")
            page.wait_for_selector("text=Choose a record in the sidebar")
            page.get_by_text("Upload WFDB files").click()
            page.locator("input[type=file]").set_input_files([str(DEMO / f"100.{e}") for e in ("hea", "dat", "atr")])
            page.wait_for_selector("h1:has-text('Record 100')")
            saved = upload_dirs(tmp_path)
            assert len(saved) == 1 and sorted(f.name for f in saved[0].iterdir()) == ["100.atr", "100.dat", "100.hea"]
            page.close()  # the tab closes: the session ends
            deadline = time.monotonic() + 30
            while saved[0].exists() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            browser.close()
    assert not saved[0].exists(), "the upload folder outlived its session"


@pytest.mark.timeout(400)
def test_family_relabel_and_undo_in_chromium(server: str, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from ecg.review.store import ReviewStore, record_review_key

    shots = [tmp_path / "families.png", tmp_path / "families_decided.png"]
    with sync_api.sync_playwright() as p:
        browser = open_browser(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.set_default_timeout(PAGE_S * 1000)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server, wait_until="domcontentloaded")
            page.wait_for_selector("text=Choose a record in the sidebar")
            name = page.get_by_label("Reviewer name (required)")
            name.fill("Dr Browser")
            name.press("Enter")
            page.locator("[data-testid=stSelectbox] input").first.click()
            page.locator("[role=option]", has_text="208:").first.click()
            page.wait_for_selector("h1:has-text('Record 208')")
            page.get_by_role("tab", name="Families").click()
            form = page.locator("[data-testid=stForm]", has_text="Decide family")
            form.wait_for()
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('.js-plotly-plot')).some(g => "
                "(g._fullData || []).some(t => (t.name || '').startsWith('family 0 mean')))"
            )
            n_tiles = page.evaluate(
                "() => Math.max(...Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => "
                "(g._fullData || []).filter(t => (t.name || '').endsWith(' mean')).length))"
            )
            form.scroll_into_view_if_needed()
            time.sleep(1.0)
            page.screenshot(path=str(shots[0]), full_page=True)

            form.get_by_text("Relabel every beat as...").click()
            form.locator("[data-testid=stSelectbox] input").click()
            page.locator("[role=option]").filter(has_text=re.compile(r"^S$")).first.click()
            form.get_by_role("button", name=re.compile("Apply to all")).click()
            page.wait_for_selector("text=Saved family action")
            time.sleep(1.0)
            page.screenshot(path=str(shots[1]), full_page=True)
            page.get_by_text(re.compile(r"relabelled → S by Dr Browser")).wait_for()
            with ReviewStore(tmp_path / "reviews.db") as store:
                bulk = store.bulk_actions(record_review_key(DEMO / "208"))
            page.get_by_role("button", name="Undo").first.click()
            page.wait_for_selector("text=undone")
        finally:
            browser.close()
    for shot in shots:
        assert shot.is_file() and shot.stat().st_size > 10_000
        keep_screenshot(shot)
    assert n_tiles > 1
    assert len(bulk) == 1 and bulk["new_label"].iloc[0] == "S" and bulk["reviewer"].iloc[0] == "Dr Browser"
    with ReviewStore(tmp_path / "reviews.db") as store:
        after = store.bulk_actions()
    assert after["undone_by"].iloc[0] == "Dr Browser"
    assert not errors, errors
