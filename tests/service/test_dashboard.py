"""End-to-end: the real server (uvicorn on a free loopback port) driven by Debian's Chromium
through Playwright. Each page's main task is clicked through; screenshots go to test-artifacts/.
No request may leave the server (no CDN): every other URL is recorded and the test fails.

Skips when Chromium or Playwright is absent, unless SLUICE_REQUIRE_SERVICES=1 (then fails).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("SLUICE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REQUIRE = os.environ.get("SLUICE_REQUIRE_SERVICES") == "1"


def _skip_or_fail(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _skip_or_fail("the playwright Python package is not installed (pip install playwright)")
    from sluicegate.service.store import Store

    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp}/service.db"
    store = Store(url)
    keys = {
        role: store.add_user(f"e2e-{role}", role) for role in ("compliance", "auditor", "exporter")
    }
    port = _free_port()
    env = {
        **os.environ,
        "SLUICE_DATABASE_URL": url,
        "SLUICE_JOBS_DIR": str(tmp / "jobs"),
        "SLUICE_RATE_PER_SECOND": "1000",
        "SLUICE_RATE_BURST": "1000",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "sluicegate.service.app:app_from_env",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the service did not start")
            time.sleep(0.2)
        yield {"base": base, "keys": keys, "tmp": tmp}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, server: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    outside: list[str] = []

    def guard(route: Any) -> None:
        if route.request.url.startswith(server["base"]) or route.request.url.startswith(
            ("data:", "blob:")
        ):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert outside == [], f"requests left the server: {outside}"
    assert problems == [], f"browser errors (script, CSP): {problems}"


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def _login(page: Any, server: dict[str, Any], role: str) -> None:
    page.goto(server["base"] + "/")
    assert page.url.endswith("/login")
    page.get_by_label("API key").fill(server["keys"][role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(server["base"] + "/")


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)


def test_overview_map_and_timeline(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.keyboard.press("Tab")
    assert page.locator(":focus").text_content() == "Skip to content"
    page.wait_for_selector("#map .main-svg")
    page.wait_for_selector("#timeline .main-svg")
    page.get_by_label("Regime", exact=True).select_option("us-2025-01-13-ai-diffusion")
    page.get_by_role("button", name="Show map").click()
    expect(page.locator("#map-caption")).to_contain_text("tiers (green 1")
    assert page.locator("#regime-table tbody tr").count() >= 6
    page.get_by_text("The map as a table").click()
    expect(page.locator("#map-groups")).to_contain_text("Tier 3")
    _shot(page, "overview")


def test_decide_form_and_csv(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Decide").click()
    page.get_by_label("Destination (ISO code)").fill("CN")
    page.get_by_role("button", name="Decide", exact=True).click()
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert "LICENSE" in verdict.text_content()
    assert page.locator("#decision table tbody tr").count() > 3
    with page.expect_download() as single:
        page.get_by_role("link", name="Download as CSV").click()
    assert single.value.suggested_filename == "decision.csv"
    table = server["tmp"] / "orders.csv"
    table.write_text(
        "id,date,destination,chip,quantity\n"
        "a,2025-06-01,IN,nvidia-h100-sxm,10\n"
        "b,2025-06-01,CN,nvidia-h100-sxm,10\n"
        "c,2025-06-01,XX,nvidia-h100-sxm,10\n",
        encoding="utf-8",
    )
    page.get_by_label("CSV file").set_input_files(str(table))
    page.get_by_role("button", name="Decide table").click()
    page.locator("#csv-table").wait_for()
    assert page.locator("#csv-table tbody tr").count() == 3
    with page.expect_download() as download:
        page.get_by_role("link", name="Download decisions as CSV").click()
    path = download.value.path()
    assert Path(path).read_text(encoding="utf-8").splitlines()[0].startswith("id,")
    _shot(page, "decide")


def test_screening_search_and_chain(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Screening").click()
    page.get_by_label("Name", exact=True).fill("Huawei Technologies")
    page.get_by_label("Name", exact=True).press("Enter")
    page.locator("#screen-decision").wait_for()
    assert "block" in page.locator("#screen-decision").text_content()
    page.get_by_role("button", name="Ownership chain").first.click()
    page.locator("#party-card").wait_for()
    assert "Headquarters CN" in page.locator("#party-card").text_content()
    _shot(page, "screening")


def test_simulate_progress_result_and_report(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "compliance")
    page.get_by_role("link", name="Simulate").click()
    page.get_by_label("Scenario").select_option("tighter-h20-2024")
    page.get_by_label("Draws").fill("8")
    page.get_by_role("button", name="Run").click()
    page.locator("#sim-result").wait_for(state="visible", timeout=120_000)
    page.wait_for_selector("#lag-plot .main-svg")
    assert page.locator("#comparison-table tbody tr").count() >= 1
    assert page.locator("#sim-progress").get_attribute("value") == "1"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report (HTML)").click()
    assert "<html" in Path(download.value.path()).read_text(encoding="utf-8").lower()
    _shot(page, "simulate")


def test_auditor_sees_read_only_pages(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "auditor")
    page.get_by_role("link", name="Decide").click()
    assert page.get_by_role("button", name="Decide", exact=True).is_disabled()
    page.get_by_role("link", name="Simulate").click()
    assert page.get_by_role("button", name="Run").is_disabled()
    page.locator("#sim-jobs li").first.wait_for()
    _shot(page, "auditor-simulate")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(server["base"] + "/login")


def test_exporter_decides_but_cannot_simulate(page: Any, server: dict[str, Any]) -> None:
    _login(page, server, "exporter")
    page.get_by_role("link", name="Decide").click()
    page.get_by_role("button", name="Decide", exact=True).click()
    page.locator("#verdict").wait_for()
    page.get_by_role("link", name="Simulate").click()
    assert page.get_by_role("button", name="Run").is_disabled()
    assert page.locator("#sim-jobs").count() == 0
